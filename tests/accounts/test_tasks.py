"""The periodic purge of spent credentials."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from structlog.testing import capture_logs

from sitechat.accounts.tasks import purge_expired_tokens
from sitechat.core.clock import FrozenClock
from sitechat.models.accounts import PasswordResetToken, RefreshToken
from sitechat.worker.queue import queue
from tests.conftest import run_queued_jobs
from tests.fixtures.accounts import register


async def _count(app: object, model: type[RefreshToken] | type[PasswordResetToken]) -> int:
    async with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class TestPurgeExpiredTokens:
    async def test_deletes_only_tokens_spent_or_expired_over_a_day_ago(
        self, client: httpx.AsyncClient, app: object, frozen_clock: FrozenClock
    ) -> None:
        account = await register(client)
        rotated = await client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert rotated.status_code == 200
        with capture_logs():
            await client.post("/v1/auth/password-reset", json={"email": account.email})
            await run_queued_jobs(app)
        assert await _count(app, RefreshToken) == 2

        async def purge() -> tuple[int, int]:
            async with app.state.sessionmaker() as session, session.begin():  # type: ignore[attr-defined]
                return await purge_expired_tokens(session)

        assert await purge() == (0, 0)
        # A day on: the used refresh token and the expired reset token go; the live one stays.
        frozen_clock.advance(timedelta(days=1, hours=2))
        assert await purge() == (1, 1)
        assert await _count(app, RefreshToken) == 1
        assert await _count(app, PasswordResetToken) == 0
        live = await client.post(
            "/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
        )
        assert live.status_code == 200

    def test_is_registered_as_a_periodic_task(self) -> None:
        assert "accounts.purge_expired_tokens" in queue.tasks
