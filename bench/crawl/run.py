"""bench/crawl: SiteChat's full ingestion of a real docs site against Scrapy fetching it.

The site is Debian's python3.11-doc HTML (~530 pages), served from memory on loopback (see
`site.py`; its capacity is measured first so it is known not to be the bound). In one run,
interleaved, twice each (the median is reported):

- SiteChat: a `sitechat serve` subprocess with its in-process worker; a crawl is started through
  the HTTP API and timed from the POST to the job's terminal status: fetch + extract + chunk +
  index, committed page by page. Pages/s = pages indexed / seconds; peak RSS of the server.
- Scrapy: fetch and follow links only, robots.txt obeyed, the same concurrency (8), no delay.

Target: SiteChat's pages/s >= Scrapy's, with the server's peak memory under 500 MB.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import bench_database
from bench.crawl.pipeline import (
    DOCS_ROOT,
    ROOT,
    create_chatbot,
    docs_site,
    migrate,
    peak_rss_mb,
    register_account,
    run_crawl,
    sitechat_server,
)

CONCURRENCY = 8
MAX_PAGES = 1000
RUNS = 2
MEMORY_TARGET_MB = 500


@dataclass(frozen=True)
class CrawlRun:
    pages: int
    seconds: float
    peak_rss_mb: float | None = None

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


def sitechat_run(database_url: str, site: str) -> CrawlRun:
    with (
        sitechat_server(database_url) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        chatbot_id = create_chatbot(http, headers, "Python docs")
        outcome = run_crawl(http, headers, chatbot_id, site + "/index.html", MAX_PAGES)
        if outcome.status != "completed":
            raise RuntimeError(f"SiteChat crawl ended {outcome.status}: {outcome}")
        return CrawlRun(outcome.pages_indexed, outcome.seconds, peak_rss_mb(server.pid))


def default_settings_run(database_url: str, site: str) -> CrawlRun:
    """A new customer's crawl: the crawler's default politeness, no setting touched."""
    with (
        sitechat_server(database_url, crawl_concurrency=None) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        chatbot_id = create_chatbot(http, headers, "Python docs, defaults")
        outcome = run_crawl(http, headers, chatbot_id, site + "/index.html", MAX_PAGES)
        if outcome.status != "completed":
            raise RuntimeError(f"SiteChat crawl ended {outcome.status}: {outcome}")
        return CrawlRun(outcome.pages_fetched, outcome.seconds)


def scrapy_run(site: str) -> CrawlRun:
    command = [sys.executable, "-m", "bench.crawl.scrapy_crawl", site + "/index.html"]
    output = subprocess.run(
        [*command, str(CONCURRENCY), str(MAX_PAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return CrawlRun(int(result["pages"]), float(result["seconds"]))


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
    return CrawlRun(pages=pages, seconds=pages / middle, peak_rss_mb=max(peaks) if peaks else None)


def report(
    sitechat: list[CrawlRun],
    scrapy: list[CrawlRun],
    capacity: float | None,
    defaults: CrawlRun | None = None,
) -> tuple[str, dict[str, object]]:
    ours, theirs = median_run(sitechat), median_run(scrapy)
    ratio = ours.pages_per_second / theirs.pages_per_second
    peak = ours.peak_rss_mb or 0.0
    lines = [
        "| crawler | pages | seconds | pages/s | peak RSS MB | ratio |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| SiteChat (fetch + extract + chunk + index) | {ours.pages} | {ours.seconds:.1f} | "
        f"{ours.pages_per_second:.1f} | {peak:.0f} | {ratio:.2f} of Scrapy (target >= 1.0) |",
        f"| Scrapy (fetch + follow links only) | {theirs.pages} | {theirs.seconds:.1f} | "
        f"{theirs.pages_per_second:.1f} | | |",
    ]
    if defaults is not None:
        lines.append(
            f"| SiteChat at default settings (adaptive politeness) | {defaults.pages} fetched | "
            f"{defaults.seconds:.1f} | {defaults.pages_per_second:.1f} | | target <= 60 s |"
        )
    runs = ", ".join(f"{run.pages_per_second:.1f}" for run in sitechat)
    scrapy_runs = ", ".join(f"{run.pages_per_second:.1f}" for run in scrapy)
    lines.append("")
    lines.append(
        f"Median of {RUNS} interleaved runs (SiteChat pages/s: {runs}; Scrapy: {scrapy_runs}); "
        f"concurrency {CONCURRENCY}; peak memory target < {MEMORY_TARGET_MB} MB"
        + (f"; the site server alone serves {capacity:,.0f} req/s." if capacity else ".")
    )
    data: dict[str, object] = {
        "sitechat_pages_per_second": ours.pages_per_second,
        "scrapy_pages_per_second": theirs.pages_per_second,
        "ratio": ratio,
        "sitechat_peak_rss_mb": peak,
        "site_requests_per_second": capacity,
        "default_settings_seconds": defaults.seconds if defaults else None,
        "runs": {
            "sitechat": [run.__dict__ for run in sitechat],
            "scrapy": [run.__dict__ for run in scrapy],
        },
    }
    return "\n".join(lines), data


def main() -> dict[str, object]:
    if not DOCS_ROOT.is_dir():
        raise SystemExit("bench/crawl needs python3.11-doc: apt-get install python3.11-doc")
    sitechat: list[CrawlRun] = []
    scrapy: list[CrawlRun] = []
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_crawl") as database_url,
        docs_site() as site,
    ):
        migrate(database_url)
        capacity = site_capacity(site)
        defaults = default_settings_run(database_url, site)
        print(f"  SiteChat at default settings: {defaults}", flush=True)
        for _ in range(RUNS):
            sitechat.append(sitechat_run(database_url, site))
            print(f"  SiteChat: {sitechat[-1]}", flush=True)
            scrapy.append(scrapy_run(site))
            print(f"  Scrapy: {scrapy[-1]}", flush=True)
    table, data = report(sitechat, scrapy, capacity, defaults)
    print(table)
    return {"table": table, "results": data}


if __name__ == "__main__":
    main()
