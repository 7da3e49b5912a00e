"""Both documentation sites crawled through the real pipeline into one account.

A `sitechat serve` subprocess at default settings (its API, its in-process worker, the
crawler's default politeness) crawls each site, served from
memory on loopback by `bench/crawl/site.py`, into its own chatbot; then the bench waits until
the chatbot's vectors are complete when dense retrieval is on. Timings are split into the crawl
(POST to the job's end) and the vectors (job's end to the last chunk embedded).

`python -m bench.retrieval.ingest DATABASE_URL` ingests into an existing, migrated database and
prints the chatbot ids (for experiments that reuse one ingest).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.crawl.pipeline import (
    create_chatbot,
    docs_site,
    migrate,
    register_account,
    run_crawl,
    sitechat_server,
)
from sitechat.core.db import async_url
from sitechat.knowledge import vectors


@dataclass(frozen=True)
class Site:
    name: str
    root: Path
    start_page: str
    max_pages: int


REPOSITORY = Path(__file__).resolve().parents[2]
PYTHON = Site("python", Path("/usr/share/doc/python3.11/html"), "/index.html", 2000)
POSTGRES = Site("postgres", Path("/usr/share/doc/postgresql-doc-15/html"), "/index.html", 2000)
# Small sites (bench/sites/helpcenter, bikeshop, clinic, guesthouse, invoicing): how the
# product does on a few pages.
HELPCENTER = Site("helpcenter", REPOSITORY / "bench/sites/helpcenter", "/index.html", 200)
BIKESHOP = Site("bikeshop", REPOSITORY / "bench/sites/bikeshop", "/index.html", 200)
CLINIC = Site("clinic", REPOSITORY / "bench/sites/clinic", "/index.html", 200)
GUESTHOUSE = Site("guesthouse", REPOSITORY / "bench/sites/guesthouse", "/index.html", 200)
INVOICING = Site("invoicing", REPOSITORY / "bench/sites/invoicing", "/index.html", 200)
SITES = (PYTHON, POSTGRES, HELPCENTER, BIKESHOP, CLINIC, GUESTHOUSE, INVOICING)


def site_of(site_root: str) -> str:
    """The name of the site whose pages a question set names (its root, absolute or relative
    to the repository)."""
    root = Path(site_root)
    root = root if root.is_absolute() else REPOSITORY / root
    return next(site.name for site in SITES if site.root == root)


@dataclass(frozen=True)
class Ingested:
    site: str
    chatbot_id: str
    pages: int
    chunks: int
    crawl_seconds: float
    vectors_seconds: float | None  # from the crawl's end; None: not measured (no pgvector)


_BACKLOG = text(
    "SELECT count(*) FILTER (WHERE e.chunk_id IS NULL), count(*) FROM chunks AS c "
    "LEFT JOIN chunk_embeddings AS e ON e.chunk_id = c.id WHERE c.chatbot_id = :chatbot_id"
)
_CHUNKS = text("SELECT count(*) FROM chunks WHERE chatbot_id = :chatbot_id")


async def _backlog(engine: AsyncEngine, chatbot_id: str) -> tuple[int, int] | None:
    """(chunks without a vector, chunks), or None where the database has no vectors."""
    async with engine.connect() as connection:
        if not await vectors.table_exists(connection):
            return None
        row = (await connection.execute(_BACKLOG, {"chatbot_id": chatbot_id})).one()
        return int(row[0]), int(row[1])


async def chunk_count(engine: AsyncEngine, chatbot_id: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(_CHUNKS, {"chatbot_id": chatbot_id})).scalar_one())


async def wait_for_vectors(
    engine: AsyncEngine, chatbot_id: str, timeout: float = 1800.0
) -> float | None:
    """Seconds until every chunk of the chatbot has a vector; None without pgvector."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        backlog = await _backlog(engine, chatbot_id)
        if backlog is None:
            return None
        if backlog[0] == 0:
            return time.perf_counter() - started
        await asyncio.sleep(1.0)
    raise TimeoutError(f"vectors of {chatbot_id} not complete within {timeout} s")


def ingest_site(
    http: httpx.Client,
    headers: dict[str, str],
    site: Site,
    base_url: str,
    database_url: str,
    dense: bool,
) -> Ingested:
    """Crawl one site into a new chatbot, then (with `dense`) wait for its vectors."""
    chatbot_id = create_chatbot(http, headers, f"{site.name} docs")
    crawl = run_crawl(http, headers, chatbot_id, base_url + site.start_page, site.max_pages)

    async def settle() -> tuple[int, float | None]:
        engine = create_async_engine(async_url(database_url), pool_size=1)
        try:
            waited = await wait_for_vectors(engine, chatbot_id) if dense else None
            return await chunk_count(engine, chatbot_id), waited
        finally:
            await engine.dispose()

    chunks, vectors_seconds = asyncio.run(settle())
    return Ingested(
        site=site.name,
        chatbot_id=chatbot_id,
        pages=crawl.pages_indexed,
        chunks=chunks,
        crawl_seconds=crawl.seconds,
        vectors_seconds=vectors_seconds,
    )


@contextlib.contextmanager
def served_sites() -> Iterator[dict[str, str]]:
    with contextlib.ExitStack() as stack:
        yield {site.name: stack.enter_context(docs_site(site.root)) for site in SITES}


def ingest_all(database_url: str, dense: bool = True) -> list[Ingested]:
    """Every site, one after the other (a site's vectors complete before the next crawl)."""
    migrate(database_url)
    results = []
    with (
        served_sites() as bases,
        sitechat_server(database_url, crawl_concurrency=None) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        for site in SITES:
            ingested = ingest_site(http, headers, site, bases[site.name], database_url, dense)
            print(f"  {ingested}", flush=True)
            results.append(ingested)
    return results


if __name__ == "__main__":
    for item in ingest_all(sys.argv[1]):
        print(item.site, item.chatbot_id)
