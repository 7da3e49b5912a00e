"""In-process harness: the cost of one request through SiteChat's app against the floor's.

No network and no server: each request is one direct ASGI call (`await app(scope, receive,
send)`), so what is measured is the application's own CPU per request plus its database round
trips. The floor app (`bench/api/floor_app.py`) runs in the same process, against the same
database, in the same rounds, so machine load moves both sides and the ratio stays honest.

Scenarios, interleaved round by round (median of the rounds is reported):

- floor hello / floor read: the baselines of `bench/api/run.py`;
- SiteChat `/healthz`: the middleware and framework cost of an endpoint that does nothing;
- SiteChat `GET /v1/chatbots/{id}` with a JWT, with an API key, and with rate limiting on
  (in memory; a second app instance with a limit no run reaches).

Usage (the database must have SiteChat's migrations applied: `sitechat migrate`):

    .venv/bin/python -m bench.api.inprocess --database-url postgresql://postgres@127.0.0.1/db
    .venv/bin/python -m bench.api.inprocess --database-url ... --profile "SiteChat read, JWT"

`--concurrency` clients share each round's requests (default 8): their database round trips
overlap as under wrk, so milliseconds per request approach the process's CPU per request, the
inverse of what one core can serve. `--concurrency 1` gives the sequential latency instead.
`--profile` runs cProfile over one scenario after the timed rounds and prints the top entries.
Log lines (the access log included, as in production) go to /dev/null, as `run.py`'s servers do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import importlib
import os
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx
from starlette.types import ASGIApp, Message

from bench.api.run import FLOOR, HELLO, JWT_SECRET, PLAIN
from sitechat.app import create_app
from sitechat.config import (
    AuthSettings,
    DatabaseSettings,
    Environment,
    RateLimitSettings,
    Settings,
    WorkerSettings,
)

HEALTHZ = "SiteChat /healthz"
API_KEY = "SiteChat read, API key"
LIMITED = f"{PLAIN}, limits in memory"


@dataclass
class Scenario:
    name: str
    app: ASGIApp
    path: str
    headers: dict[str, str]
    ms_per_request: list[float] = field(default_factory=list)


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("bench", 80),
    }


def request_runner(scenario: Scenario) -> Callable[[], Coroutine[Any, Any, int]]:
    """One request per call; returns the response status."""
    template = _scope(scenario.path, scenario.headers)
    app = scenario.app

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def one() -> int:
        status = 0

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(template), receive, send)
        return status

    return one


async def time_requests(scenario: Scenario, count: int, concurrency: int) -> float:
    """Wall milliseconds per request: `count` requests by `concurrency` concurrent clients.

    With concurrency above 1 the database round trips overlap, as under wrk, and what is left
    is mostly the process's CPU per request (the inverse of one core's throughput).
    """
    one = request_runner(scenario)

    async def client(requests: int) -> None:
        for _ in range(requests):
            status = await one()
            if status != 200:
                raise RuntimeError(f"{scenario.name}: status {status}")

    shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(client(share) for share in shares))
    return (time.perf_counter() - started) * 1000 / count


def sitechat_settings(database_url: str, *, rate_limited: bool) -> Settings:
    return Settings(
        env=Environment.development,
        # As run.py's servers (SITECHAT_POOL_SIZE there).
        db=DatabaseSettings(
            DATABASE_URL=database_url, pool_size=5, read_pool_size=5, max_overflow=0
        ),
        auth=AuthSettings(jwt_secret=JWT_SECRET),
        worker=WorkerSettings(in_process=False),
        ratelimit=RateLimitSettings(enabled=rate_limited, read="100000000/minute"),
    )


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


async def seed(app: ASGIApp) -> tuple[str, str, str]:
    """A user, a chatbot and an API key through the public API: (chatbot_id, jwt, api_key)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        registered = await http.post(
            "/v1/auth/register",
            json={
                "email": f"bench-{time.time_ns()}@example.com",
                "password": "bench password 123",
                "full_name": "Bench",
            },
        )
        registered.raise_for_status()
        auth = {"Authorization": f"Bearer {registered.json()['tokens']['access_token']}"}
        chatbot = await http.post("/v1/chatbots", json={"name": "Bench bot"}, headers=auth)
        chatbot.raise_for_status()
        key = await http.post(
            "/v1/api-keys", json={"name": "bench", "role": "member"}, headers=auth
        )
        key.raise_for_status()
        return chatbot.json()["id"], auth["Authorization"], key.json()["key"]


