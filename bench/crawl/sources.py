"""bench/crawl additions for file sources and scheduled re-sync (issue 18).

- **File ingest**: a 300-page PDF and a 300-section Word file, made here with reportlab and
  python-docx, uploaded through the API to a `sitechat serve` subprocess; timed from the upload
  to the source's `ready` (parse in the child process + diff + chunk + index). Pages/s.
- **Unchanged re-sync**: the docs site is crawled in full through the API, then the source's
  schedule is made due and the real scheduler (`schedule_due_syncs`) queues the re-sync that the
  server's worker runs: requests made (the crawl's `pages_fetched`, each a 304) and seconds,
  against the full crawl's. Target: <= 10 % of the full crawl's time.

`python -m bench.crawl.sources` runs it alone; `bench.crawl.run` includes it.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import httpx
from reportlab.pdfgen import canvas
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.common import bench_database
from bench.crawl.pipeline import (
    POLL_SECONDS,
    create_chatbot,
    docs_site,
    migrate,
    register_account,
    run_crawl,
    sitechat_server,
)
from sitechat.billing.catalog import load_catalog
from sitechat.core.clock import utcnow
from sitechat.core.db import async_url
from sitechat.sources.scheduling import schedule_due_syncs

FILE_PAGES = 300
RESYNC_TARGET = 0.10
MAX_PAGES = 1000
TIMEOUT_SECONDS = 600.0
_WORDS = [
    "refund",
    "shipping",
    "invoice",
    "warranty",
    "account",
    "password",
    "delivery",
    "schedule",
    "holiday",
    "policy",
    "installation",
    "configuration",
    "network",
    "printer",
    "backup",
    "license",
    "upgrade",
    "support",
    "ticket",
]


def sample_pdf(pages: int) -> bytes:
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    for number in range(1, pages + 1):
        text = document.beginText(72, 760)
        for line in range(40):
            words = [_WORDS[(number * 7 + line * 3 + k) % len(_WORDS)] for k in range(12)]
            text.textLine(f"{number}.{line} " + " ".join(words))
        document.drawText(text)
        document.showPage()
    document.save()
    return buffer.getvalue()


def sample_docx(sections: int) -> bytes:
    document = docx.Document()
    for number in range(1, sections + 1):
        document.add_heading(f"Section {number}", level=1)
        for paragraph in range(6):
            words = [_WORDS[(number * 5 + paragraph + k) % len(_WORDS)] for k in range(60)]
            document.add_paragraph(" ".join(words))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class FileIngest:
    kind: str
    file_bytes: int
    pages: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


def wait_for_source(http: httpx.Client, headers: dict[str, str], path: str) -> dict[str, Any]:
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        source = http.get(path, headers=headers)
        source.raise_for_status()
        body: dict[str, Any] = source.json()
        if body["status"] in ("ready", "failed"):
            return body
        time.sleep(POLL_SECONDS)
    raise TimeoutError(path)


def ingest_file(
    http: httpx.Client, headers: dict[str, str], chatbot_id: str, name: str, data: bytes
) -> FileIngest:
    started = time.perf_counter()
    response = http.post(
        f"/v1/chatbots/{chatbot_id}/sources", files={"file": (name, data)}, headers=headers
    )
    response.raise_for_status()
    source = wait_for_source(
        http, headers, f"/v1/chatbots/{chatbot_id}/sources/{response.json()['id']}"
    )
    if source["status"] != "ready":
        raise RuntimeError(f"{name}: {source['error']}")
    return FileIngest(
        name.rsplit(".", 1)[1], len(data), source["pages"], time.perf_counter() - started
    )


@dataclass(frozen=True)
class Resync:
    full_seconds: float
    full_requests: int
    resync_seconds: float
    resync_requests: int
    unchanged: int
    reindexed: int


async def start_due_syncs(database_url: str, source_id: str) -> int:
    """Make the source due and run the real scheduler once (as the periodic task would)."""
    engine = create_async_engine(async_url(database_url))
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE sources SET sync_schedule = 'weekly', next_sync_at = now() "
                    "WHERE id = CAST(:id AS uuid)"
                ),
                {"id": source_id},
            )
        async with sessions() as session, session.begin():
            return await schedule_due_syncs(session, load_catalog(None), utcnow(), 10)
    finally:
        await engine.dispose()


def resync(http: httpx.Client, headers: dict[str, str], database_url: str, site: str) -> Resync:
    chatbot_id = create_chatbot(http, headers, "Re-synced docs")
    full = run_crawl(http, headers, chatbot_id, site + "/index.html", MAX_PAGES)
    sources = http.get(f"/v1/chatbots/{chatbot_id}/sources", headers=headers).json()["items"]
    source_id = sources[0]["id"]
    started = time.perf_counter()
    if asyncio.run(start_due_syncs(database_url, source_id)) != 1:
        raise RuntimeError("the scheduler did not start the re-sync")
    runs_path = f"/v1/chatbots/{chatbot_id}/sources/{source_id}/runs"
    deadline = started + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        latest = http.get(runs_path, headers=headers).json()["items"][0]
        if latest["trigger"] == "schedule" and latest["status"] in ("completed", "failed"):
            break
        time.sleep(POLL_SECONDS)
    else:
        raise TimeoutError("re-sync")
    seconds = time.perf_counter() - started
    return Resync(
        full_seconds=full.seconds,
        full_requests=full.pages_fetched,
        resync_seconds=seconds,
        resync_requests=int(latest["http_requests"]),
        unchanged=int(latest["pages_unchanged"]),
        reindexed=int(latest["pages_new"]) + int(latest["pages_changed"]),
    )


def measure(database_url: str, site: str) -> tuple[list[FileIngest], Resync]:
    with (
        sitechat_server(database_url) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        chatbot_id = create_chatbot(http, headers, "Files")
        files = [
            ingest_file(http, headers, chatbot_id, "handbook.pdf", sample_pdf(FILE_PAGES)),
            ingest_file(http, headers, chatbot_id, "guide.docx", sample_docx(FILE_PAGES)),
        ]
        return files, resync(http, headers, database_url, site)


def report(files: list[FileIngest], synced: Resync) -> tuple[str, dict[str, object]]:
    ratio = synced.resync_seconds / synced.full_seconds
    lines = [
        "| file source | bytes | pages | s | pages/s |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {item.kind} (upload to ready: parse + diff + chunk + index) | {item.file_bytes:,} "
            f"| {item.pages} | {item.seconds:.1f} | {item.pages_per_second:.1f} |"
            for item in files
        ),
        "",
        "| docs site, 8 connections | requests | s | ratio |",
        "| --- | ---: | ---: | --- |",
        f"| full crawl | {synced.full_requests} | {synced.full_seconds:.1f} | |",
        f"| scheduled re-sync, nothing changed ({synced.unchanged} unchanged, "
        f"{synced.reindexed} re-indexed) | {synced.resync_requests} | "
        f"{synced.resync_seconds:.1f} | {ratio:.2f} of the full crawl's time (<= "
        f"{RESYNC_TARGET:.2f}) |",
    ]
    data: dict[str, object] = {
        "file_ingest": [
            item.__dict__ | {"pages_per_second": item.pages_per_second} for item in files
        ],
        "resync": synced.__dict__ | {"ratio": ratio},
    }
    return "\n".join(lines), data


def main() -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_sources") as database_url,
        docs_site() as site,
    ):
        migrate(database_url)
        files, synced = measure(database_url, site)
    table, data = report(files, synced)
    print(table)
    return {"table": table, "results": data}


if __name__ == "__main__":
    main()
