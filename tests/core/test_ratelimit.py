from __future__ import annotations

import asyncio
import inspect
import itertools
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis
from structlog.testing import capture_logs

from sitechat.config import Environment, Settings
from sitechat.core.errors import install_exception_handlers
from sitechat.core.login_throttle import LoginThrottle
from sitechat.core.middleware import MiddlewareConfig, RequestContextMiddleware
from sitechat.core.ratelimit import (
    RateLimiter,
    RateLimitPolicy,
    RateLimitSubject,
    RateLimitSubjects,
    RateLimitUnavailable,
    RouteClass,
    rate_limit_headers,
)
from sitechat.core.ratelimit.memory import LocalWindows
from sitechat.core.ratelimit.window import (
    ADMITS_EXPRESSION,
    HIT_AND_REPORT_LUA,
    WEIGHTED_COUNT_EXPRESSION,
    Check,
    WindowState,
    admits,
    weighted_count,
)
from sitechat.core.routing import api_router, rate_limit_class
from sitechat.core.state import AppState, Components
from tests.core.ratelimit_conftest_helpers import (
    SHARED_REDIS_URL,
    FakeClock,
    delete_keys_with_prefix,
    private_redis,
    unique_key_prefix,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

LimiterFactory = Callable[..., RateLimiter]


def policy_with(limit: str, **overrides: str) -> RateLimitPolicy:
    limits = {route_class: limit for route_class in RouteClass}
    limits.update({RouteClass(name): value for name, value in overrides.items()})
    return RateLimitPolicy(limits=limits)


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[LimiterFactory]:
    """Builds limiters on the parametrized storage; Redis keys are removed afterwards."""
    storage_uri = None if request.param == "memory" else SHARED_REDIS_URL
    prefix = unique_key_prefix()
    created: list[RateLimiter] = []

    def factory(policy: RateLimitPolicy | None = None) -> RateLimiter:
        limiter = RateLimiter(storage_uri, policy, key_prefix=prefix)
        created.append(limiter)
        return limiter

    yield factory
    for limiter in created:
        await limiter.close()
    if storage_uri is not None:
        await delete_keys_with_prefix(storage_uri, prefix)


class TestRateLimiterHit:
    async def test_admits_the_limit_then_denies(self, make_limiter: LimiterFactory) -> None:
        limiter = make_limiter(policy_with("5/minute"))

        decisions = [await limiter.hit(RouteClass.READ, "user:a") for _ in range(6)]

        assert [d.allowed for d in decisions] == [True] * 5 + [False]
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
        assert all(d.limit == 5 and d.policy_header_value == "5;w=60" for d in decisions)
        assert 0 < decisions[-1].reset_after_seconds <= 120

    async def test_headers_count_down_and_denial_has_retry_after(
        self, make_limiter: LimiterFactory
    ) -> None:
        limiter = make_limiter(policy_with("2/minute"))

        first = rate_limit_headers(await limiter.hit(RouteClass.READ, "user:a"))
        second = rate_limit_headers(await limiter.hit(RouteClass.READ, "user:a"))
        denied = rate_limit_headers(await limiter.hit(RouteClass.READ, "user:a"))

        assert first["RateLimit-Limit"] == "2"
        assert first["RateLimit-Policy"] == "2;w=60"
        assert (first["RateLimit-Remaining"], second["RateLimit-Remaining"]) == ("1", "0")
        assert int(first["RateLimit-Reset"]) > 0
        assert "Retry-After" not in first and "Retry-After" not in second
        assert denied["RateLimit-Remaining"] == "0"
        assert 1 <= int(denied["Retry-After"]) <= int(denied["RateLimit-Reset"]) <= 120

    async def test_identities_and_route_classes_have_separate_buckets(
        self, make_limiter: LimiterFactory
    ) -> None:
        limiter = make_limiter(policy_with("1/minute"))

        assert (await limiter.hit(RouteClass.READ, "user:a")).allowed
        assert not (await limiter.hit(RouteClass.READ, "user:a")).allowed
        assert (await limiter.hit(RouteClass.READ, "user:b")).allowed
        assert (await limiter.hit(RouteClass.WRITE, "user:a")).allowed

    async def test_limit_override_replaces_the_class_limit(
        self, make_limiter: LimiterFactory
    ) -> None:
        limiter = make_limiter(policy_with("1/minute"))

        decisions = [
            await limiter.hit(RouteClass.CHAT, "key:k1", limit_override="3/minute")
            for _ in range(4)
        ]

        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert decisions[0].limit == 3
        assert decisions[0].policy_header_value == "3;w=60"

    async def test_cost_consumes_several_units(self, make_limiter: LimiterFactory) -> None:
        limiter = make_limiter(policy_with("10/hour"))

        big = await limiter.hit(RouteClass.CRAWL_START, "user:a", cost=7)
        too_big = await limiter.hit(RouteClass.CRAWL_START, "user:a", cost=4)
        fits = await limiter.hit(RouteClass.CRAWL_START, "user:a", cost=3)

        assert (big.allowed, big.remaining) == (True, 3)
        assert not too_big.allowed
        assert (fits.allowed, fits.remaining) == (True, 0)
        assert fits.policy_header_value == "10;w=3600"

    async def test_concurrent_checks_are_counted_exactly(
        self, make_limiter: LimiterFactory
    ) -> None:
        limiter = make_limiter(policy_with("30/minute"))

        decisions = await asyncio.gather(
            *(limiter.hit(RouteClass.READ, "user:a") for _ in range(50))
        )

        admitted = [d for d in decisions if d.allowed]
        assert len(admitted) == 30
        assert sorted(d.remaining for d in admitted) == list(range(30))


class TestRedisScript:
    async def test_state_matches_what_limits_itself_reads(self) -> None:
        # The script must keep limits' own key layout and arithmetic.
        prefix = unique_key_prefix()
        limiter = RateLimiter(SHARED_REDIS_URL, policy_with("20/minute"), key_prefix=prefix)
        try:
            for _ in range(7):
                decision = await limiter.hit(RouteClass.READ, "user:a")
            stats = await SlidingWindowCounterRateLimiter(limiter.storage).get_window_stats(
                parse("20/minute"), RouteClass.READ, "user:a"
            )
        finally:
            await limiter.close()
            await delete_keys_with_prefix(SHARED_REDIS_URL, prefix)

        assert stats.remaining == decision.remaining == 13

    async def test_checks_arriving_together_share_a_round_trip(self) -> None:
        async with private_redis() as server:
            limiter = RateLimiter(server.url, policy_with("1000/minute"))
            redis = Redis.from_url(server.url)
            try:
                await limiter.hit(RouteClass.READ, "user:warm-up")  # loads the script
                before = await _script_calls(redis)
                decisions = await asyncio.gather(
                    *(limiter.hit(RouteClass.READ, f"user:{n % 4}") for n in range(40))
                )
                calls = await _script_calls(redis) - before
            finally:
                await redis.aclose()
                await limiter.close()

        assert all(d.allowed and d.enforced for d in decisions)
        assert sorted(d.remaining for d in decisions) == sorted(
            1000 - count for count in range(1, 11) for _ in range(4)
        )
        assert 1 <= calls < 40

    async def test_a_cancelled_check_leaves_the_others_answered(self) -> None:
        prefix = unique_key_prefix()
        limiter = RateLimiter(SHARED_REDIS_URL, policy_with("10/minute"), key_prefix=prefix)
        try:
            gone = asyncio.create_task(limiter.hit(RouteClass.READ, "user:a"))
            others = [asyncio.create_task(limiter.hit(RouteClass.READ, "user:a")) for _ in range(3)]
            await asyncio.sleep(0)
            gone.cancel()
            decisions = await asyncio.gather(*others)
            later = await limiter.hit(RouteClass.READ, "user:a")
        finally:
            await limiter.close()
            await delete_keys_with_prefix(SHARED_REDIS_URL, prefix)

        assert all(d.allowed for d in decisions)
        # The cancelled request's check had been sent: it counted, as a served one would.
        assert later.remaining == 10 - 5


async def _script_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(
        int(stats[name]["calls"]) for name in ("cmdstat_evalsha", "cmdstat_eval") if name in stats
    )


class TestLocalWindows:
    """The in-memory counters follow the Redis script's rule, on a clock the test moves."""

    def test_the_previous_window_fades_linearly(self) -> None:
        clock = FakeClock()
        windows = LocalWindows(clock=clock)
        check = Check(key="k", limit=10, window=60, cost=1)
        assert [windows.hit(check)[0] for _ in range(11)] == [True] * 10 + [False]

        clock.advance(90)  # the next window is half over: the previous one weighs 10 * 30/60
        admitted = [windows.hit(check)[0] for _ in range(6)]

        assert admitted == [True] * 5 + [False]
        allowed, state = windows.hit(check)
        assert not allowed
        assert (state.previous, state.previous_ttl, state.current) == (10, 30, 5)
        assert state.current_ttl == 90  # the current window began at 60 and lives two windows

    def test_buckets_are_forgotten_two_windows_after_their_window_began(self) -> None:
        clock = FakeClock()
        windows = LocalWindows(clock=clock)
        for n in range(100):
            windows.hit(Check(key=f"k{n}", limit=1, window=10, cost=1))
        assert not windows.hit(Check(key="k0", limit=1, window=10, cost=1))[0]

        clock.advance(LocalWindows.SWEEP_SECONDS)

        assert windows.hit(Check(key="k0", limit=1, window=10, cost=1))[0]
        assert len(windows._windows) == 1  # the sweep dropped the other 99

    def test_a_check_above_the_limit_is_denied_and_leaves_no_bucket(self) -> None:
        windows = LocalWindows(clock=FakeClock())

        allowed, state = windows.hit(Check(key="k", limit=5, window=60, cost=6))

        assert not allowed
        assert (state.current, state.current_ttl) == (0, 0)
        assert windows._windows == {}


class TestWindowRule:
    """The sliding window rule is written once; Python and the Redis script must agree."""

    def test_python_and_the_redis_script_spell_the_same_rule(self) -> None:
        assert f"return {WEIGHTED_COUNT_EXPRESSION}" in inspect.getsource(weighted_count)
        assert f"return {ADMITS_EXPRESSION}" in inspect.getsource(admits)
        assert f"return {WEIGHTED_COUNT_EXPRESSION}" in HIT_AND_REPORT_LUA
        assert f"return {ADMITS_EXPRESSION}" in HIT_AND_REPORT_LUA

    async def test_lua_evaluates_the_rule_as_python_does(self) -> None:
        # Counts and TTLs in milliseconds, as the script sees them, around the edges.
        cases = list(
            itertools.product((0, 1, 7, 10), (0, 1, 29_999, 30_000, 60_000), (0, 3, 9), (1, 10))
        )
        script = (
            HIT_AND_REPORT_LUA.split("local replies")[0]
            + """
local out = {}
for i = 1, #ARGV, 4 do
    local previous, previous_ttl = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
    local current, cost = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    local weighted = weighted_count(previous, previous_ttl, 60000, current)
    out[#out + 1] = weighted .. ':' .. (admits(weighted, 10, cost) and 1 or 0)
end
return table.concat(out, ',')
"""
        )
        redis = Redis.from_url(SHARED_REDIS_URL)
        try:
            reply = await redis.eval(script, 0, *itertools.chain.from_iterable(cases))
        finally:
            await redis.aclose()

        expected = []
        for previous, previous_ttl, current, cost in cases:
            weighted = weighted_count(previous, previous_ttl, 60_000, current)
            expected.append(f"{weighted}:{int(admits(weighted, 10, cost))}")
        assert reply.decode().split(",") == expected


class TestRetryAfter:
    """Retry-After must point at the moment the denied request would fit, not just "later"."""

    def test_burst_in_a_fresh_window_waits_for_the_window_to_close(self) -> None:
        # 10/minute used up 10 s into the window: the window closes in 50 s, then fades.
        state = WindowState(window=60, previous=0, previous_ttl=0, current=10, current_ttl=110)

        assert state.seconds_until_fits(limit=10, cost=1) == 50
        # The whole limit at once: after the close, once the 10 have faded below one (54 s).
        assert state.seconds_until_fits(limit=10, cost=10) == pytest.approx(104)

    def test_fading_previous_window_frees_units_before_the_window_closes(self) -> None:
        # 10 last window (half faded: weight 5) + 5 now = 10; the previous window keeps fading.
        state = WindowState(window=60, previous=10, previous_ttl=30, current=5, current_ttl=90)

        assert state.seconds_until_fits(limit=10, cost=1) == pytest.approx(0)
        assert state.seconds_until_fits(limit=10, cost=3) == pytest.approx(12)

    def test_a_cost_above_the_limit_never_fits_within_a_window(self) -> None:
        state = WindowState(window=60, previous=0, previous_ttl=0, current=0, current_ttl=0)

        assert state.seconds_until_fits(limit=5, cost=6) == 120


CHILD_PROCESS = """
import asyncio, sys, time
from sitechat.core.ratelimit import RateLimiter, RateLimitPolicy, RouteClass

async def main() -> None:
    policy = RateLimitPolicy(limits={rc: "200/minute" for rc in RouteClass})
    limiter = RateLimiter(sys.argv[1], policy, key_prefix=sys.argv[2], storage_timeout_seconds=5)
    await limiter.hit(RouteClass.READ, "warm-up")  # connect before the start signal
    print("ready", flush=True)
    start_at = float(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def client() -> int:
        hits = [await limiter.hit(RouteClass.READ, "user:shared") for _ in range(15)]
        return sum(hit.allowed for hit in hits)

    print(sum(await asyncio.gather(*(client() for _ in range(20)))), flush=True)
    await limiter.close()

asyncio.run(main())
"""


class TestAcrossProcesses:
    async def test_two_processes_admit_exactly_the_limit_together(self) -> None:
        prefix = unique_key_prefix()
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CHILD_PROCESS,
                SHARED_REDIS_URL,
                prefix,
                cwd=REPO_ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        try:
            for child in children:
                assert child.stdout is not None
                ready = await asyncio.wait_for(child.stdout.readline(), timeout=20)
                assert ready.strip() == b"ready"
            start_at = f"{time.time() + 0.2}\n".encode()
            for child in children:  # both start their 300 attempts at the same instant
                assert child.stdin is not None
                child.stdin.write(start_at)
                await child.stdin.drain()
            outputs = [
                await asyncio.wait_for(child.communicate(), timeout=20) for child in children
            ]
        finally:
            for child in children:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
            await delete_keys_with_prefix(SHARED_REDIS_URL, prefix)

        admitted = [int(stdout.strip()) for stdout, _ in outputs]
        assert all(child.returncode == 0 for child in children)
        assert sum(admitted) == 200
        assert all(count > 0 for count in admitted)  # both really competed


class TestStorageOutage:
    async def test_reads_fail_open_and_auth_fails_closed_then_recover(self) -> None:
        async with private_redis() as server:
            limiter = RateLimiter(
                server.url,
                policy_with("100/minute"),
                storage_timeout_seconds=0.2,
                storage_retry_after_seconds=0,
            )
            throttle = LoginThrottle(limiter.storage)
            try:
                assert (await limiter.hit(RouteClass.READ, "user:a")).enforced
                await server.stop()

                with capture_logs() as logs:
                    read = await limiter.hit(RouteClass.READ, "user:a")
                    with pytest.raises(RateLimitUnavailable):
                        await limiter.hit(RouteClass.AUTH, "ip:127.0.0.1")
                    with pytest.raises(RateLimitUnavailable):
                        await throttle.check("alice@example.com", "127.0.0.1")

                assert read.allowed and not read.enforced
                assert rate_limit_headers(read) == {}
                warnings = [e for e in logs if e["event"] == "ratelimit.storage_unavailable"]
                assert {e["log_level"] for e in warnings} == {"warning"}
                policies = [e["policy"] for e in warnings]
                assert policies == ["fail_open", "fail_closed", "fail_closed"]

                await server.start()  # same port: the limiter reconnects by itself
                # Bounded retries: on a loaded machine the first reconnect can overrun 0.2 s.
                for _ in range(20):
                    try:
                        if (await limiter.hit(RouteClass.AUTH, "ip:127.0.0.1")).enforced:
                            break
                    except RateLimitUnavailable:
                        await asyncio.sleep(0.1)
                else:
                    pytest.fail("the limiter did not recover after Redis came back")
            finally:
                await limiter.close()

    async def test_outage_is_not_retried_on_every_request(self) -> None:
        async with private_redis() as server:
            limiter = RateLimiter(server.url, policy_with("100/minute"))
            try:
                await server.stop()
                with capture_logs() as logs:
                    for _ in range(5):
                        assert (await limiter.hit(RouteClass.READ, "user:a")).allowed
                assert len(logs) == 1  # one storage attempt, then the retry interval
            finally:
                await limiter.close()


# --- As API routes apply it -------------------------------------------------------------------


async def names_verified_callers(
    request: Request, route_class: RouteClass
) -> RateLimitSubject | None:
    """A stand-in for the app's resolver (`sitechat/auth/rate_limits.py`, tested on the real
    routes in tests/security): `sk_<name>_verified` is a verified caller named `name`."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not token.startswith("sk_") or not token.endswith("_verified"):
        return None
    return RateLimitSubject(identity="key:" + token.split("_")[1])


def build_app(
    limiter: RateLimiter | None,
    trusted_proxies: frozenset[str] = frozenset(),
    subjects: RateLimitSubjects | None = names_verified_callers,
) -> FastAPI:
    """The limiter as every API route applies it (`ApiRoute`), without a database: the
    subjects come from `subjects` (by default a stand-in that verifies nothing)."""
    app = FastAPI()
    install_exception_handlers(app)
    app.add_middleware(RequestContextMiddleware, config=MiddlewareConfig(max_body_bytes=1024))
    state = app.state = AppState(Settings(env=Environment.test), Components())
    state.rate_limiter = limiter
    state.rate_limit_subjects = subjects
    state.trusted_proxies = trusted_proxies
    router = api_router()

    @router.get("/read")
    async def read() -> dict[str, str]:
        return {}

    @router.get("/widget", openapi_extra=rate_limit_class(RouteClass.PUBLIC_WIDGET))
    async def widget() -> dict[str, str]:
        return {}

    app.include_router(router)
    return app


def as_caller(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer sk_{name:0>12}_verified"}


def client_for(app: FastAPI, peer_ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def memory_limiter() -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter(None, policy_with("2/minute"))
    yield limiter
    await limiter.close()


class TestRateLimitedRoutes:
    async def test_sets_the_decision_then_answers_429(self, memory_limiter: RateLimiter) -> None:
        async with client_for(build_app(memory_limiter), "10.0.0.1") as client:
            first = await client.get("/v1/read")
            await client.get("/v1/read")
            denied = await client.get("/v1/read")

        assert first.status_code == 200
        assert first.headers["RateLimit-Remaining"] == "1"
        assert denied.status_code == 429
        assert denied.headers["RateLimit-Remaining"] == "0"
        assert int(denied.headers["Retry-After"]) >= 1

    async def test_anonymous_callers_are_limited_per_ip(self, memory_limiter: RateLimiter) -> None:
        app = build_app(memory_limiter)
        async with client_for(app, "10.0.0.1") as first, client_for(app, "10.0.0.2") as second:
            statuses = [(await first.get("/v1/read")).status_code for _ in range(3)]
            other_ip = await second.get("/v1/read")

        assert statuses == [200, 200, 429]
        assert other_ip.status_code == 200

    async def test_users_behind_one_ip_have_their_own_buckets(
        self, memory_limiter: RateLimiter
    ) -> None:
        async with client_for(build_app(memory_limiter), "10.0.0.1") as client:
            alice = [(await client.get("/v1/read", headers=as_caller("alice"))).status_code]
            alice += [(await client.get("/v1/read", headers=as_caller("alice"))).status_code]
            alice += [(await client.get("/v1/read", headers=as_caller("alice"))).status_code]
            bob = await client.get("/v1/read", headers=as_caller("bob"))

        assert alice == [200, 200, 429]
        assert bob.status_code == 200

    async def test_unverified_credentials_are_charged_to_the_ip(
        self, memory_limiter: RateLimiter
    ) -> None:
        """Made-up keys and bad JWTs buy no bucket of their own (issue 13: 650 requests with
        random `sk_...` strings from one address got no 429)."""
        async with client_for(build_app(memory_limiter), "10.0.0.1") as client:
            invented = [
                (await client.get("/v1/read", headers=bad)).status_code
                for bad in (
                    {"Authorization": "Bearer sk_aaaaaaaaaaaa_made-up"},
                    {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.bad"},
                    {"Authorization": "Bearer sk_bbbbbbbbbbbb_made-up"},
                )
            ]
            verified = await client.get("/v1/read", headers=as_caller("alice"))

        assert invented == [200, 200, 429]  # the IP's 2/minute, whatever the credential
        assert verified.status_code == 200

    async def test_public_routes_also_limit_the_ip_behind_many_visitors(
        self, memory_limiter: RateLimiter
    ) -> None:
        async with client_for(build_app(memory_limiter), "10.0.0.1") as client:
            statuses = [
                (await client.get("/v1/widget", headers=as_caller(f"v{n}"))).status_code
                for n in range(3)
            ]

        assert statuses == [200, 200, 429]

    async def test_forwarded_for_is_honoured_only_from_a_trusted_proxy(
        self, memory_limiter: RateLimiter
    ) -> None:
        app = build_app(memory_limiter, trusted_proxies=frozenset({"10.0.0.254"}))

        async def statuses(client: httpx.AsyncClient, forwarded_for: str) -> list[int]:
            headers = {"x-forwarded-for": forwarded_for}
            return [(await client.get("/v1/read", headers=headers)).status_code for _ in range(3)]

        async with client_for(app, "10.0.0.254") as proxy, client_for(app, "10.0.0.9") as direct:
            # A client behind the proxy cannot escape by forging hops to the left of its own.
            assert await statuses(proxy, "1.1.1.1, 203.0.113.7") == [200, 200, 429]
            assert (
                await proxy.get("/v1/read", headers={"x-forwarded-for": "9.9.9.9, 203.0.113.7"})
            ).status_code == 429
            assert (
                await proxy.get("/v1/read", headers={"x-forwarded-for": "203.0.113.8"})
            ).status_code == 200
            # From an untrusted peer the header is ignored: every forged value shares one bucket.
            forged = [
                (await direct.get("/v1/read", headers={"x-forwarded-for": f"198.51.100.{n}"}))
                for n in range(3)
            ]
        assert [r.status_code for r in forged] == [200, 200, 429]

    async def test_no_limiter_means_no_limits(self) -> None:
        async with client_for(build_app(None), "10.0.0.1") as client:
            responses = [await client.get("/v1/read") for _ in range(5)]

        assert {r.status_code for r in responses} == {200}
        assert "RateLimit-Limit" not in responses[-1].headers


class TestHeadersAgree:
    """`RateLimit-Reset`, `RateLimit-Remaining` and `Retry-After` tell one story, and a client
    that waits as long as `Retry-After` says gets through (the clock is the limiter's own)."""

    async def test_waiting_retry_after_is_always_enough(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(None, policy_with("10/minute"), clock=clock)
        # Bursts and pauses at uneven offsets, so denials fall in fresh windows, in windows
        # whose previous one still fades, and exactly on window edges.
        pauses = itertools.cycle([0.0, 0.0, 0.4, 3.0, 0.0, 7.5, 0.0, 0.0, 13.0, 0.1, 29.0])
        denials = 0
        try:
            async with client_for(build_app(limiter), "10.0.0.1") as client:
                for _ in range(400):
                    clock.advance(next(pauses))
                    response = await client.get("/v1/read")
                    reset = int(response.headers["RateLimit-Reset"])
                    remaining = int(response.headers["RateLimit-Remaining"])
                    assert 0 <= reset <= 60
                    if response.status_code == 200:
                        assert "Retry-After" not in response.headers
                        continue
                    denials += 1
                    assert response.status_code == 429
                    retry_after = int(response.headers["Retry-After"])
                    assert remaining == 0
                    assert reset == retry_after
                    clock.advance(retry_after)
                    after_waiting = await client.get("/v1/read")
                    assert after_waiting.status_code == 200, (clock.now, retry_after)
        finally:
            await limiter.close()
        assert denials > 20  # the pattern did run into the limit, many times

    async def test_the_last_unit_says_when_the_next_one_comes(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(None, policy_with("2/minute"), clock=clock)
        try:
            async with client_for(build_app(limiter), "10.0.0.1") as client:
                first = await client.get("/v1/read")
                clock.advance(10)
                last = await client.get("/v1/read")
                clock.advance(int(last.headers["RateLimit-Reset"]))
                next_one = await client.get("/v1/read")
        finally:
            await limiter.close()

        assert (first.headers["RateLimit-Remaining"], first.headers["RateLimit-Reset"]) == (
            "1",
            "60",
        )
        assert last.headers["RateLimit-Remaining"] == "0"
        assert int(last.headers["RateLimit-Reset"]) == 51  # the window closes 50 s later
        assert next_one.status_code == 200
