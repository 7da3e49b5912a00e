"""What `/metrics` answers: this deployment's process counters, and the queue as read now.

Two parts, one exposition:

- **Process metrics** (requests, latencies, answers, crawled pages, billing events) are
  counted where they happen, in module-level prometheus_client metrics. With one API process
  they are that process's registry. `sitechat serve --workers N` (N > 1) runs N processes
  behind one port, and a scrape reaches one of them: each would report only its own share.
  There every process writes its samples to files in one folder (prometheus_client's
  multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`, which `serve` creates for the run and
  deletes after it) and a scrape adds up all the files. Counters and histograms sum; no
  metric here is a live gauge, so a process that dies needs no `mark_process_dead`.
- **Queue metrics** (`sitechat_jobs`, `sitechat_workers_alive`) are the database's state,
  the same whichever process answers: read at each scrape and written as a snapshot, never
  kept in a process (a label that vanished from the queue, such as a state no job is in any
  more, is then simply absent, in multiprocess mode too, where labels cannot be cleared).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from sitechat.ops.workers import read_worker_heartbeats

_JOBS_BY_TASK_AND_STATE = text(
    "SELECT task_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2"
)


@dataclass(frozen=True)
class QueueSnapshot(Collector):
    jobs: tuple[tuple[str, str, int], ...]
    workers_alive: int

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "sitechat_jobs", "Jobs in the queue by task and state", labels=["task", "state"]
        )
        for task, state, count in self.jobs:
            jobs.add_metric([task, state], count)
        yield jobs
        yield GaugeMetricFamily(
            "sitechat_workers_alive",
            "Job workers heard from within 3 heartbeat intervals (0: jobs wait in the queue)",
            value=self.workers_alive,
        )


async def read_queue_snapshot(
    connection: AsyncConnection, worker_stale_after_seconds: float
) -> QueueSnapshot:
    rows = (await connection.execute(_JOBS_BY_TASK_AND_STATE)).all()
    workers = await read_worker_heartbeats(connection, worker_stale_after_seconds)
    return QueueSnapshot(
        jobs=tuple((str(task), str(state), int(count)) for task, state, count in rows),
        workers_alive=workers.alive,
    )


def exposition(multiprocess_dir: Path | None, queue: QueueSnapshot | None) -> bytes:
    """The Prometheus text: every API process's metrics, then the queue's (when read)."""
    if multiprocess_dir is None:
        process_metrics = generate_latest()
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
        process_metrics = generate_latest(registry)
    if queue is None:
        return process_metrics
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(queue)
    return process_metrics + generate_latest(snapshot)
