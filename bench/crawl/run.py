"""bench/crawl: SiteChat's full ingestion of a real docs site against Scrapy fetching it.

The site is Debian's python3.11-doc HTML (~530 pages), served by nginx on loopback (else from
memory by `site.py`); its capacity is measured first so it is known not to be the bound. In one
run, interleaved, twice each (the median is reported):

- SiteChat: a `sitechat serve` subprocess with its in-process worker; a crawl is started through
  the HTTP API and timed from the POST to the job's terminal status: fetch + extract + chunk +
  index, committed page by page, 8 connections. Pages/s = pages fetched and processed / seconds
  (link-list pages are processed for their links, not indexed); peak RSS of the server.
- Scrapy, idiomatic and tuned (`scrapy_crawl.py`): fetch and follow links only, robots.txt
  obeyed, the same 8 connections, no delay, telnet console off.
- SiteChat at default settings, once: what a new customer's first crawl takes.
- File ingest pages/s and an unchanged scheduled re-sync against a full crawl (`sources.py`).

Targets: SiteChat >= idiomatic Scrapy's pages/s (spec) and >= 0.6 of tuned Scrapy's (issue 18);
the default-settings crawl <= 60 s; the server's peak memory under 500 MB.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import bench_database
from bench.crawl import sources as file_and_resync
from bench.crawl.nginx_site import nginx_available, nginx_site
from bench.crawl.pipeline import (
    DOCS_ROOT,
    ROOT,
    create_chatbot,
    docs_site,
    free_port,
    migrate,
    peak_rss_mb,
    register_account,
    run_crawl,
    sitechat_server,
    subprocess_server,
)

CONCURRENCY = 8
MAX_PAGES = 1000
RUNS = 2
MEMORY_TARGET_MB = 500
DEFAULTS_TARGET_SECONDS = 60
TUNED_TARGET = 0.6


@dataclass(frozen=True)
class CrawlRun:
    pages: int
    seconds: float
    peak_rss_mb: float | None = None
    indexed: int | None = None

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


def sitechat_run(database_url: str, site: str, concurrency: int | None = CONCURRENCY) -> CrawlRun:
    """One crawl through the API; `concurrency=None` keeps the default politeness settings."""
    with (
        sitechat_server(database_url, crawl_concurrency=concurrency) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        chatbot_id = create_chatbot(http, headers, "Python docs")
        outcome = run_crawl(http, headers, chatbot_id, site + "/index.html", MAX_PAGES)
        if outcome.status != "completed":
            raise RuntimeError(f"SiteChat crawl ended {outcome.status}: {outcome}")
        return CrawlRun(
            outcome.pages_fetched, outcome.seconds, peak_rss_mb(server.pid), outcome.pages_indexed
        )


def scrapy_run(site: str, variant: str) -> CrawlRun:
    command = [sys.executable, "-m", "bench.crawl.scrapy_crawl", site + "/index.html"]
    output = subprocess.run(
        [*command, str(CONCURRENCY), str(MAX_PAGES), variant],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return CrawlRun(int(result["pages"]), float(result["seconds"]))


@contextlib.contextmanager
def fast_site() -> Iterator[tuple[str, str]]:
    """(base URL, server name): nginx when installed, else the in-memory ASGI site."""
    if not nginx_available():
        with docs_site() as site:
            yield site, "in-memory uvicorn site"
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with nginx_site(DOCS_ROOT, port) as command, subprocess_server(command, base + "/index.html"):
        yield base, "nginx"


def site_capacity(site: str) -> float | None:
    """Requests/s the site server sustains on a typical page at the crawlers' concurrency."""
    if shutil.which("wrk") is None:
        return None
    output = subprocess.run(
        ["wrk", "-t", "1", "-c", str(CONCURRENCY), "-d", "2s", site + "/library/asyncio-task.html"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def median_run(runs: list[CrawlRun]) -> CrawlRun:
    """A run at the median rate (seconds scaled to it); memory is the worst run's peak."""
    middle = statistics.median(run.pages_per_second for run in runs)
    pages = statistics.median_low(run.pages for run in runs)
    peaks = [run.peak_rss_mb for run in runs if run.peak_rss_mb is not None]
    indexed = [run.indexed for run in runs if run.indexed is not None]
    return CrawlRun(
        pages=pages,
        seconds=pages / middle,
        peak_rss_mb=max(peaks) if peaks else None,
        indexed=statistics.median_low(indexed) if indexed else None,
    )


def report(
    runs: dict[str, list[CrawlRun]], defaults: CrawlRun, capacity: float | None, server: str
) -> tuple[str, dict[str, object]]:
    ours = median_run(runs["sitechat"])
    idiomatic, tuned = median_run(runs["idiomatic"]), median_run(runs["tuned"])
    vs_idiomatic = ours.pages_per_second / idiomatic.pages_per_second
    vs_tuned = ours.pages_per_second / tuned.pages_per_second
    peak = ours.peak_rss_mb or 0.0
    lines = [
        "| crawler (8 connections unless noted) | pages | s | pages/s | peak RSS MB | ratio |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| SiteChat (fetch + extract + chunk + index; {ours.indexed} indexed) | {ours.pages} | "
        f"{ours.seconds:.1f} | {ours.pages_per_second:.1f} | {peak:.0f} | "
        f"{vs_idiomatic:.2f} of idiomatic Scrapy (>= 1.0), {vs_tuned:.2f} of tuned (>= 0.6) |",
        f"| Scrapy idiomatic (fetch + follow links only) | {idiomatic.pages} | "
        f"{idiomatic.seconds:.1f} | {idiomatic.pages_per_second:.1f} | | |",
        f"| Scrapy tuned (selectolax links, own URL set) | {tuned.pages} | {tuned.seconds:.1f} | "
        f"{tuned.pages_per_second:.1f} | | |",
        f"| SiteChat at default settings (adaptive politeness, cap 4) | {defaults.pages} | "
        f"{defaults.seconds:.1f} | {defaults.pages_per_second:.1f} | | "
        f"target <= {DEFAULTS_TARGET_SECONDS} s |",
    ]
    per_run = "; ".join(
        f"{name} " + ", ".join(f"{run.pages_per_second:.1f}" for run in series)
        for name, series in runs.items()
    )
    lines.append("")
    lines.append(
        f"Median of {RUNS} interleaved runs (pages/s: {per_run}); site served by {server}"
        + (f", {capacity:,.0f} req/s alone" if capacity else "")
        + f"; peak memory target < {MEMORY_TARGET_MB} MB."
    )
    data: dict[str, object] = {
        "sitechat_pages_per_second": ours.pages_per_second,
        "scrapy_pages_per_second": idiomatic.pages_per_second,
        "scrapy_tuned_pages_per_second": tuned.pages_per_second,
        "ratio": vs_idiomatic,
        "ratio_tuned": vs_tuned,
        "default_settings_seconds": defaults.seconds,
        "sitechat_peak_rss_mb": peak,
        "site_server": server,
        "site_requests_per_second": capacity,
        "runs": {name: [run.__dict__ for run in series] for name, series in runs.items()},
    }
    return "\n".join(lines), data


def main() -> dict[str, object]:
    if not DOCS_ROOT.is_dir():
        raise SystemExit("bench/crawl needs python3.11-doc: apt-get install python3.11-doc")
    runs: dict[str, list[CrawlRun]] = {"sitechat": [], "idiomatic": [], "tuned": []}
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_crawl") as database_url,
        fast_site() as (site, server),
    ):
        migrate(database_url)
        capacity = site_capacity(site)
        defaults = sitechat_run(database_url, site, concurrency=None)
        print(f"  SiteChat at default settings: {defaults}", flush=True)
        files, synced = file_and_resync.measure(database_url, site)
        for _ in range(RUNS):
            runs["sitechat"].append(sitechat_run(database_url, site))
            print(f"  SiteChat: {runs['sitechat'][-1]}", flush=True)
            for variant in ("idiomatic", "tuned"):
                runs[variant].append(scrapy_run(site, variant))
                print(f"  Scrapy {variant}: {runs[variant][-1]}", flush=True)
    table, data = report(runs, defaults, capacity, server)
    sources_table, sources_data = file_and_resync.report(files, synced)
    table = f"{table}\n\n{sources_table}"
    data["sources"] = sources_data
    print(table)
    return {"table": table, "results": data}


if __name__ == "__main__":
    main()
