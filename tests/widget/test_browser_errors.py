"""What a visitor sees when asking fails: friendly words, no typing dots left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import BrowserContext, Page, expect

from tests.chat.conftest import ChatCompletionsServer
from tests.security.conftest import LiveServer
from tests.widget.conftest import HostSite, serve_host, start_api
from tests.widget.helpers import ask, hook, open_widget, public_bot, spend_message_quota

FREE_PLAN_MESSAGES = 100


async def send(page: Page, question: str) -> None:
    await hook(page, "input").fill(question)
    await hook(page, "send").click()


async def assert_no_typing_dots(page: Page) -> None:
    await expect(page.locator(".typing")).to_have_count(0)
    await expect(page.locator('[aria-busy="true"]')).to_have_count(0)


class TestFriendlyErrors:
    async def test_spent_message_quota_402(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await spend_message_quota(app, bot.account.workspace_id, FREE_PLAN_MESSAGES)
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        await send(page, "How do I create a virtual environment?")

        await expect(page.get_by_role("alert")).to_contain_text(
            "This chat has reached its message limit for now."
        )
        await assert_no_typing_dots(page)
        await expect(hook(page, "message-user")).to_have_count(1)  # the question stays

    async def test_network_loss_then_recovery(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        browser_context: BrowserContext,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        await browser_context.set_offline(True)

        await send(page, "How do I create a virtual environment?")

        await expect(page.get_by_role("alert")).to_contain_text("You're offline.")
        await assert_no_typing_dots(page)
        await browser_context.set_offline(False)
        await expect(page.get_by_role("alert")).to_be_hidden()
        # Until its `done` (not its first words) the server is still storing the answer: ending
        # the test on the words raced that transaction with the database cleanup after the test
        # (a deadlock with its TRUNCATE, seen under load).
        answer = await ask(page, "How do I create a virtual environment?")
        await expect(answer).to_contain_text("Use python -m venv")
        await expect(hook(page, "message-assistant")).to_have_count(1)  # the failed one is gone

    async def test_the_refusal_does_not_cover_the_latest_message(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        browser_context: BrowserContext,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = [f"Step {n}: do the next thing.\n\n" for n in range(20)]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        await ask(page, "How do I create a virtual environment?")  # the conversation scrolls
        await browser_context.set_offline(True)

        await send(page, "And how do I activate it?")

        await expect(page.get_by_role("alert")).to_contain_text("You're offline.")
        await assert_no_typing_dots(page)
        # The message bar took its height from the conversation, which kept its scroll position:
        # the question just asked was half hidden behind the bar.
        question = await hook(page, "message-user").last.bounding_box()
        conversation = await page.get_by_role("log").bounding_box()
        assert question is not None and conversation is not None
        assert question["y"] + question["height"] <= conversation["y"] + conversation["height"]

    async def test_an_answer_failing_on_the_server(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.fail_status = 500
        llm_server.behaviour.fail_times = 100
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        await send(page, "How do I create a virtual environment?")

        await expect(page.get_by_role("alert")).to_contain_text("Sorry, something went wrong")
        await assert_no_typing_dots(page)
        await expect(hook(page, "send")).to_be_disabled()  # until something is typed
        await hook(page, "input").fill("again?")
        await expect(hook(page, "send")).to_be_enabled()


# Three requests a minute from one address: the settings, the new conversation and the
# question's CORS preflight fit; the question itself is the fourth.
TIGHT_LIMIT = "3/minute"


@pytest.fixture(scope="module")
def tight_api(
    database_url: str,
    chat_completions_server: ChatCompletionsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    yield from start_api(
        database_url,
        chat_completions_server,
        Path(tmp_path_factory.mktemp("tight-api")),
        SITECHAT_RATELIMIT_PUBLIC_WIDGET=TIGHT_LIMIT,
    )


@pytest.fixture(scope="module")
def tight_host(tight_api: LiveServer) -> Iterator[HostSite]:
    yield from serve_host(tight_api.base_url, "widget-tight-host")


class TestRateLimited:
    async def test_429_says_how_long_to_wait_and_holds_the_send_button(
        self, app: FastAPI, client: httpx.AsyncClient, tight_host: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, tight_host.origin)
        await open_widget(page, tight_host.page_url(bot.chatbot.id))

        await send(page, "How do I create a virtual environment?")

        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("You're sending messages too quickly. Please wait")
        text = await alert.inner_text()
        seconds = int(text.split("Please wait ")[1].split(" ")[0])
        assert 1 <= seconds <= 120
        await assert_no_typing_dots(page)
        await hook(page, "input").fill("again?")
        await expect(hook(page, "send")).to_be_disabled()
