"""Key rotation as an operator configures it: `SITECHAT_AUTH_JWT_PREVIOUS_KEYS="kid:secret"`.

tests/accounts/test_access_tokens.py covers rotation with settings objects; this covers the
environment variable's parsing end to end (a retired kid accepted, an unlisted kid refused).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import jwt
import pytest

from sitechat.config import AuthSettings, Settings
from tests.fixtures.accounts import assert_problem, bearer, register
from tests.security.conftest import running_app

RETIRED_SECRET = "the-retired-signing-secret-0123456789abcdef"


async def test_retired_key_from_the_environment_verifies_and_unlisted_kid_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITECHAT_AUTH_JWT_KEY_ID", "k2")
    monkeypatch.setenv("SITECHAT_AUTH_JWT_SECRET", "the-current-signing-secret-0123456789abcd")
    monkeypatch.setenv("SITECHAT_AUTH_JWT_PREVIOUS_KEYS", f"k1:{RETIRED_SECRET}")
    rotated = settings.model_copy(update={"auth": AuthSettings()})
    async with running_app(rotated) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            account = await register(http)
            now = int(datetime.now(UTC).timestamp())
            claims = {
                "sub": str(account.user_id),
                "iss": rotated.auth.jwt_issuer,
                "aud": rotated.auth.jwt_audience,
                "iat": now,
                "exp": now + 300,
                # The session the registration signed in.
                "sid": jwt.decode(account.access_token, options={"verify_signature": False})["sid"],
            }
            retired = jwt.encode(claims, RETIRED_SECRET, algorithm="HS256", headers={"kid": "k1"})
            unlisted = jwt.encode(claims, RETIRED_SECRET, algorithm="HS256", headers={"kid": "k0"})
            assert jwt.get_unverified_header(account.access_token)["kid"] == "k2"
            assert (await http.get("/v1/users/me", headers=bearer(retired))).status_code == 200
            assert_problem(await http.get("/v1/users/me", headers=bearer(unlisted)), 401)
