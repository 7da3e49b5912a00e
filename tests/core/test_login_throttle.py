from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from sitechat.core.login_throttle import LoginThrottle, LoginThrottlePolicy, ThrottleState
from sitechat.core.ratelimit import RateLimiter
from tests.core.ratelimit_conftest_helpers import (
    SHARED_REDIS_URL,
    FakeClock,
    delete_keys_with_prefix,
    unique_key_prefix,
)

POLICY = LoginThrottlePolicy(
    max_account_failures=3,
    failure_window_seconds=3600,
    first_lockout_seconds=60,
    max_lockout_seconds=300,
    max_ip_failures=8,
    ip_window_seconds=900,
)
IP = "198.51.100.7"
OTHER_IP = "198.51.100.8"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def throttle(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[LoginThrottle]:
    storage_uri = None if request.param == "memory" else SHARED_REDIS_URL
    prefix = unique_key_prefix()
    # Shares the request limiter's storage, as the app wires it.
    limiter = RateLimiter(storage_uri, key_prefix=prefix)
    yield LoginThrottle(limiter.storage, POLICY, clock=clock)
    await limiter.close()
    if storage_uri is not None:
        await delete_keys_with_prefix(storage_uri, prefix)


async def fail(throttle: LoginThrottle, email: str, times: int, ip: str = IP) -> None:
    for _ in range(times):
        await throttle.record_failure(email, ip)


class TestAccountLockout:
    async def test_locks_after_max_failures(self, throttle: LoginThrottle) -> None:
        await fail(throttle, "alice@example.com", 2)
        assert await throttle.check("alice@example.com", IP) == ThrottleState(True, 0)

        await fail(throttle, "alice@example.com", 1)

        assert await throttle.check("alice@example.com", IP) == ThrottleState(False, 60)
        # The lock is on the account, whichever address asks.
        assert await throttle.check("alice@example.com", OTHER_IP) == ThrottleState(False, 60)
        assert (await throttle.check("bob@example.com", IP)).allowed

    async def test_email_spellings_share_one_account(self, throttle: LoginThrottle) -> None:
        await fail(throttle, "Alice@Example.COM ", 2)
        await fail(throttle, "alice@example.com", 1)

        assert not (await throttle.check("ALICE@example.com", IP)).allowed

    async def test_lock_ends_with_time_and_then_grows(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        await fail(throttle, "alice@example.com", 3)
        clock.advance(59)
        assert await throttle.check("alice@example.com", IP) == ThrottleState(False, 1)
        clock.advance(1)
        assert (await throttle.check("alice@example.com", IP)).allowed

        lockouts = []
        for _ in range(4):
            await fail(throttle, "alice@example.com", 1)
            state = await throttle.check("alice@example.com", IP)
            lockouts.append(state.retry_after)
            clock.advance(state.retry_after)

        assert lockouts == [120, 240, 300, 300]  # doubling, capped at max_lockout_seconds

    async def test_unlock_lifts_the_lock_at_once(self, throttle: LoginThrottle) -> None:
        await fail(throttle, "alice@example.com", 5)

        await throttle.unlock("alice@example.com")

        assert (await throttle.check("alice@example.com", IP)).allowed
        await fail(throttle, "alice@example.com", 2)  # a fresh allowance, not one more guess
        assert (await throttle.check("alice@example.com", IP)).allowed

    async def test_is_locked_only_while_a_lockout_runs(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        assert not await throttle.is_locked("alice@example.com")
        await fail(throttle, "alice@example.com", 2)
        assert not await throttle.is_locked("alice@example.com")  # failures, no lockout
        await fail(throttle, "alice@example.com", 1)
        assert await throttle.is_locked("Alice@example.com")
        clock.advance(60)
        assert not await throttle.is_locked("alice@example.com")

    async def test_success_clears_earlier_failures(self, throttle: LoginThrottle) -> None:
        await fail(throttle, "alice@example.com", 2)
        await throttle.record_success("alice@example.com", IP)
        await fail(throttle, "alice@example.com", 2)

        assert (await throttle.check("alice@example.com", IP)).allowed

    async def test_lockout_is_logged_without_the_email(self, throttle: LoginThrottle) -> None:
        with capture_logs() as logs:
            await fail(throttle, "alice@example.com", 3)

        locked = [e for e in logs if e["event"] == "auth.login_locked"]
        assert len(locked) == 1
        assert locked[0]["lockout_seconds"] == 60
        assert "alice" not in repr(locked[0])


class TestIpLimit:
    async def test_one_ip_guessing_many_accounts_is_blocked(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        for n in range(8):  # one failure each: no account reaches its own limit
            await throttle.record_failure(f"user{n}@example.com", IP)

        blocked = await throttle.check("fresh@example.com", IP)

        assert not blocked.allowed
        assert 0 < blocked.retry_after <= 900
        assert (await throttle.check("fresh@example.com", OTHER_IP)).allowed
        clock.advance(blocked.retry_after)
        assert (await throttle.check("fresh@example.com", IP)).allowed

    async def test_ipv6_addresses_in_one_slash_64_count_together(
        self, throttle: LoginThrottle
    ) -> None:
        for n in range(8):
            await throttle.record_failure(f"user{n}@example.com", f"2001:db8:1:2::{n + 1:x}")

        assert not (await throttle.check("fresh@example.com", "2001:db8:1:2::ffff")).allowed
        assert (await throttle.check("fresh@example.com", "2001:db8:1:3::1")).allowed
