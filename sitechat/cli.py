"""`sitechat serve | worker | migrate | check-config | admin` — the operator's entry points."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

import structlog

from sitechat.config import Settings
from sitechat.core.embedded_db import configured_database
from sitechat.core.logging import configure_logging
from sitechat.ops.config_check import ConfigInvalid, checked_settings, load_settings, summary

if TYPE_CHECKING:
    from sitechat.core.migrate import MigrationOutcome

log = structlog.get_logger()


def _upgrade_or_refuse(url: str) -> MigrationOutcome:
    """Migrate to the code's newest revision; a database a newer version migrated is refused
    with one line, exit status 1 (inside `configured_database`, which still stops an
    embedded server)."""
    from sitechat.core.migrate import DatabaseNewerThanCode, upgrade_database

    try:
        outcome = upgrade_database(url)
    except DatabaseNewerThanCode as error:
        log.error("migrate.refused", revision=error.revision, head=error.head)
        print(f"sitechat: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("migrate.done", revision=outcome.after, from_revision=outcome.before)
    return outcome


def migrate(settings: Settings) -> None:
    with configured_database(settings) as url:
        outcome = _upgrade_or_refuse(url)
    print(f"sitechat: {outcome.describe()}", file=sys.stderr)


def make_migration(settings: Settings, message: str) -> None:
    """Developers: write a migration for the difference between the models and the database."""
    from alembic import command

    from sitechat.core.migrate import alembic_config, upgrade_database

    with configured_database(settings) as url:
        upgrade_database(url)
        command.revision(alembic_config(url), message=message, autogenerate=True)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


MULTIPROCESS_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def _metrics_shared_by(settings: Settings, workers: int) -> Iterator[None]:
    """With N > 1 API processes, a folder for the run where each writes its metrics, so that
    /metrics adds them up (`ops/metrics.py`); deleted when `serve` ends. The API processes
    find it in the environment they inherit (uvicorn spawns them after this is set)."""
    if workers <= 1 or settings.metrics_multiproc_dir is not None:
        yield  # one process, or the operator's own folder
        return
    with tempfile.TemporaryDirectory(prefix="sitechat-metrics-") as directory:
        os.environ[MULTIPROCESS_METRICS_ENV] = directory
        log.info("serve.metrics_shared", directory=directory, processes=workers)
        try:
            yield
        finally:
            os.environ.pop(MULTIPROCESS_METRICS_ENV, None)


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from sitechat.ops.ready import run_uvicorn

    # uvicorn re-raises SIGTERM after its graceful shutdown; as SystemExit it lets the
    # embedded database stop cleanly instead of killing the process under it.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with configured_database(settings) as url, _metrics_shared_by(settings, workers):
        _upgrade_or_refuse(url)
        config = uvicorn.Config(
            "sitechat.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            server_header=False,
            proxy_headers=bool(settings.http.trusted_proxies),
            forwarded_allow_ips=",".join(settings.http.trusted_proxies) or None,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=30,
        )
        run_uvicorn(config, settings.http.public_base_url)


def worker(settings: Settings, concurrency: int) -> None:
    from sitechat.core.db import create_engine, create_sessionmaker, libpq_url
    from sitechat.core.state import worker_context
    from sitechat.knowledge.dense import DenseSetup
    from sitechat.process import provide_dense_retrieval, start_components, start_task_context
    from sitechat.worker.queue import connected_queue
    from sitechat.worker.runner import run_worker

    async def run(url: str) -> None:
        components = start_components(settings)
        engine = create_engine(url, settings.db)
        context = start_task_context(settings, create_sessionmaker(engine), components)
        try:
            async with (
                provide_dense_retrieval(components, engine, settings),
                connected_queue(libpq_url(url)) as queue,
            ):
                log.info(
                    "worker.started",
                    name="standalone",
                    concurrency=concurrency,
                    heartbeat_seconds=settings.worker.heartbeat_seconds,
                    queues="all",
                    dense_retrieval=components.get(DenseSetup).dense is not None,
                )
                # SIGTERM/SIGINT: stop fetching, let running jobs finish for a bounded time,
                # then put the unfinished ones back in the queue.
                await run_worker(
                    queue,
                    context=worker_context(context),
                    settings=settings.worker,
                    concurrency=concurrency,
                    name="standalone",
                    install_signal_handlers=True,
                )
                log.info("worker.stopped", name="standalone")
        finally:
            await engine.dispose()

    with configured_database(settings) as url:
        asyncio.run(run(url))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitechat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the API (and, by default, a worker)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1)
    worker_parser = commands.add_parser("worker", help="run a job worker process")
    worker_parser.add_argument("--concurrency", type=int, default=None)
    commands.add_parser("migrate", help="apply database migrations")
    revision_parser = commands.add_parser("make-migration", help="(developers) autogenerate")
    revision_parser.add_argument("-m", "--message", required=True)
    check_parser = commands.add_parser(
        "check-config", help="validate settings and print the effective ones"
    )
    # What `serve --workers N` will be checked for (several API processes need shared limits).
    check_parser.add_argument("--workers", type=int, default=1)
    from sitechat.admin.parser import add_admin_parser

    add_admin_parser(commands)
    return parser


# What these commands need is checked in full first (`ops/config_check.py`); the others only
# need settings that parse. `admin` is checked like `serve`: an API key it created with
# production's unset pepper, for instance, would print fine and never work.
_FULLY_CHECKED = frozenset({"serve", "worker", "check-config", "admin"})


def _settings_for(args: argparse.Namespace) -> Settings:
    if args.command not in _FULLY_CHECKED:
        return load_settings()
    return checked_settings(api_processes=getattr(args, "workers", 1))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings_for(args)
    except ConfigInvalid as error:
        for problem in error.problems:
            print(f"sitechat: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "serve":
        serve(settings, args.host, args.port, args.workers)
    elif args.command == "worker":
        worker(settings, args.concurrency or settings.worker.concurrency)
    elif args.command == "migrate":
        migrate(settings)
    elif args.command == "make-migration":
        make_migration(settings, args.message)
    elif args.command == "check-config":
        print(json.dumps(summary(settings), indent=2))
        print("sitechat: configuration OK", file=sys.stderr)
    elif args.command == "admin":
        from sitechat.admin.cli import run_admin

        return run_admin(settings, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
