"""Security headers on every response, a relaxed CSP only for the docs page."""

from __future__ import annotations

import httpx


class TestSecurityHeaders:
    async def test_api_responses_carry_strict_headers(self, client: httpx.AsyncClient) -> None:
        for response in (await client.get("/healthz"), await client.get("/missing")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
            assert "strict-transport-security" not in response.headers
            assert "server" not in response.headers

    async def test_docs_get_a_csp_that_lets_swagger_load(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")
        assert response.status_code == 200
        assert "script-src" in response.headers["content-security-policy"]

    async def test_hsts_only_over_https(self, app: object) -> None:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            response = await http.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=")
