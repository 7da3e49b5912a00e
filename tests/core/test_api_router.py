"""`ApiRouter`'s path filter only skips routers that cannot match: answers stay the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sitechat.core.errors import install_exception_handlers
from sitechat.core.routing import ApiRouter, api_router


def _app() -> FastAPI:
    things = api_router(prefix="/things", tags=["things"])
    loose = api_router(tags=["loose"])

    @things.get("/{thing_id}")
    async def read_thing(thing_id: int) -> dict[str, int]:
        return {"thing": thing_id}

    @things.post("")
    async def create_thing() -> dict[str, str]:
        return {"created": "yes"}

    @loose.get("/things/{thing_id}/parts")
    async def parts(thing_id: int) -> dict[str, int]:
        return {"parts_of": thing_id}

    app = FastAPI()
    app.state.rate_limiter = None
    install_exception_handlers(app)
    app.include_router(things, prefix="/v1")
    app.include_router(loose, prefix="/v1")
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


class TestApiRouterFilter:
    def test_filter_is_the_static_beginnings_of_the_routes(self) -> None:
        router = api_router(prefix="/things")

        @router.get("/{thing_id}")
        async def one(thing_id: int) -> None: ...

        @router.get("/special/list")
        async def special() -> None: ...

        assert isinstance(router, ApiRouter)
        assert router._route_static_prefixes() == ("/things/",)

    async def test_matching_routes_answer(self, http: httpx.AsyncClient) -> None:
        assert (await http.get("/v1/things/7")).json() == {"thing": 7}
        assert (await http.get("/v1/things/7/parts")).json() == {"parts_of": 7}
        assert (await http.post("/v1/things")).json() == {"created": "yes"}

    async def test_wrong_method_is_still_405_and_unknown_path_404(
        self, http: httpx.AsyncClient
    ) -> None:
        assert (await http.delete("/v1/things/7")).status_code == 405
        assert (await http.get("/v1/other/7")).status_code == 404
