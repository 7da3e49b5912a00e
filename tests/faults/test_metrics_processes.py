"""`/metrics` of `sitechat serve --workers 2` counts every request, whichever process answers.

Each API process kept its own counters and a scrape reached one of them: consecutive scrapes
reported different, partial totals. `serve` now gives the processes one folder for the run
(prometheus_client's multiprocess mode) and deletes it when it stops.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx

from tests.faults.conftest import Processes, base_env

REQUESTS = 60
SCRAPES = 8
# Unmatched paths: nothing else (the readiness poll, the start-up announcement) asks for them.
COUNTED = 'sitechat_http_requests_total{method="GET",route="<unmatched>",status="404"}'


def _sample(metrics: str, name: str) -> list[float]:
    pattern = re.compile(rf"^{re.escape(name)} (\S+)$", re.MULTILINE)
    return [float(value) for value in pattern.findall(metrics)]


async def _get_on_new_connections(base_url: str, paths: list[str]) -> list[httpx.Response]:
    async def get(path: str) -> httpx.Response:
        # A connection of its own: the kernel hands each one to either process.
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            return await http.get(path)

    return await asyncio.gather(*(get(path) for path in paths))


def test_every_scrape_counts_the_requests_of_both_processes(
    processes: Processes, database_url: str
) -> None:
    env = base_env(database_url, SITECHAT_LOG_LEVEL="INFO")
    api = processes.api(env, workers=2, serve=True)
    shared = api.log_lines_with("serve.metrics_shared")
    assert len(shared) == 1, api.log_tail()
    folder = Path(json.loads(shared[0])["directory"])
    assert folder.is_dir()

    paths = [f"/no-such-page-{number}" for number in range(REQUESTS)]
    answers = asyncio.run(_get_on_new_connections(api.base_url, paths))
    assert {answer.status_code for answer in answers} == {404}

    counted = []
    for _ in range(SCRAPES):
        scrape = httpx.get(f"{api.base_url}/metrics", timeout=10)  # a new connection each
        assert scrape.status_code == 200
        counted.append(_sample(scrape.text, COUNTED))
        # The queue's gauges are read from the database: one series, no per-process copies.
        assert len(_sample(scrape.text, "sitechat_workers_alive")) == 1
    assert counted == [[float(REQUESTS)]] * SCRAPES
    assert len(list(folder.glob("counter_*.db"))) == 2  # both processes counted

    assert api.stop() == 0
    assert not folder.exists()
