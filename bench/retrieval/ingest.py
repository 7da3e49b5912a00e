"""Both documentation sites crawled through the real pipeline into one account.

A `sitechat serve` subprocess (its API and in-process worker) crawls each site, served from
memory on loopback by `bench/crawl/site.py`, into its own chatbot; then the bench waits until
the chatbot's vectors are complete when dense retrieval is on. Timings are split into the crawl
(POST to the job's end) and the vectors (job's end to the last chunk embedded).

`python -m bench.retrieval.ingest DATABASE_URL` ingests into an existing, migrated database and
prints the chatbot ids (for experiments that reuse one ingest).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.crawl.pipeline import (
    create_chatbot,
    docs_site,
    migrate,
    register_account,
    run_crawl,
    sitechat_server,
)


@dataclass(frozen=True)
class Site:
    name: str
    root: Path
    start_page: str
    max_pages: int


PYTHON = Site("python", Path("/usr/share/doc/python3.11/html"), "/index.html", 2000)
POSTGRES = Site("postgres", Path("/usr/share/doc/postgresql-doc-15/html"), "/index.html", 2000)
SITES = (PYTHON, POSTGRES)


@dataclass(frozen=True)
class Ingested:
    site: str
    chatbot_id: str
    pages: int
    chunks: int
    crawl_seconds: float
    vectors_seconds: float | None  # None: dense retrieval is off on this server


def chatbot_state(
    http: httpx.Client, headers: dict[str, str], chatbot_id: str
) -> dict[str, object]:
    response = http.get(f"/v1/chatbots/{chatbot_id}", headers=headers)
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


def wait_for_vectors(
    http: httpx.Client, headers: dict[str, str], chatbot_id: str, timeout: float = 1800.0
) -> float | None:
    """Seconds until the chatbot reports every chunk embedded; None when it reports no
    indexing progress (dense retrieval off)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        indexing = chatbot_state(http, headers, chatbot_id).get("indexing")
        if not isinstance(indexing, dict) or not indexing.get("dense"):
            return None
        if indexing.get("chunks_embedded") == indexing.get("chunks"):
            return time.perf_counter() - started
        time.sleep(0.5)
    raise TimeoutError(f"vectors of {chatbot_id} not complete within {timeout} s")


def ingest_site(http: httpx.Client, headers: dict[str, str], site: Site, base_url: str) -> Ingested:
    chatbot_id = create_chatbot(http, headers, f"{site.name} docs")
    crawl = run_crawl(http, headers, chatbot_id, base_url + site.start_page, site.max_pages)
    vectors = wait_for_vectors(http, headers, chatbot_id)
    indexing = chatbot_state(http, headers, chatbot_id).get("indexing")
    chunks = indexing.get("chunks", 0) if isinstance(indexing, dict) else 0
    return Ingested(
        site=site.name,
        chatbot_id=chatbot_id,
        pages=crawl.pages_indexed,
        chunks=int(chunks) if isinstance(chunks, int) else 0,
        crawl_seconds=crawl.seconds,
        vectors_seconds=vectors,
    )


@contextlib.contextmanager
def served_sites() -> Iterator[dict[str, str]]:
    with docs_site(PYTHON.root) as python, docs_site(POSTGRES.root) as postgres:
        yield {PYTHON.name: python, POSTGRES.name: postgres}


def ingest_all(database_url: str) -> list[Ingested]:
    migrate(database_url)
    results = []
    with (
        served_sites() as bases,
        sitechat_server(database_url) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        for site in SITES:
            ingested = ingest_site(http, headers, site, bases[site.name])
            print(f"  {ingested}", flush=True)
            results.append(ingested)
    return results


if __name__ == "__main__":
    for item in ingest_all(sys.argv[1]):
        print(item.site, item.chatbot_id)
