"""The interactive docs work on a machine without internet: every asset comes from SiteChat."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.servers import serve_in_thread

ASSET_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""")
ANY_URL = re.compile(r"""https?://[^\s"'<>)]+""")
CHROMIUM = shutil.which("chromium")


def _same_origin(reference: str) -> bool:
    parts = urlsplit(reference)
    return not parts.scheme and not parts.netloc


class TestDocsPages:
    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_page_references_no_external_host(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path)
        assert response.status_code == 200
        page = response.text
        assert ANY_URL.findall(page) == []
        references = ASSET_REFERENCE.findall(page)
        assert references, "the page loads its bundle"
        assert all(_same_origin(reference) for reference in references), references
        csp = response.headers["content-security-policy"]
        assert "http" not in csp and "'self'" in csp

    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_every_asset_is_served_by_the_app(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        page = (await client.get(path)).text
        for reference in ASSET_REFERENCE.findall(page):
            asset = await client.get(reference)
            assert asset.status_code == 200, reference
            assert len(asset.content) > 0

    async def test_swagger_ui_does_not_call_the_public_validator(
        self, client: httpx.AsyncClient
    ) -> None:
        page = (await client.get("/docs")).text
        assert '"validatorUrl": null' in page


class TestDocsInABrowserWithoutInternet:
    """Chromium with every host but loopback unresolvable: the pages still render the API."""

    @pytest.mark.parametrize(
        ("path", "rendered"),
        [("/docs", 'class="opblock-summary-path"'), ("/redoc", "POST")],
    )
    async def test_renders_offline(self, app: object, path: str, rendered: str) -> None:
        assert CHROMIUM is not None, "Debian's chromium renders the docs pages"
        with (
            serve_in_thread(app, "docs") as port,
            tempfile.TemporaryDirectory(prefix="sitechat-chromium-") as profile,
        ):
            command = [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"http://127.0.0.1:{port}{path}",
            ]
            result = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=90, check=False
            )
        dom = result.stdout
        assert rendered in dom, result.stderr[-2000:]
        assert "/v1/chatbots" in dom
