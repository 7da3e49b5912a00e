"""No route shadows another: every request path and method is served by at most one route, so
the order of `V1_ROUTERS` never decides which one answers."""

from __future__ import annotations

import re
from itertools import combinations

import pytest
from starlette.routing import compile_path

from sitechat.app import create_app
from sitechat.config import Settings

_PARAMETER = re.compile(r"\{[^}]+\}")
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _sample(template: str) -> str:
    """A concrete path of `template`, each parameter filled with a UUID."""
    return _PARAMETER.sub("00000000-0000-4000-8000-000000000000", template)


def test_no_request_path_and_method_is_served_by_two_routes(settings: Settings) -> None:
    schema = create_app(settings).openapi()
    operations = {
        template: {method for method in item if method in _HTTP_METHODS}
        for template, item in schema["paths"].items()
    }
    assert len(operations) > 50  # the whole API, not an empty schema
    overlaps = []
    for first, second in combinations(operations, 2):
        shared_methods = operations[first] & operations[second]
        if not shared_methods:
            continue
        first_regex, _, _ = compile_path(first)
        second_regex, _, _ = compile_path(second)
        if first_regex.match(_sample(second)) or second_regex.match(_sample(first)):
            overlaps.append((first, second, sorted(shared_methods)))
    assert overlaps == []


def test_a_dependency_override_is_refused_rather_than_silently_ignored(
    settings: Settings,
) -> None:
    from sitechat.auth.dependencies import get_client_ip

    app = create_app(settings)
    with pytest.raises(TypeError, match="no effect"):
        app.dependency_overrides[get_client_ip] = lambda: "203.0.113.9"
    with pytest.raises(TypeError, match="no effect"):
        app.dependency_overrides.update({get_client_ip: lambda: "203.0.113.9"})
    with pytest.raises(TypeError, match="no effect"):
        app.dependency_overrides |= {get_client_ip: lambda: "203.0.113.9"}
    assert dict(app.dependency_overrides) == {}


async def test_an_app_with_dependency_overrides_does_not_start(settings: Settings) -> None:
    from sitechat.auth.dependencies import get_client_ip

    app = create_app(settings)
    app.dependency_overrides = {get_client_ip: lambda: "203.0.113.9"}  # past the refusal
    with pytest.raises(RuntimeError, match="no effect"):
        async with app.router.lifespan_context(app):
            pass
