"""Rate limits on the real routes: headers, 429 problems, buckets, proxies, several processes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from sitechat.billing.grants import grant_plan
from sitechat.chat import visitor_tokens
from sitechat.config import AuthSettings, Settings
from sitechat.models import Visibility
from tests.core.ratelimit_conftest_helpers import (
    SHARED_REDIS_URL,
    delete_keys_with_prefix,
    private_redis,
    unique_key_prefix,
)
from tests.fixtures.accounts import assert_problem, create_api_key, register
from tests.fixtures.chat import create_account, create_chatbot
from tests.fixtures.plans import SHIPPED_PLANS
from tests.security.conftest import (
    asgi_client,
    rate_limited_settings,
    running_app,
    server_environment,
    uvicorn_server,
)

SITE = "https://shop.example.com"
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


class TestBucketsOfVerifiedCallers:
    """Issue 13: invented credentials, extra keys and the plan must not change what a client
    may send."""

    async def test_made_up_keys_and_bad_tokens_count_against_the_client_ip(
        self, settings: Settings
    ) -> None:
        limited = rate_limited_settings(settings, read="3/minute")
        async with running_app(limited) as app, asgi_client(app) as http:
            invented = [f"Bearer sk_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}" for _ in range(3)]
            invented += ["Bearer not.a.jwt", f"Bearer sk_{uuid.uuid4().hex[:12]}_x"]
            statuses = [
                (await http.get("/v1/chatbots", headers={"Authorization": bearer})).status_code
                for bearer in invented
            ]
            async with asgi_client(app, peer="198.51.100.9") as elsewhere:
                from_elsewhere = await elsewhere.get(
                    "/v1/chatbots", headers={"Authorization": "Bearer sk_000000000000_x"}
                )

        assert statuses == [401, 401, 401, 429, 429]
        assert from_elsewhere.status_code == 401  # another address has its own bucket

    async def test_a_workspaces_keys_share_one_bucket(self, settings: Settings) -> None:
        limited = rate_limited_settings(settings, read="3/minute")
        async with running_app(limited) as app, asgi_client(app) as http:
            owner = await register(http)
            keys = [
                {"Authorization": f"Bearer {await create_api_key(http, owner, name=f'k{n}')}"}
                for n in range(3)
            ]
            statuses = [(await http.get("/v1/chatbots", headers=key)).status_code for key in keys]
            fourth = await http.get("/v1/chatbots", headers=keys[0])

        assert statuses == [200, 200, 200]
        assert_problem(fourth, 429, "rate-limited")

    async def test_capacity_classes_are_charged_to_the_workspace_for_people_and_keys(
        self, settings: Settings
    ) -> None:
        limited = rate_limited_settings(settings, crawl_start="2/hour")
        async with running_app(limited) as app, asgi_client(app) as http:
            owner = await register(http)
            key = {"Authorization": f"Bearer {await create_api_key(http, owner)}"}
            path = f"/v1/chatbots/{uuid.uuid4()}/crawls"
            body = {"url": "https://docs.example.com/"}
            by_person = await http.post(path, json=body, headers=owner.headers)
            by_key = await http.post(path, json=body, headers=key)
            again_by_person = await http.post(path, json=body, headers=owner.headers)

        assert (by_person.status_code, by_key.status_code) == (404, 404)  # charged, then 404
        assert_problem(again_by_person, 429, "rate-limited")

    async def test_limits_grow_with_the_plan(self, settings: Settings) -> None:
        limited = rate_limited_settings(settings, read="3/minute")
        async with running_app(limited) as app, asgi_client(app) as http:
            free, business = await register(http), await register(http)
            async with app.state.sessionmaker() as session, session.begin():
                await grant_plan(
                    session, business.workspace_id, SHIPPED_PLANS.get("business"), "month"
                )
            free_key = {"Authorization": f"Bearer {await create_api_key(http, free)}"}
            business_key = {"Authorization": f"Bearer {await create_api_key(http, business)}"}
            free_statuses = [
                (await http.get("/v1/chatbots", headers=free_key)).status_code for _ in range(4)
            ]
            business_answers = [
                await http.get("/v1/chatbots", headers=business_key) for _ in range(4)
            ]

        assert free_statuses == [200, 200, 200, 429]
        assert [answer.status_code for answer in business_answers] == [200] * 4
        # Business: 20 times the configured 3 a minute (docs/decisions, per-plan rate limits).
        assert business_answers[0].headers["ratelimit-policy"] == "60;w=60"
        assert business_answers[-1].headers["ratelimit-remaining"] == "56"

    async def test_widget_visitors_have_their_own_buckets_wherever_they_come_from(
        self, settings: Settings
    ) -> None:
        limited = rate_limited_settings(settings, public_widget="3/minute")
        async with running_app(limited) as app:
            chatbot = await create_chatbot(
                app, await create_account(app), visibility=Visibility.public, allowed_origins=[SITE]
            )
            visitors = []
            for peer in ("198.51.100.1", "198.51.100.2"):
                async with asgi_client(app, peer=peer) as http:
                    started = await http.post(
                        f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
                    )
                    assert started.status_code == 201, started.text
                    visitors.append(started.json())

            async def read_messages(peer: str, visitor: dict[str, str]) -> int:
                async with asgi_client(app, peer=peer) as http:
                    response = await http.get(
                        f"/v1/public/conversations/{visitor['conversation_id']}/messages",
                        headers={
                            "Origin": SITE,
                            "Authorization": f"Bearer {visitor['visitor_token']}",
                        },
                    )
                    return response.status_code

            first = [await read_messages("198.51.100.1", visitors[0]) for _ in range(2)]
            # The first visitor moves to another address: its own bucket follows it.
            moved = await read_messages("203.0.113.50", visitors[0])
            after_moving = await read_messages("203.0.113.51", visitors[0])
            second = await read_messages("198.51.100.2", visitors[1])

        assert first == [200, 200]  # its start used one of the address's 3, the visitor's 2
        assert moved == 200
        assert after_moving == 429
        assert second == 200

    async def test_a_widget_request_verifies_its_visitor_token_once(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verified: list[AuthSettings] = []
        keys_of = visitor_tokens._verification_keys

        def counting(auth: AuthSettings) -> dict[str, str]:
            verified.append(auth)  # every verification looks its keys up once
            return keys_of(auth)

        limited = rate_limited_settings(settings, public_widget="30/minute")
        async with running_app(limited) as app, asgi_client(app) as http:
            chatbot = await create_chatbot(
                app, await create_account(app), visibility=Visibility.public, allowed_origins=[SITE]
            )
            started = await http.post(
                f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
            )
            visitor = started.json()
            monkeypatch.setattr(visitor_tokens, "_verification_keys", counting)
            response = await http.get(
                f"/v1/public/conversations/{visitor['conversation_id']}/messages",
                headers={"Origin": SITE, "Authorization": f"Bearer {visitor['visitor_token']}"},
            )

        assert response.status_code == 200, response.text
        assert response.headers["ratelimit-limit"] == "30"  # charged to the visitor's bucket
        assert len(verified) == 1  # by the limiter; the route reuses its claims


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
