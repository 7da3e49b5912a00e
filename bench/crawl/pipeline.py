"""Driving the real product from outside, as a customer would: servers, an account, a crawl.

Shared by bench/crawl (timing ingestion) and bench/chat (asking questions of a crawled site).
Every server is a subprocess on 127.0.0.1 with a free port, stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import wait_for_http

ROOT = Path(__file__).resolve().parents[2]
SITECHAT = str(ROOT / ".venv/bin/sitechat")
DOCS_ROOT = Path("/usr/share/doc/python3.11/html")
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    pid: int


@dataclass(frozen=True)
class CrawlOutcome:
    crawl_id: str
    status: str
    seconds: float  # from the POST that starts it to the first poll that sees it ended
    pages_indexed: int
    pages_fetched: int
    pages_failed: int
    pages_skipped: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def subprocess_server(
    command: list[str], probe_url: str, env: dict[str, str] | None = None
) -> Iterator[int]:
    """Run `command` until the block ends; yields its PID once `probe_url` answers."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(probe_url)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def docs_site(root: Path = DOCS_ROOT) -> Iterator[str]:
    """The python3.11-doc HTML, served from memory; yields the site's base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.crawl.site", str(root), str(port)]
    with subprocess_server(command, base + "/index.html"):
        yield base


def migrate(database_url: str) -> None:
    subprocess.run(
        [SITECHAT, "migrate"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def sitechat_env(database_url: str, crawl_concurrency: int | None = 8) -> dict[str, str]:
    """The server's environment; `crawl_concurrency=None` keeps the crawler's default
    politeness (what a new customer gets)."""
    env = {
        "DATABASE_URL": database_url,
        "SITECHAT_AUTH_JWT_SECRET": JWT_SECRET,
        "SITECHAT_CRAWL_ALLOWED_HOSTS": "127.0.0.1",
        "SITECHAT_RATELIMIT_ENABLED": "false",
        "SITECHAT_WORKER_IN_PROCESS": "true",
        "SITECHAT_LOG_LEVEL": "WARNING",
    }
    if crawl_concurrency is not None:
        env["SITECHAT_CRAWL_DELAY_SECONDS"] = "0"
        env["SITECHAT_CRAWL_PER_HOST_CONCURRENCY"] = str(crawl_concurrency)
    return env


@contextlib.contextmanager
def sitechat_server(
    database_url: str, crawl_concurrency: int | None = 8
) -> Iterator[RunningServer]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [SITECHAT, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = sitechat_env(database_url, crawl_concurrency)
    with subprocess_server(command, base + "/healthz", env) as pid:
        yield RunningServer(base, pid)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process plus its descendants, in MB."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
    return total_kb / 1024


def register_account(http: httpx.Client) -> dict[str, str]:
    """A new user and workspace on the Business plan (so plan quotas never cut a run short);
    returns the Authorization header of an admin API key."""
    registered = http.post(
        "/v1/auth/register",
        json={
            "email": f"bench-{time.time_ns()}@example.com",
            "password": "bench password 123",
            "full_name": "Bench",
        },
    )
    registered.raise_for_status()
    headers = {"Authorization": f"Bearer {registered.json()['tokens']['access_token']}"}
    card = http.post(
        "/v1/billing/payment-methods", json={"payment_method": "pm_card_visa"}, headers=headers
    )
    card.raise_for_status()
    plan = http.post(
        "/v1/billing/subscription",
        json={"plan_id": "business", "interval": "month"},
        headers=headers,
    )
    plan.raise_for_status()
    # An API key, not the access token: a long run (a site's vectors on a busy machine) outlives
    # the token's 15 minutes.
    key = http.post("/v1/api-keys", json={"name": "bench", "role": "admin"}, headers=headers)
    key.raise_for_status()
    return {"Authorization": f"Bearer {key.json()['key']}"}


def create_chatbot(http: httpx.Client, headers: dict[str, str], name: str) -> str:
    response = http.post("/v1/chatbots", json={"name": name}, headers=headers)
    response.raise_for_status()
    return str(response.json()["id"])


def run_crawl(
    http: httpx.Client,
    headers: dict[str, str],
    chatbot_id: str,
    start_url: str,
    max_pages: int = 1000,
    timeout_seconds: float = 600.0,
) -> CrawlOutcome:
    """Start a crawl through the API and poll it until it ends."""
    body: dict[str, Any] = {
        "url": start_url,
        "max_pages": max_pages,
        "max_depth": 20,
        "use_sitemap": False,
        "respect_robots": True,
    }
    started = time.perf_counter()
    response = http.post(f"/v1/chatbots/{chatbot_id}/crawls", json=body, headers=headers)
    response.raise_for_status()
    crawl_id = str(response.json()["id"])
    deadline = started + timeout_seconds
    while time.perf_counter() < deadline:
        crawl = http.get(f"/v1/crawls/{crawl_id}", headers=headers)
        crawl.raise_for_status()
        job = crawl.json()
        if job["status"] in TERMINAL_STATUSES:
            return CrawlOutcome(
                crawl_id=crawl_id,
                status=job["status"],
                seconds=time.perf_counter() - started,
                pages_indexed=job["pages_indexed"],
                pages_fetched=job["pages_fetched"],
                pages_failed=job["pages_failed"],
                pages_skipped=job["pages_skipped"],
            )
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"crawl {crawl_id} did not end within {timeout_seconds} s")
