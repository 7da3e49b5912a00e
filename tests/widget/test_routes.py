"""Serving the widget script (type, caching, versions, gzip) and the development demo page."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sitechat.app import create_app
from sitechat.config import Environment, Settings
from sitechat.widget.assets import accepts_gzip, widget_script
from tests.fixtures.accounts import assert_problem

MAX_GZIPPED_BYTES = 30 * 1024
JS_TYPE = "text/javascript; charset=utf-8"


@pytest.fixture
async def development_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings.model_copy(update={"env": Environment.development}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        yield http


class TestScript:
    async def test_latest_script_is_javascript_cached_briefly(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})

        assert response.status_code == 200
        assert response.headers["content-type"] == JS_TYPE
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-encoding" not in response.headers
        assert "Accept-Encoding" in response.headers["vary"]
        assert response.content == widget_script().body
        assert b"sitechat-widget" in response.content

    async def test_a_head_request_answers_like_get(self, client: httpx.AsyncClient) -> None:
        # Link checkers and `curl -I` ask with HEAD; it was a 405.
        response = await client.head("/widget.js", headers={"Accept-Encoding": "identity"})

        assert response.status_code == 200
        assert response.headers["content-type"] == JS_TYPE
        assert int(response.headers["content-length"]) == len(widget_script().body)

    async def test_gzip_when_accepted_and_under_30_kb(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/widget.js", headers={"Accept-Encoding": "br, gzip"})
        raw = await client.get("/widget.js", headers={"Accept-Encoding": "gzip;q=0"})

        assert response.headers["content-encoding"] == "gzip"
        # httpx decodes it; the wire size is the stored gzipped body.
        assert response.content == widget_script().body
        assert int(response.headers["content-length"]) == len(widget_script().gzipped)
        assert len(widget_script().gzipped) < MAX_GZIPPED_BYTES
        assert gzip.decompress(widget_script().gzipped) == widget_script().body
        assert "content-encoding" not in raw.headers

    async def test_versioned_url_is_immutable_and_old_versions_redirect(
        self, client: httpx.AsyncClient
    ) -> None:
        version = widget_script().version

        current = await client.get(f"/widget/{version}.js")
        old = await client.get("/widget/0123456789ab.js")
        garbage = await client.get("/widget/not-a-version!.js")

        assert current.status_code == 200
        assert current.headers["content-type"] == JS_TYPE
        assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert old.status_code == 307
        assert old.headers["location"] == "/widget.js"
        assert_problem(garbage, 404)

    async def test_etag_revalidation_is_304(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})

        again = await client.get(
            "/widget.js",
            headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]},
        )
        other_encoding = await client.get(
            "/widget.js",
            headers={"Accept-Encoding": "identity", "If-None-Match": first.headers["etag"]},
        )

        assert again.status_code == 304
        assert again.content == b""
        assert other_encoding.status_code == 200

    def test_accept_encoding_parsing(self) -> None:
        assert accepts_gzip("gzip, deflate, br")
        assert accepts_gzip("*")
        assert accepts_gzip("GZIP;q=0.5")
        assert not accepts_gzip("")
        assert not accepts_gzip("br")
        assert not accepts_gzip("gzip;q=0")
        assert not accepts_gzip("gzip;q=abc")


class TestDemoPage:
    async def test_development_page_embeds_the_versioned_script(
        self, development_client: httpx.AsyncClient
    ) -> None:
        chatbot_id = uuid.uuid4()

        response = await development_client.get(f"/widget/demo?chatbot_id={chatbot_id}")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        version = widget_script().version
        assert (
            f'<script src="/widget/{version}.js" data-chatbot-id="{chatbot_id}" async>'
            in response.text
        )
        assert "http://127.0.0.1:8000" in response.text  # the origin to allow
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp

    async def test_without_a_chatbot_id_it_explains(
        self, development_client: httpx.AsyncClient
    ) -> None:
        response = await development_client.get("/widget/demo")

        assert response.status_code == 200
        assert "<script" not in response.text
        assert "chatbot_id=" in response.text

    async def test_malformed_chatbot_id_is_422(self, development_client: httpx.AsyncClient) -> None:
        for value in ("nope", "<script>alert(1)</script>", "%00"):
            response = await development_client.get("/widget/demo", params={"chatbot_id": value})
            assert_problem(response, 422, "validation-error")
            assert "<script>" not in response.text

    async def test_outside_development_it_does_not_exist(self, client: httpx.AsyncClient) -> None:
        for url in ("/widget/demo", f"/widget/demo?chatbot_id={uuid.uuid4()}"):
            assert_problem(await client.get(url), 404)
