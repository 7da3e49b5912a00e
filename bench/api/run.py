"""bench/api: SiteChat's authenticated read against the floor, with wrk on loopback.

Scenarios, each measured 3 times interleaved and reported as the median, for 1 and 2 worker
processes: a bare FastAPI hello (context); the floor (JWT decode + one asyncpg primary-key fetch);
SiteChat `GET /v1/chatbots/{id}` with a JWT and with an API key; and with rate limiting on
(memory, Redis). Ratios are taken within the same run, so a noisy machine moves both sides.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import bench_database, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
WRK_SECONDS = int(os.environ.get("BENCH_API_SECONDS", "5"))
WRK_CONNECTIONS = 32
RUNS = 3
WORKER_COUNTS = (1, 2)
HELLO = "hello (bare FastAPI)"
FLOOR = "floor (JWT + asyncpg PK fetch)"
PLAIN = "SiteChat read, JWT"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass
class Measurement:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass
class Scenario:
    name: str
    server: str
    path: str
    headers: dict[str, str]
    runs: list[Measurement] = field(default_factory=list)

    def median(self) -> Measurement:
        return Measurement(
            statistics.median(run.requests_per_second for run in self.runs),
            statistics.median(run.p50_ms for run in self.runs),
            statistics.median(run.p99_ms for run in self.runs),
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[str]:
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + probe)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def sitechat_command(port: int, workers: int) -> list[str]:
    return [
        str(ROOT / ".venv/bin/sitechat"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def floor_command(port: int, workers: int) -> list[str]:
    return [
        PYTHON, "-m", "uvicorn", "bench.api.floor_app:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http",
        "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


# The floor's asyncpg pool holds at most 10 connections. SiteChat's measured read uses only its
# read pool (credential lookups are cached), given 5: a read holds a connection for one round
# trip, and three servers of two workers, each with an engine pool as well, must stay within
# the embedded PostgreSQL's 100 connections. No overflow: SQLAlchemy closes an overflow
# connection when it comes back to a full pool, so under 32 concurrent requests it would open and
# close connections all the time (measured 600 against 1,250 requests/s; docs/performance.md).
SITECHAT_POOL_SIZE = "5"


def sitechat_env(database_url: str, rate_limit: str | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "SITECHAT_DB_POOL_SIZE": SITECHAT_POOL_SIZE,
        "SITECHAT_DB_MAX_OVERFLOW": "0",
        "SITECHAT_DB_READ_POOL_SIZE": SITECHAT_POOL_SIZE,
        "SITECHAT_AUTH_JWT_SECRET": JWT_SECRET,
        "SITECHAT_WORKER_IN_PROCESS": "false",
        "SITECHAT_RATELIMIT_ENABLED": "false" if rate_limit is None else "true",
        "SITECHAT_RATELIMIT_READ": "100000000/minute",
        "SITECHAT_LOG_LEVEL": "INFO",
    }
    if rate_limit == "redis":
        env["REDIS_URL"] = REDIS_URL
    return env


_LATENCY_LINE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RPS_LINE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, headers: dict[str, str], seconds: int = WRK_SECONDS) -> Measurement:
    command = ["wrk", "-t", "1", "-c", str(WRK_CONNECTIONS), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors for {url}:\n{output}")
    latencies = {
        m.group(1): float(m.group(2)) * _UNIT_MS[m.group(3)] for m in _LATENCY_LINE.finditer(output)
    }
    rps = _RPS_LINE.search(output)
    assert rps is not None, output
    return Measurement(float(rps.group(1)), latencies["50"], latencies["99"])


def seed(base: str) -> tuple[str, str, str]:
    """A user, a chatbot and an API key through the public API: (chatbot_id, jwt, api_key)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        email = f"bench-{time.time_ns()}@example.com"
        registered = http.post(
            "/v1/auth/register",
            json={"email": email, "password": "bench password 123", "full_name": "Bench"},
        )
        registered.raise_for_status()
        token = registered.json()["tokens"]["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        chatbot = http.post("/v1/chatbots", json={"name": "Bench bot"}, headers=auth)
        chatbot.raise_for_status()
        key = http.post("/v1/api-keys", json={"name": "bench", "role": "member"}, headers=auth)
        key.raise_for_status()
        return chatbot.json()["id"], token, key.json()["key"]


def measure_workers(database_url: str, workers: int) -> list[Scenario]:
    ports = {name: free_port() for name in ("floor", "plain", "memory", "redis")}
    floor_env = {"BENCH_FLOOR_DATABASE_URL": database_url, "BENCH_FLOOR_JWT_SECRET": JWT_SECRET}
    with contextlib.ExitStack() as stack:
        floor = stack.enter_context(
            server(floor_command(ports["floor"], workers), floor_env, ports["floor"], "/hello")
        )
        bases = {
            mode: stack.enter_context(
                server(
                    sitechat_command(ports[mode], workers),
                    sitechat_env(database_url, None if mode == "plain" else mode),
                    ports[mode],
                    "/healthz",
                )
            )
            for mode in ("plain", "memory", "redis")
        }
        chatbot_id, token, api_key = seed(bases["plain"])
        jwt_headers = {"Authorization": f"Bearer {token}"}
        key_headers = {"Authorization": f"Bearer {api_key}"}
        chatbot_path = f"/v1/chatbots/{chatbot_id}"
        floor_path = f"/floor/chatbots/{chatbot_id}"
        scenarios = [
            Scenario(HELLO, floor, "/hello", {}),
            Scenario(FLOOR, floor, floor_path, jwt_headers),
            Scenario(PLAIN, bases["plain"], chatbot_path, jwt_headers),
            Scenario("SiteChat read, API key", bases["plain"], chatbot_path, key_headers),
            Scenario(f"{PLAIN}, limits in memory", bases["memory"], chatbot_path, jwt_headers),
            Scenario(f"{PLAIN}, limits in Redis", bases["redis"], chatbot_path, jwt_headers),
        ]
        for scenario in scenarios:  # warm-up: connection pools and credential caches
            run_wrk(scenario.server + scenario.path, scenario.headers, seconds=1)
        for _ in range(RUNS):
            for scenario in scenarios:
                scenario.runs.append(run_wrk(scenario.server + scenario.path, scenario.headers))
    return scenarios


def report(results: dict[int, list[Scenario]]) -> tuple[str, dict[str, object]]:
    lines = [
        "| workers | scenario | req/s | p50 ms | p99 ms | ratio |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    data: dict[str, object] = {}
    for workers, scenarios in results.items():
        medians = {scenario.name: scenario.median() for scenario in scenarios}
        floor = medians[FLOOR].requests_per_second
        plain = medians[PLAIN].requests_per_second
        for name, median in medians.items():
            if name.startswith(f"{PLAIN}, limits"):
                ratio = f"{median.requests_per_second / plain:.2f} of unlimited"
            elif name.startswith("SiteChat"):
                ratio = f"{median.requests_per_second / floor:.2f} of floor"
            else:
                ratio = ""
            lines.append(
                f"| {workers} | {name} | {median.requests_per_second:,.0f} | "
                f"{median.p50_ms:.2f} | {median.p99_ms:.2f} | {ratio} |"
            )
            data[f"{workers}w/{name}"] = median.__dict__ | {"ratio": ratio}
    return "\n".join(lines), data


def main() -> dict[str, object]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api needs wrk: apt-get install wrk")
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_api") as database_url,
    ):
        subprocess.run(
            [str(ROOT / ".venv/bin/sitechat"), "migrate"],
            env={**os.environ, "DATABASE_URL": database_url},
            check=True,
            capture_output=True,
        )
        results = {workers: measure_workers(database_url, workers) for workers in WORKER_COUNTS}
    table, data = report(results)
    print(table)
    return {"table": table, "results": data}


if __name__ == "__main__":
    main()
