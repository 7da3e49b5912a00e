"""The interactive API docs, `/docs` (Swagger UI) and `/redoc`, served from the package itself.

The Swagger UI and ReDoc bundles come installed with the `fastapi-offline` package (its
`static/` folder: `swagger-ui-bundle.js`, `swagger-ui.css`, `redoc.standalone.js`), so the
pages work on a host without internet access: nothing is loaded from a CDN, no web font, no
validator badge. The docs pages' Content-Security-Policy (`core/middleware.py: DOCS_CSP`)
allows this origin only, so a browser would refuse any asset from elsewhere.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
TITLE = "SiteChat API"

API_DESCRIPTION = """\
Website-trained chatbots: crawl a site, answer visitors with citations.

**Authenticate** with `Authorization: Bearer <token>`: an access token from
`POST /v1/auth/login` (or the *Authorize* button's password form), or an API key `sk_...`
from `POST /v1/api-keys`. Errors are RFC 9457 `application/problem+json` with a stable `type`;
`/v1/chat/completions` and `/v1/models` answer in OpenAI's error envelope instead.

## Streaming over WebSocket: `WS /v1/conversations/{conversation_id}/ws`

1. Connect with `?token=<access token | API key | visitor token>` (browsers cannot set headers
   on a WebSocket) or an `Authorization: Bearer` header. Bad credentials close the socket with
   code **4401**; a conversation those credentials cannot reach closes it with **4404**; a
   visitor token from an origin its chatbot does not allow with **4403**; a caller over its
   rate limit with **4429** (a question over the limit gets an `error` frame, `rate-limited`).
2. Send one JSON text frame per question: `{"type": "question", "content": "How do I ...?"}`.
3. Receive JSON frames, each with a `type`, in this order:
   `message_start` (`conversation_id`, `user_message_id`, `assistant_message_id`), any number
   of `delta` (`text`, append them), `citations` (`citations`: `number` (the answer's `[n]`),
   `url` (the cited section, `page#anchor`, when the page names it), `title`, `heading`, `snippet`),
   then `done` (`message_id`, `usage`, `fallback`) - or `error` (`code`, `message`) instead
   of `done`. A malformed frame gets `{"type": "error", "code": "validation-error"}` and the
   socket stays open for the next question.

The same events stream as Server-Sent Events from `POST /v1/conversations/{id}/messages` with
`"stream": true` (`event: <type>`, `data: <json>`; `: ping` comments keep idle streams open).

## The widget flow (public chatbots, no account)

1. The chatbot is `visibility: "public"` and lists the embedding site in `allowed_origins`;
   every public route checks the browser's `Origin` header against that list and answers
   CORS for that origin only.
2. The page embeds `<script src="https://<your SiteChat>/widget.js" data-chatbot-id="..." async>`
   (the widget script and its `GET /v1/public/chatbots/{id}` display settings).
3. `POST /v1/public/chatbots/{id}/conversations` returns `conversation_id` and a
   `visitor_token`, valid for that one conversation only.
4. The widget asks with `POST /v1/public/conversations/{id}/messages` (JSON or SSE) or over the
   WebSocket above with `?token=<visitor_token>`, and reads the history with
   `GET /v1/public/conversations/{id}/messages`.

More: `docs/streaming-and-widget.md` in the repository.
"""

SWAGGER_UI_PARAMETERS = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "persistAuthorization": True,
    "displayRequestDuration": True,
    # Swagger UI would otherwise send the spec to validator.swagger.io for its badge.
    "validatorUrl": None,
}


def assets_directory() -> Path:
    """The installed Swagger UI and ReDoc bundles."""
    return Path(str(files("fastapi_offline") / "static"))


def add_docs_routes(app: FastAPI) -> None:
    """`/docs`, `/redoc` and their assets, all from this process."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{TITLE} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{TITLE} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
