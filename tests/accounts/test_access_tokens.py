"""Access tokens that must be refused, and key rotation that must keep working."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from pydantic import SecretStr

from sitechat.app import create_app
from sitechat.config import Settings
from sitechat.core.clock import FrozenClock
from tests.fixtures.accounts import Account, assert_problem, bearer, register

ME = "/v1/users/me"


def _claims(settings: Settings, user_id: uuid.UUID, **overrides: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "sub": str(user_id),
        "iss": settings.auth.jwt_issuer,
        "aud": settings.auth.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def _sign(claims: dict[str, object], secret: str, kid: str = "k1", alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg, headers={"kid": kid})


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await register(client)


class TestRefusedAccessTokens:
    async def test_missing_or_garbage_credentials(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(ME), 401, "unauthorized")
        assert_problem(await client.get(ME, headers=bearer("garbage")), 401)
        assert_problem(await client.get(ME, headers={"Authorization": "Basic eDp5"}), 401)

    async def test_expired_by_the_clock(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock, settings: Settings
    ) -> None:
        account = await register(client)
        assert (await client.get(ME, headers=account.headers)).status_code == 200
        frozen_clock.advance(timedelta(seconds=settings.auth.access_token_ttl_seconds + 1))
        assert_problem(await client.get(ME, headers=account.headers), 401)

    async def test_wrong_signature(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        token = _sign(_claims(settings, account.user_id), "another-secret-of-enough-length!!")
        assert_problem(await client.get(ME, headers=bearer(token)), 401)

    async def test_wrong_audience_and_issuer(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        secret = settings.auth.jwt_secret.get_secret_value()
        for override in ({"aud": "someone-else"}, {"iss": "evil"}, {"aud": None}):
            claims = {k: v for k, v in _claims(settings, account.user_id, **override).items() if v}
            assert_problem(await client.get(ME, headers=bearer(_sign(claims, secret))), 401)

    async def test_alg_none(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        header = _b64({"alg": "none", "typ": "JWT", "kid": "k1"})
        unsigned = f"{header}.{_b64(_claims(settings, account.user_id))}."
        assert_problem(await client.get(ME, headers=bearer(unsigned)), 401)

    async def test_tampered_payload(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        other = await register(client)
        header, _, signature = account.access_token.split(".")
        forged_payload = _b64(_claims(settings, other.user_id))
        forged = f"{header}.{forged_payload}.{signature}"
        assert_problem(await client.get(ME, headers=bearer(forged)), 401)

    async def test_unknown_kid(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        secret = settings.auth.jwt_secret.get_secret_value()
        token = _sign(_claims(settings, account.user_id), secret, kid="k9")
        assert_problem(await client.get(ME, headers=bearer(token)), 401)

    async def test_well_signed_token_of_a_deleted_user(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        secret = settings.auth.jwt_secret.get_secret_value()
        token = _sign(_claims(settings, uuid.uuid4()), secret)
        assert_problem(await client.get(ME, headers=bearer(token)), 401)


@pytest.fixture
async def rotated_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose current key is k2, with the original k1 kept for verification only."""
    rotated = settings.model_copy(
        update={
            "auth": settings.auth.model_copy(
                update={
                    "jwt_key_id": "k2",
                    "jwt_secret": SecretStr("the-new-signing-secret-0123456789abcdef"),
                    "jwt_previous_keys": {"k1": settings.auth.jwt_secret},
                }
            )
        }
    )
    application = create_app(rotated)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://rotated") as http:
            yield http


class TestKeyRotation:
    async def test_previous_key_still_verifies_and_new_tokens_use_the_new_kid(
        self, client: httpx.AsyncClient, rotated_client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        old_token_on_new_app = await rotated_client.get(ME, headers=account.headers)
        assert old_token_on_new_app.status_code == 200, old_token_on_new_app.text

        fresh = await rotated_client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        new_token = fresh.json()["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == "k2"
        assert (await rotated_client.get(ME, headers=bearer(new_token))).status_code == 200
        # An app that never heard of k2 refuses it.
        assert_problem(await client.get(ME, headers=bearer(new_token)), 401)


class TestSignedOutSessions:
    async def test_logout_ends_the_sessions_access_token_at_once(
        self, client: httpx.AsyncClient, account: Account
    ) -> None:
        other = await client.post(
            "/v1/auth/login", json={"email": account.email, "password": account.password}
        )
        assert (await client.get(ME, headers=account.headers)).status_code == 200

        out = await client.post("/v1/auth/logout", json={"refresh_token": account.refresh_token})

        assert out.status_code == 204
        assert_problem(await client.get(ME, headers=account.headers), 401)
        # Another session of the same person is not signed out by this one's logout.
        other_headers = bearer(other.json()["access_token"])
        assert (await client.get(ME, headers=other_headers)).status_code == 200

    async def test_a_password_change_ends_every_earlier_session(
        self, client: httpx.AsyncClient, account: Account
    ) -> None:
        other = await client.post(
            "/v1/auth/login", json={"email": account.email, "password": account.password}
        )
        other_headers = bearer(other.json()["access_token"])
        assert (await client.get(ME, headers=other_headers)).status_code == 200

        changed = await client.post(
            "/v1/users/me/password",
            json={
                "current_password": account.password,
                "new_password": "another long uncommon passphrase",
            },
            headers=account.headers,
        )

        assert changed.status_code == 200, changed.text
        assert_problem(await client.get(ME, headers=other_headers), 401)
        assert_problem(await client.get(ME, headers=account.headers), 401)
        fresh = bearer(changed.json()["access_token"])
        assert (await client.get(ME, headers=fresh)).status_code == 200

    async def test_reusing_a_spent_refresh_token_ends_the_sessions_access_tokens(
        self, client: httpx.AsyncClient, account: Account
    ) -> None:
        rotated = await client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        current = bearer(rotated.json()["access_token"])
        assert (await client.get(ME, headers=current)).status_code == 200

        replay = await client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )

        assert replay.status_code == 401
        assert_problem(await client.get(ME, headers=current), 401)

    async def test_a_token_without_a_session_is_refused(
        self, client: httpx.AsyncClient, account: Account, settings: Settings
    ) -> None:
        secret = settings.auth.jwt_secret.get_secret_value()
        no_sid = _sign(_claims(settings, account.user_id), secret)
        made_up_sid = _sign(_claims(settings, account.user_id, sid=str(uuid.uuid4())), secret)
        assert_problem(await client.get(ME, headers=bearer(no_sid)), 401)
        assert_problem(await client.get(ME, headers=bearer(made_up_sid)), 401)
