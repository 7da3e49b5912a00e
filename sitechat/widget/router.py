"""`GET /widget.js`, its versioned twin `/widget/<version>.js`, and the development demo page.

Not API routes: no `/v1`, no database, no rate limit (a static file, cached by browsers and
any CDN in front). `/widget.js` is the URL customers paste; it is cached briefly and
revalidated by ETag, so a new release reaches every site within minutes. The versioned URL is
cached for a year as immutable; an old version's URL redirects to `/widget.js` rather than
break the pages pinned to it.
"""

from __future__ import annotations

import html
import re
import uuid

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sitechat.config import Environment
from sitechat.core.errors import NotFound, ProblemError
from sitechat.core.state import app_state
from sitechat.widget.assets import ScriptAsset, accepts_gzip, widget_script

SCRIPT_PATH = "/widget.js"
DEMO_PATH = "/widget/demo"
SHORT_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
_VERSION = re.compile(r"^[0-9a-f]{6,64}$")

router = APIRouter(include_in_schema=False)


class InvalidChatbotId(ProblemError):
    status = 422
    slug = "validation-error"
    title = "Validation error"

    def __init__(self) -> None:
        super().__init__("chatbot_id is not a chatbot id (a UUID).")


def versioned_script_path(asset: ScriptAsset) -> str:
    return f"/widget/{asset.version}.js"


def _script_response(request: Request, asset: ScriptAsset, cache_control: str) -> Response:
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    etag = asset.gzip_etag if gzipped else asset.etag
    headers = {
        "Cache-Control": cache_control,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        # Any site may load it, also one that isolates itself (COEP) or checks integrity (SRI).
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(
        asset.gzipped if gzipped else asset.body,
        media_type="text/javascript; charset=utf-8",
        headers=headers,
    )


@router.api_route(SCRIPT_PATH, methods=["GET", "HEAD"])  # HEAD: link checkers, `curl -I`
async def widget_script_latest(request: Request) -> Response:
    """The widget script; paste `<script src=".../widget.js" data-chatbot-id="..." async>`."""
    return _script_response(request, widget_script(), SHORT_CACHE)


@router.get("/widget/{version}.js")
async def widget_script_versioned(version: str, request: Request) -> Response:
    """This release's script under its content hash, cached as immutable."""
    asset = widget_script()
    if version == asset.version:
        return _script_response(request, asset, IMMUTABLE_CACHE)
    if _VERSION.match(version):
        return RedirectResponse(SCRIPT_PATH, status_code=307)
    raise NotFound("Widget script")


_DEMO_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SiteChat widget demo</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1f2937; background: #f1f5f9; }}
main {{ max-width: 720px; margin: 0 auto; padding: 32px 20px 120px; }}
code, pre {{ font: 14px ui-monospace, monospace; }}
pre {{ background: #0f172a; color: #e2e8f0; padding: 12px; border-radius: 8px;
  white-space: pre-wrap; word-break: break-all; }}
.card {{ background: #fff; border-radius: 12px; padding: 4px 20px 16px; margin: 20px 0; }}
</style>
</head>
<body>
<main>
<h1>SiteChat widget demo</h1>
{body}
</main>
{script}
</body>
</html>
"""


def _demo_body(origin: str, chatbot_id: uuid.UUID | None, snippet: str) -> str:
    if chatbot_id is None:
        return (
            '<div class="card"><p>Open this page as <code>/widget/demo?chatbot_id=&lt;id&gt;'
            "</code> with the id of a public chatbot.</p></div>"
        )
    return (
        '<div class="card"><p>The chat launcher is in the bottom corner of this page. '
        "The chatbot must be <code>public</code> and list this page's origin, "
        f"<code>{html.escape(origin)}</code>, in its <code>allowed_origins</code>; "
        "otherwise the widget says it is not available here.</p>"
        "<p>To put it on your site, paste this before <code>&lt;/body&gt;</code>:</p>"
        f"<pre><code>{html.escape(snippet)}</code></pre></div>"
    )


@router.get(DEMO_PATH)
async def widget_demo(request: Request, chatbot_id: str | None = None) -> Response:
    """A page embedding the widget for one chatbot (development only; 404 elsewhere)."""
    settings = app_state(request).settings
    if settings.env is not Environment.development:
        raise NotFound("Page")
    parsed_id: uuid.UUID | None = None
    if chatbot_id is not None:
        try:
            parsed_id = uuid.UUID(chatbot_id)
        except ValueError:
            raise InvalidChatbotId() from None
    asset = widget_script()
    origin = f"{request.url.scheme}://{request.url.netloc}"
    snippet = (
        f'<script src="{settings.http.public_base_url.rstrip("/")}{SCRIPT_PATH}" '
        f'data-chatbot-id="{parsed_id}" async></script>'
    )
    script = ""
    if parsed_id is not None:
        src = versioned_script_path(asset)
        script = f'<script src="{src}" data-chatbot-id="{parsed_id}" async></script>'

    page = _DEMO_PAGE.format(body=_demo_body(origin, parsed_id, snippet), script=script)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
