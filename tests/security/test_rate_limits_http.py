"""Rate limits on the real routes: headers, 429 problems, buckets, proxies, several processes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from sitechat.config import Settings
from tests.core.ratelimit_conftest_helpers import (
    SHARED_REDIS_URL,
    delete_keys_with_prefix,
    private_redis,
    unique_key_prefix,
)
from tests.fixtures.accounts import assert_problem, create_api_key, register
from tests.security.conftest import (
    asgi_client,
    rate_limited_settings,
    running_app,
    server_environment,
    uvicorn_server,
)

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy")


class TestHeadersAndBuckets:
    async def test_real_read_route_counts_down_then_answers_429(self, settings: Settings) -> None:
        limited = rate_limited_settings(settings, read="3/minute")
        async with running_app(limited) as app, asgi_client(app) as http:
            account = await register(http)
            remaining = []
            for _ in range(3):
                response = await http.get("/v1/chatbots", headers=account.headers)
                assert response.status_code == 200
                assert all(name in response.headers for name in RATE_HEADERS)
                assert response.headers["ratelimit-policy"] == "3;w=60"
                remaining.append(response.headers["ratelimit-remaining"])
            assert remaining == ["2", "1", "0"]
            denied = await http.get("/v1/chatbots", headers=account.headers)
            body = assert_problem(denied, 429, "rate-limited")
            assert body["request_id"] == denied.headers["x-request-id"]
            assert 1 <= int(denied.headers["retry-after"]) <= 60

    async def test_api_keys_and_users_have_their_own_buckets(self, settings: Settings) -> None:
        limited = rate_limited_settings(settings, read="2/minute")
        async with running_app(limited) as app, asgi_client(app) as http:
            first = await register(http)
            second = await register(http)
            key = {"Authorization": f"Bearer {await create_api_key(http, first)}"}
            for _ in range(2):
                assert (await http.get("/v1/chatbots", headers=first.headers)).is_success
            assert_problem(await http.get("/v1/chatbots", headers=first.headers), 429)
            # Same workspace, same client address: the key and the other user still pass.
            assert (await http.get("/v1/chatbots", headers=key)).status_code == 200
            assert (await http.get("/v1/chatbots", headers=second.headers)).status_code == 200

    async def test_anonymous_auth_routes_are_limited_per_client_ip(
        self, settings: Settings
    ) -> None:
        wrong = {"email": "nobody@example.com", "password": "not the password at all"}
        async with running_app(rate_limited_settings(settings, auth="3/minute")) as app:
            async with asgi_client(app, "198.51.100.1") as first_host:
                statuses = [
                    (await first_host.post("/v1/auth/login", json=wrong)).status_code
                    for _ in range(4)
                ]
                denied = await first_host.post("/v1/auth/password-reset", json={"email": "a@b.co"})
            async with asgi_client(app, "198.51.100.2") as second_host:
                other = await second_host.post("/v1/auth/login", json=wrong)
        assert statuses == [401, 401, 401, 429]
        assert_problem(denied, 429, "rate-limited")  # the whole auth class shares the bucket
        assert other.status_code == 401
        assert other.headers["ratelimit-limit"] == "3"

    async def test_forwarded_for_is_honoured_only_from_a_trusted_proxy(
        self, settings: Settings
    ) -> None:
        limited = rate_limited_settings(settings, auth="1/minute", trusted_proxies=["10.0.0.1"])
        wrong = {"email": "nobody@example.com", "password": "not the password at all"}

        async def login_from(http: httpx.AsyncClient, forwarded_for: str) -> int:
            response = await http.post(
                "/v1/auth/login", json=wrong, headers={"X-Forwarded-For": forwarded_for}
            )
            return response.status_code

        async with running_app(limited) as app:
            async with asgi_client(app, "10.0.0.1") as proxy:
                assert await login_from(proxy, "192.0.2.10") == 401
                assert await login_from(proxy, "192.0.2.11") == 401  # another client
                assert await login_from(proxy, "192.0.2.10") == 429
            async with asgi_client(app, "192.0.2.99") as direct:
                # Not a proxy: its X-Forwarded-For is ignored, the peer address counts.
                assert await login_from(direct, "192.0.2.50") == 401
                assert await login_from(direct, "192.0.2.51") == 429


class TestSeveralProcesses:
    async def test_two_processes_sharing_redis_admit_exactly_the_limit(
        self, database_url: str, tmp_path: Path
    ) -> None:
        prefix = unique_key_prefix()
        env = server_environment(
            database_url,
            REDIS_URL=SHARED_REDIS_URL,
            SITECHAT_RATELIMIT_ENABLED="true",
            SITECHAT_RATELIMIT_READ="30/minute",
            SITECHAT_RATELIMIT_KEY_PREFIX=prefix,
            # Exactness, not the outage policy, is under test: on a loaded machine a Redis
            # answer slower than the default 0.5 s would fail open and admit uncounted requests.
            SITECHAT_RATELIMIT_STORAGE_TIMEOUT_SECONDS="5",
        )
        try:
            with (
                uvicorn_server(env, tmp_path / "one.log") as one,
                uvicorn_server(env, tmp_path / "two.log") as two,
            ):
                async with httpx.AsyncClient(base_url=one.base_url, timeout=10) as setup:
                    account = await register(setup)

                async with (
                    httpx.AsyncClient(base_url=one.base_url, timeout=10) as first,
                    httpx.AsyncClient(base_url=two.base_url, timeout=10) as second,
                ):
                    # 40 concurrent requests per process, interleaved, all in flight at once.
                    responses = await asyncio.gather(
                        *(
                            http.get("/v1/users/me", headers=account.headers)
                            for _ in range(40)
                            for http in (first, second)
                        )
                    )
        finally:
            await delete_keys_with_prefix(SHARED_REDIS_URL, prefix)
        statuses = [response.status_code for response in responses]
        assert statuses.count(200) == 30, statuses
        assert statuses.count(429) == 50
        # Both processes counted in the same bucket: every answer carries its headers.
        assert {response.headers["ratelimit-limit"] for response in responses} == {"30"}
        served_by = {str(response.url).rsplit(":", 1)[1].split("/")[0] for response in responses}
        assert len(served_by) == 2


class TestRedisOutage:
    async def test_reads_fail_open_and_login_fails_closed(
        self, database_url: str, tmp_path: Path
    ) -> None:
        async with private_redis() as redis_server:
            env = server_environment(
                database_url,
                REDIS_URL=redis_server.url,
                SITECHAT_RATELIMIT_ENABLED="true",
                SITECHAT_RATELIMIT_KEY_PREFIX=f"outage-{uuid.uuid4().hex}",
            )
            with uvicorn_server(env, tmp_path / "api.log") as server:
                async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                    account = await register(http)
                    counted = await http.get("/v1/users/me", headers=account.headers)
                    assert "ratelimit-limit" in counted.headers

                    await redis_server.stop()

                    read = await http.get("/v1/users/me", headers=account.headers)
                    login = await http.post(
                        "/v1/auth/login",
                        json={"email": account.email, "password": account.password},
                    )
                log_text = server.log_text()
        assert read.status_code == 200, read.text
        assert "ratelimit-limit" not in read.headers  # nothing was counted
        body = assert_problem(login, 503, "rate-limit-unavailable")
        assert int(login.headers["retry-after"]) >= 1
        assert body["request_id"]
        assert '"ratelimit.storage_unavailable"' in log_text
        assert '"fail_open"' in log_text
