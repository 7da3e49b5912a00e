"""The default embedder's throughput and memory on real documentation chunks.

The Python 3.11 docs (Debian `python3.11-doc`) are extracted and chunked exactly as a crawl
does (`extract_page`, `chunks_of_markdown`, `passage_text`); the first 500 pages give the chunk
count of a 500-page site. About `BENCH_EMBED_CHUNKS` of them (default 1000) are embedded as the
embedding job asks for them: batches of `SITECHAT_EMBEDDING_BATCH_SIZE` consecutive chunks (64,
from evenly spread places in the site) through `LocalEmbedder.embed`, the next batch handed over
before the previous one's vectors are back; once per thread setting. Reported: chunks per
second (wall), chunks per CPU-second (this process's CPU time, which sharing the machine
distorts less), the resulting time for the whole site, resident memory, and the load average,
since this machine is shared.

    make bench BENCH=embed
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import time
from pathlib import Path
from typing import Any

from sitechat.config import EmbeddingSettings
from sitechat.crawling.extract import extract_page
from sitechat.knowledge import minilm
from sitechat.knowledge.dense import passage_text
from sitechat.knowledge.writer import chunks_of_markdown

DOCS = Path("/usr/share/doc/python3.11/html")
SITE_PAGES = 500
SKIPPED = ("genindex", "py-modindex", "search.html", "_static", "_sources", "_images")


def _resident_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def site_passages() -> list[str]:
    pages = [
        path
        for path in sorted(DOCS.rglob("*.html"))
        if not any(part in str(path.relative_to(DOCS)) for part in SKIPPED)
    ][:SITE_PAGES]
    passages: list[str] = []
    for path in pages:
        page = extract_page(
            path.read_bytes(), "http://127.0.0.1/" + path.relative_to(DOCS).as_posix()
        )
        for chunk in chunks_of_markdown(page.markdown):
            passages.append(passage_text(page.title, chunk.heading, chunk.content))
    return passages


async def _embed(threads: int, batches: list[list[str]]) -> dict[str, float]:
    from sitechat.knowledge.embedders import LocalEmbedder

    embedder = LocalEmbedder(threads=threads)
    await embedder.embed(batches[0][:16])  # warm: the first runs allocate their buffers
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    # As `embed_missing_chunks` does: the next batch is asked for before this one's vectors.
    pending = asyncio.ensure_future(embedder.embed(batches[0]))
    for batch in batches[1:]:
        following = asyncio.ensure_future(embedder.embed(batch))
        await pending
        pending = following
    await pending
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    gc.collect()
    chunks = sum(map(len, batches))
    return {
        "threads": threads,
        "chunks_per_second": chunks / wall,
        "chunks_per_cpu_second": chunks / cpu,
        "load_average": load,
        "resident_mb": _resident_mb(),
    }


def main() -> dict[str, Any]:
    if not DOCS.is_dir():
        return {"table": "python3.11-doc is not installed (make bench-deps)"}
    started = time.perf_counter()
    passages = site_passages()
    prepare = time.perf_counter() - started
    batch_size = EmbeddingSettings().batch_size
    wanted = min(len(passages), int(os.environ.get("BENCH_EMBED_CHUNKS", "1000")))
    count = max(1, round(wanted / batch_size))
    step = len(passages) / count
    batches = [
        passages[int(index * step) : int(index * step) + batch_size] for index in range(count)
    ]
    sample = [text for batch in batches for text in batch]
    size = len(sample)
    tokenizer_lengths = [len(minilm.load(1)._tokenizer.encode(text).ids) for text in sample[:300]]
    baseline_mb = _resident_mb()
    runs = [asyncio.run(_embed(threads, batches)) for threads in (1, 2)]
    rows = [
        "| threads | chunks/s (wall) | chunks per CPU-s | 500-page site | load avg | RSS MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        site_seconds = len(passages) / run["chunks_per_second"]
        rows.append(
            f"| {run['threads']} | {run['chunks_per_second']:.1f} | "
            f"{run['chunks_per_cpu_second']:.1f} | {site_seconds:.0f} s | "
            f"{run['load_average']:.1f} | {run['resident_mb']} |"
        )
    summary = (
        f"{len(passages)} chunks from {SITE_PAGES} pages (extracted, chunked in {prepare:.0f} s), "
        f"{size} embedded per run ({count} batches of {batch_size} consecutive chunks); "
        f"{sum(map(len, sample)) / size:.0f} chars and "
        f"{sum(tokenizer_lengths) / len(tokenizer_lengths):.0f} tokens per chunk (cut at "
        f"{minilm.MAX_TOKENS}); RSS {baseline_mb} MB with the model loaded, peak "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB."
    )
    table = summary + "\n\n" + "\n".join(rows)
    print(table)
    return {"chunks": len(passages), "runs": runs, "table": table}


if __name__ == "__main__":
    main()
