"""Process helpers for the load and fault scenarios: real `sitechat` processes on loopback.

Each scenario starts the API (`uvicorn sitechat.app:create_app --factory` or `sitechat serve`)
and workers (`sitechat worker`) as subprocesses with their own environment, waits for them with
a bound, and stops them by PID (SIGTERM, then SIGKILL). Select these tests with `-m faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import pytest

from tests.chat.conftest import chat_completions_server, llm_server
from tests.crawling.conftest import LocalSite, html_page
from tests.fixtures.database import connect_kwargs

BIN = Path(sys.executable).parent
# A fresh data folder costs initdb, migrations and the embedder's load; on a loaded 2-core
# machine that took more than 30 s. The bound only limits how long a broken start is awaited.
READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0

T = TypeVar("T")

# The local OpenAI-compatible server of the chat tests, for scenarios that need a slow model.
__all__ = ["chat_completions_server", "llm_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: load and fault scenarios that run real sitechat processes"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_env(database_url: str | None, **overrides: str) -> dict[str, str]:
    """The environment of a sitechat process under test: nothing inherited but the basics."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback for HOME
        "LANG": "C.UTF-8",
        "SITECHAT_ENV": "test",
        "SITECHAT_LOG_LEVEL": "WARNING",
        "SITECHAT_CRAWL_ALLOWED_HOSTS": "127.0.0.1",
        "SITECHAT_CRAWL_DELAY_SECONDS": "0",
        "SITECHAT_RATELIMIT_ENABLED": "false",
        "SITECHAT_WORKER_IN_PROCESS": "false",
        # These scenarios are about processes and the database; the model would only slow them.
        "SITECHAT_EMBEDDING_PROVIDER": "none",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(overrides)
    return env


@dataclass
class Process:
    """A started subprocess, its log file, and (for servers) its base URL."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = ""
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_lines_with(self, text: str) -> list[str]:
        """The log lines that contain `text` (e.g. an event name, with its traceback)."""
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in log.splitlines() if text in line]

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        self.stopped = True
        if self.popen.poll() is not None:
            return self.popen.returncode
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.popen.wait(timeout=5)


class Processes:
    """Starts sitechat processes for one test and stops every one of them afterwards."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Process] = []

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path) -> Process:
        log_path = self.log_dir / f"{name}-{len(self.started)}.log"
        with log_path.open("wb") as log_file:
            popen = subprocess.Popen(
                argv, env=dict(env), cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT
            )
        process = Process(name=name, popen=popen, log_path=log_path)
        self.started.append(process)
        return process

    def api(self, env: Mapping[str, str], *, workers: int = 1, serve: bool = False) -> Process:
        """The API on a free loopback port: `uvicorn --factory`, or `sitechat serve` (which
        migrates and, without DATABASE_URL, starts the embedded PostgreSQL)."""
        port = free_port()
        if serve:
            argv = [str(BIN / "sitechat"), "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", str(workers)]
        else:
            argv = [str(BIN / "uvicorn"), "sitechat.app:create_app", "--factory"]
            argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
            argv += ["--no-access-log", "--timeout-graceful-shutdown", "20"]
        process = self._spawn("api", argv, env, self.log_dir)
        process.base_url = f"http://127.0.0.1:{port}"
        wait_ready(process)
        return process

    def worker(self, env: Mapping[str, str], *, concurrency: int = 2) -> Process:
        argv = [str(BIN / "sitechat"), "worker", "--concurrency", str(concurrency)]
        return self._spawn("worker", argv, env, self.log_dir)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if not process.stopped:
                process.stop()


def wait_ready(process: Process, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Poll /readyz until it answers 200; fail with the process log if it dies or is late."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited early:\n{process.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{process.base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{process.name} not ready in {timeout}s:\n{process.log_tail()}")


@pytest.fixture
def processes() -> Iterator[Processes]:
    with tempfile.TemporaryDirectory(prefix="sitechat-faults-") as log_dir:
        started = Processes(Path(log_dir))
        try:
            yield started
        finally:
            started.stop_all()


def pages_site(site: LocalSite, count: int, *, delay_seconds: float = 0.0) -> list[str]:
    """`count` pages linked from `/` (and nothing else), each answered after `delay_seconds`."""
    paths = [f"/page-{number}" for number in range(count)]
    links = "".join(f"<li><a href='{path}'>{path}</a></li>" for path in paths)
    intro = (  # a paragraph of its own, so the home page is content, not a bare list of links
        "<p>Start here. These pages explain how the product is installed, how it is configured "
        "for a team, and where to ask when something does not work the way it should.</p>"
    )
    site.page("/", html_page("Home", f"<h1>Welcome</h1>{intro}<ul>{links}</ul>"))
    for number, path in enumerate(paths):
        body = (
            f"<h1>Page {number}</h1><p>Page {number} explains topic {number} in words that "
            f"are its own: alpha{number} beta{number} gamma{number}.</p>"
        )
        site.page(path, html_page(f"Page {number}", body), delay_seconds=delay_seconds)
    return ["/", *paths]


def set_page_delay(site: LocalSite, seconds: float) -> None:
    for route in site.routes.values():
        if not callable(route):
            route.delay_seconds = seconds


@pytest.fixture
def site() -> Iterator[LocalSite]:
    local_site = LocalSite()
    local_site.start()
    try:
        yield local_site
    finally:
        local_site.stop()


async def fetch_rows(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(**connect_kwargs(database_url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, seconds: float, what: str, every: float = 0.1
) -> T:
    """The first truthy result of `check`, polled until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        await asyncio.sleep(every)
