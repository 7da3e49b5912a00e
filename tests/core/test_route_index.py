"""`RouteIndex` answers with the route the walk of the route table would choose, or not at all."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from sitechat.app import create_app
from sitechat.config import Settings
from sitechat.core.errors import install_exception_handlers
from sitechat.core.routing import RouteIndex, index_routes

_PARAMETER = re.compile(r"\{[^}]+\}")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _walk(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    """What Starlette's router does without the index: the first full match in table order."""
    for route in routes:
        if (
            not isinstance(route, RouteIndex)
            and route.matches(_scope(method, path))[0] is Match.FULL
        ):
            return route
    return None


def _indexed(index: RouteIndex, method: str, path: str) -> BaseRoute | None:
    match, child_scope = index.matches(_scope(method, path))
    return child_scope["sitechat.route_index.selected"] if match is Match.FULL else None


def test_every_route_of_the_api_is_found_as_the_table_walk_finds_it(settings: Settings) -> None:
    app = create_app(settings)
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    paths = {_PARAMETER.sub("00000000-0000-4000-8000-000000000000", route.path)
             for route in app.router.routes[1:] if hasattr(route, "path")}  # fmt: skip
    paths |= {"/v1/chatbots/", "/v1/nothing", "/nothing", "/", "/v1/chatbots/x/y/z"}
    checked = 0
    for path in paths:
        for method in _METHODS:
            expected = _walk(app.router.routes, method, path)
            assert _indexed(index, method, path) is expected, (method, path)
            checked += expected is not None
    assert checked > 60  # the whole API was looked up, not only misses


def _app() -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app)

    @app.get("/v1/things/{thing_id:int}")
    async def read_thing(thing_id: int) -> dict[str, object]:
        return {"route": "thing", "id": thing_id}

    @app.get("/{anything}/things/special")
    async def anywhere(anything: str) -> dict[str, object]:
        return {"route": "anywhere", "prefix": anything}

    @app.get("/v1/things/special")
    async def special() -> dict[str, object]:
        return {"route": "special"}

    @app.post("/v1/things")
    async def create_thing() -> dict[str, object]:
        return {"route": "create"}

    index_routes(app)

    @app.get("/v1/late")
    async def added_after_the_index() -> dict[str, object]:
        return {"route": "late"}

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_table_order_decides_also_for_routes_the_index_cannot_key(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/v1/things/7")).json() == {"route": "thing", "id": 7}
    # `/{anything}/things/special` comes before `/v1/things/special` in the table: it wins.
    assert (await http.get("/v1/things/special")).json() == {"route": "anywhere", "prefix": "v1"}
    assert (await http.get("/v2/things/special")).json() == {"route": "anywhere", "prefix": "v2"}
    assert (await http.post("/v1/things")).json() == {"route": "create"}


async def test_what_the_index_does_not_answer_the_table_still_does(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/v1/late")).json() == {"route": "late"}
    assert (await http.delete("/v1/things/7")).status_code == 405
    assert (await http.get("/v1/other/7")).status_code == 404
    redirect = await http.post("/v1/things/")
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "http://t/v1/things"
