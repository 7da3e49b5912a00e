"""SIGTERM to `sitechat serve`: requests in flight finish, running jobs go back to the queue,
the embedded PostgreSQL stops cleanly and the next start finds everything where it was."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from tests.chat.conftest import ChatCompletionsServer
from tests.crawling.conftest import LocalSite
from tests.faults.conftest import Processes, base_env, eventually, pages_site, set_page_delay
from tests.faults.flows import (
    add_text_source,
    ask,
    crawl_page_urls,
    create_chatbot,
    get_crawl,
    start_conversation,
    start_crawl,
    wait_for_crawl,
)
from tests.fixtures.accounts import log_in, register

SITE_PAGES = 40
# One page at a time, half a second each: the crawl outlasts the shutdown grace period.
SLOW_PAGE_SECONDS = 0.5
LLM_DELAY_SECONDS = 2.0
SHUTDOWN_GRACE_SECONDS = 3
EXIT_TIMEOUT_SECONDS = SHUTDOWN_GRACE_SECONDS + LLM_DELAY_SECONDS + 10


async def test_sigterm_finishes_requests_requeues_jobs_and_keeps_the_data(
    processes: Processes, site: LocalSite, llm_server: ChatCompletionsServer
) -> None:
    """`sitechat serve` (embedded PostgreSQL, in-process worker, an OpenAI-compatible model
    that takes 2 s) gets SIGTERM while a chat answer is being produced and a crawl is running.
    Must hold: the answer arrives complete (201); the process exits on its own with the
    embedded database stopped (no postmaster.pid left); the interrupted crawl was put back in
    the queue, so a second start on the same data directory finishes it (attempt 2, every URL
    once); the user registered in the first run logs in in the second."""
    paths = pages_site(site, SITE_PAGES, delay_seconds=SLOW_PAGE_SECONDS)
    llm_server.behaviour.response_delay_seconds = LLM_DELAY_SECONDS
    with tempfile.TemporaryDirectory(prefix="sitechat-serve-") as data_dir:
        env = base_env(
            None,
            SITECHAT_DATA_DIR=data_dir,
            SITECHAT_WORKER_IN_PROCESS="true",
            SITECHAT_WORKER_SHUTDOWN_GRACE_SECONDS=str(SHUTDOWN_GRACE_SECONDS),
            SITECHAT_CRAWL_PER_HOST_CONCURRENCY="1",
            SITECHAT_LLM_ANSWERER="openai",
            SITECHAT_LLM_BASE_URL=llm_server.base_url,
            SITECHAT_LLM_API_KEY="sk-test",
            SITECHAT_LLM_TIMEOUT_SECONDS="10",
        )
        first = processes.api(env, serve=True)
        async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as http:
            crawler = await register(http)
            crawl_chatbot = await create_chatbot(http, crawler)
            crawl_id = await start_crawl(http, crawler, crawl_chatbot, site.url("/"))
            asker = await register(http)
            chat_chatbot = await create_chatbot(http, asker)
            await add_text_source(http, asker, chat_chatbot)
            conversation_id = await start_conversation(http, asker, chat_chatbot)

            async def crawl_running() -> bool:
                crawl = await get_crawl(http, crawler, crawl_id)
                return bool(crawl["status"] == "running" and crawl["pages_indexed"] >= 2)

            await eventually(crawl_running, seconds=15, what="the crawl to be running")
            answer = asyncio.create_task(ask(http, asker, conversation_id, "When do you open?"))

            async def model_asked() -> bool:
                return len(llm_server.requests) == 1

            await eventually(model_asked, seconds=10, what="the model to be asked")
            first.signal(signal.SIGTERM)
            answered = await answer

        assert answered.status_code == 201, answered.text
        assert answered.json()["content"] == "Hello there."
        exit_code = first.wait(timeout=EXIT_TIMEOUT_SECONDS)
        assert exit_code in (0, 128 + signal.SIGTERM), first.log_tail()
        assert not (Path(data_dir) / "postgres" / "postmaster.pid").exists(), first.log_tail()

        set_page_delay(site, 0)
        second = processes.api(env, serve=True)
        async with httpx.AsyncClient(base_url=second.base_url, timeout=15) as http:
            await log_in(http, crawler.email, crawler.password)
            crawl = await wait_for_crawl(http, crawler, crawl_id, seconds=20)
            urls = await crawl_page_urls(http, crawler, crawl_id)
        second.stop()

    assert crawl["status"] == "completed", crawl
    assert crawl["attempts"] == 2
    assert crawl["pages_indexed"] == len(paths)
    assert sorted(urls) == sorted(site.url(path) for path in paths)
    assert [url for url, seen in Counter(urls).items() if seen > 1] == []
