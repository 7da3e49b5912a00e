"""Fixtures of the cross-cutting security tests: real uvicorn processes, rate-limited apps and
two workspaces, one owning real objects (A) and one trying to reach them (B)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sitechat.app import create_app
from sitechat.config import HttpSettings, RateLimitSettings, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
# Loading the embedder on a busy 2-core machine took longer than 30 s; the bound only limits how
# long a broken start is awaited.
SERVER_START_TIMEOUT_SECONDS = 90.0
SERVER_STOP_TIMEOUT_SECONDS = 10.0
# Variables a developer's shell may set that would change what the child server does.
_INHERITED_CONFIG_PREFIXES = ("SITECHAT_", "DATABASE_URL", "REDIS_URL")


@dataclass
class LiveServer:
    """A `sitechat` API in its own process, started (and stopped, by PID) by a test."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_environment(database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_INHERITED_CONFIG_PREFIXES)
    }
    env.update(
        DATABASE_URL=database_url,
        SITECHAT_ENV="test",
        SITECHAT_WORKER_IN_PROCESS="false",
        SITECHAT_RATELIMIT_ENABLED="false",
    )
    env.update(overrides)
    return env


def _wait_until_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    with httpx.Client(base_url=server.base_url, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{server.log_text()[-3000:]}")
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"server not ready in time:\n{server.log_text()[-3000:]}")


def stop_server(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)


@contextmanager
def uvicorn_server(env: Mapping[str, str], log_path: Path) -> Iterator[LiveServer]:
    """`python -m uvicorn sitechat.app:create_app --factory` on a socket bound to port 0.

    The test binds the socket and hands the child its descriptor, so the port is known
    without a race and nothing listens beyond 127.0.0.1.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "sitechat.app:create_app",
        "--factory",
        "--fd",
        str(listener.fileno()),
        "--no-access-log",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()  # the child holds its own copy
    server = LiveServer(process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        stop_server(server)


def rate_limited_settings(
    settings: Settings, *, trusted_proxies: list[str] | None = None, **limits: str
) -> Settings:
    """The suite's settings with rate limits on (memory storage), e.g. `read="3/minute"`."""
    update: dict[str, object] = {
        "ratelimit": RateLimitSettings.model_validate({"enabled": True, **limits})
    }
    if trusted_proxies is not None:
        update["http"] = HttpSettings(trusted_proxies=trusted_proxies)
    return settings.model_copy(update=update)


@asynccontextmanager
async def running_app(app_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(app_settings)
    async with application.router.lifespan_context(application):
        yield application


def asgi_client(app: FastAPI, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    """A client whose requests come from `peer`, as a real socket would report it."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