def report(scenarios: list[Scenario]) -> str:
    by_name = {scenario.name: scenario for scenario in scenarios}
    floor_rounds = by_name[FLOOR].ms_per_request
    lines = [
        "| scenario | ms/request (median) | requests/s per core | ratio |",
        "| --- | ---: | ---: | --- |",
    ]
    for scenario in scenarios:
        median = statistics.median(scenario.ms_per_request)
        ratio = ""
        if scenario.name.startswith("SiteChat read"):
            # Per round, then the median: each round's pair ran back to back.
            reference = by_name[PLAIN].ms_per_request if scenario.name == LIMITED else floor_rounds
            label = "of unlimited" if scenario.name == LIMITED else "of floor"
            ratios = [
                ref / own for ref, own in zip(reference, scenario.ms_per_request, strict=True)
            ]
            ratio = f"{statistics.median(ratios):.2f} {label}"
        lines.append(f"| {scenario.name} | {median:.3f} | {1000 / median:,.0f} | {ratio} |")
    return "\n".join(lines)


async def measure(args: argparse.Namespace, out: TextIO) -> None:
    os.environ["BENCH_FLOOR_DATABASE_URL"] = args.database_url
    os.environ["BENCH_FLOOR_JWT_SECRET"] = JWT_SECRET
    floor_app = importlib.import_module("bench.api.floor_app").app
    plain_app = create_app(sitechat_settings(args.database_url, rate_limited=False))
    limited_app = create_app(sitechat_settings(args.database_url, rate_limited=True))
    async with running(floor_app), running(plain_app), running(limited_app):
        chatbot_id, bearer, api_key = await seed(plain_app)
        jwt_headers = {"Authorization": bearer}
        read_path = f"/v1/chatbots/{chatbot_id}"
        scenarios = [
            Scenario(HELLO, floor_app, "/hello", {}),
            Scenario(FLOOR, floor_app, f"/floor/chatbots/{chatbot_id}", jwt_headers),
            Scenario(HEALTHZ, plain_app, "/healthz", {}),
            Scenario(PLAIN, plain_app, read_path, jwt_headers),
            Scenario(API_KEY, plain_app, read_path, {"Authorization": f"Bearer {api_key}"}),
            Scenario(LIMITED, limited_app, read_path, jwt_headers),
        ]
        for scenario in scenarios:  # warm-up: pools, statement caches, credential caches
            await time_requests(scenario, args.requests // 5 + 1, args.concurrency)
        for round_number in range(args.rounds):
            for scenario in scenarios:
                scenario.ms_per_request.append(
                    await time_requests(scenario, args.requests, args.concurrency)
                )
            print(f"round {round_number + 1}/{args.rounds} done", file=out, flush=True)
        print(report(scenarios), file=out, flush=True)
        if args.profile:
            await profile(next(s for s in scenarios if s.name == args.profile), args, out)


async def profile(scenario: Scenario, args: argparse.Namespace, out: TextIO) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await time_requests(scenario, args.requests, args.concurrency)
    profiler.disable()
    if args.profile_file:
        profiler.dump_stats(args.profile_file)
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        required="DATABASE_URL" not in os.environ,
        help="a migrated SiteChat database (default: $DATABASE_URL)",
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent clients (1: sequential latency)"
    )
    parser.add_argument("--profile", metavar="SCENARIO", help="cProfile this scenario after")
    parser.add_argument("--sort", default="tottime", help="pstats sort key for --profile")
    parser.add_argument("--top", type=int, default=30, help="profile entries to print")
    parser.add_argument("--profile-file", help="also save the raw profile here (pstats format)")
    args = parser.parse_args()
    # The floor answers with ORJSONResponse, which this FastAPI flags on every response.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    # Results go to the real stdout; the apps' log lines (stdout) are discarded.
    out = sys.stdout
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            asyncio.run(measure(args, out))
        finally:
            sys.stdout = out


if __name__ == "__main__":
    main()
