"""No workspace reaches another's objects: every route with a path ID, from the live schema.

Workspace A owns one real object of every kind; workspace B calls every operation of
`app.openapi()` that has a path parameter, with A's IDs, once with a user's access token and
once with an API key. The answer must be the 404 problem a missing ID gets. A refusal that does
not depend on the ID at all (an API key on a user-only route: the same 401/403 for a random ID)
reveals nothing and is accepted. A path parameter this map does not know fails the test, so a
new route cannot slip past it; the widget's public routes have explicit cases of their own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sitechat.chat.openai_errors import OPENAI_PATHS
from tests.security.world import WIDGET_ORIGIN, World, build_world

PUBLIC_PREFIX = "/v1/public/"
_METHODS = ("get", "post", "put", "patch", "delete")
_PARAMETER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def path_parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)


def operations(schema: dict[str, Any]) -> Iterator[Operation]:
    for path, item in schema["paths"].items():
        for method in _METHODS:
            if method in item:
                yield Operation(method, path, item[method])


def collection_of(path: str, parameter: str) -> str:
    """The segment before `{parameter}`: `/v1/chatbots/{chatbot_id}` -> `chatbots`."""
    segments = path.split("/")
    return segments[segments.index("{" + parameter + "}") - 1]


def fill_path(path: str, ids: dict[str, str], *, random_ids: bool = False) -> str:
    for parameter in _PARAMETER.findall(path):
        value = str(uuid.uuid4()) if random_ids else ids[collection_of(path, parameter)]
        path = path.replace("{" + parameter + "}", value)
    return path


# Minimal bodies: only the required fields, with a value that passes validation, so that what
# answers is the ID check and not the body check.


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


# Fields validated by code rather than by a schema `format`.
_NAMED_SAMPLES = {"email": "someone@example.com", "url": "https://example.com/"}


def sample_value(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    schema = _resolve(schema, root)
    for combinator in ("oneOf", "anyOf", "allOf"):
        if combinator in schema:
            options = [_resolve(option, root) for option in schema[combinator]]
            usable = [option for option in options if option.get("type") != "null"] or options
            return sample_value(usable[0], root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        names = [name for name in schema.get("required", []) if name in properties]
        # A body that must change something (`minProperties`) gets its first optional fields.
        optional = [name for name in properties if name not in names]
        names += optional[: max(0, schema.get("minProperties", 0) - len(names))]
        return {
            name: _NAMED_SAMPLES.get(name) or sample_value(properties[name], root) for name in names
        }
    if kind == "array":
        return [sample_value(schema["items"], root)] * schema.get("minItems", 0)
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 0.5)
    if kind == "boolean":
        return False
    text_format = schema.get("format", "")
    if text_format == "email":
        return "someone@example.com"
    if text_format in ("uri", "url"):
        return "https://example.com/"
    if text_format == "uuid":
        return str(uuid.uuid4())
    if text_format == "date-time":
        return "2099-01-01T00:00:00Z"
    return "x" * max(1, schema.get("minLength", 1))


def sample_body(operation: Operation, root: dict[str, Any]) -> Any:
    content = operation.spec.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return sample_value(content["application/json"]["schema"], root)


def _is_problem(response: httpx.Response, status: int) -> bool:
    """A problem with this status; on the OpenAI-compatible routes, the problem in OpenAI's
    error envelope (`chat/openai_errors.py`)."""
    if response.status_code != status:
        return False
    if response.request.url.path.startswith(OPENAI_PATHS):
        return str(response.json()["error"]["problem_type"]).startswith("/problems/")
    return response.headers.get("content-type", "").startswith("application/problem+json")


def _problem_type(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("type"))
    except ValueError:
        return None


@pytest.fixture
async def world(client: httpx.AsyncClient, app: FastAPI) -> World:
    return await build_world(client, app)


@pytest.fixture
def schema(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


class TestForeignIds:
    async def test_every_route_with_a_path_id_answers_404_to_another_workspace(
        self, client: httpx.AsyncClient, world: World, schema: dict[str, Any]
    ) -> None:
        unmapped: list[str] = []
        leaks: list[str] = []
        checked = 0
        for operation in operations(schema):
            if not operation.path_parameters or operation.path.startswith(PUBLIC_PREFIX):
                continue
            unknown = [
                parameter
                for parameter in operation.path_parameters
                if collection_of(operation.path, parameter) not in world.ids
            ]
            if unknown:
                unmapped.append(f"{operation.label}: {unknown}")
                continue
            body = sample_body(operation, schema)
            for credential, headers in world.intruder_credentials.items():
                checked += 1
                foreign = await client.request(
                    operation.method,
                    fill_path(operation.path, world.ids),
                    headers=headers,
                    json=body,
                )
                if _is_problem(foreign, 404):
                    continue
                missing = await client.request(
                    operation.method,
                    fill_path(operation.path, world.ids, random_ids=True),
                    headers=headers,
                    json=body,
                )
                same_refusal = (
                    foreign.status_code in (401, 403)
                    and _is_problem(missing, foreign.status_code)
                    and _problem_type(foreign) == _problem_type(missing)
                )
                if not same_refusal:
                    leaks.append(
                        f"{operation.label} with B's {credential}: {foreign.status_code} "
                        f"{foreign.text[:200]}"
                    )
        assert not unmapped, (
            "path parameters the BOLA matrix cannot map to an object of workspace A; "
            f"add them to tests/security/world.py: {unmapped}"
        )
        assert not leaks, "another workspace's IDs must answer 404:\n" + "\n".join(leaks)
        assert checked >= 40, checked  # the schema really was walked

    async def test_the_ids_are_real_objects_their_owner_can_read(
        self, client: httpx.AsyncClient, world: World, schema: dict[str, Any]
    ) -> None:
        """Without this, the matrix above would pass on IDs that exist nowhere."""
        unreadable = []
        for operation in operations(schema):
            if (
                operation.method != "get"
                or not operation.path_parameters
                or operation.path.startswith(PUBLIC_PREFIX)
                or "application/json" not in _success_content(operation)
            ):
                continue
            response = await client.get(
                fill_path(operation.path, world.ids), headers=world.owner.headers
            )
            if response.status_code != 200:
                unreadable.append(f"{operation.label}: {response.status_code}")
        assert not unreadable

    async def test_workspace_header_cannot_switch_into_a_foreign_workspace(
        self, client: httpx.AsyncClient, world: World, schema: dict[str, Any]
    ) -> None:
        """B's token with `X-Workspace-ID: A` on every list route: 404, never A's data."""
        foreign_workspace = world.intruder.in_workspace(world.owner.workspace_id)
        answered = []
        for operation in operations(schema):
            if (
                operation.method != "get"
                or operation.path_parameters
                or not operation.spec.get("security")
            ):
                continue
            response = await client.get(operation.path, headers=foreign_workspace)
            answered.append((operation.label, response.status_code))
            assert _is_problem(response, 404), (operation.label, response.text)
        assert len(answered) >= 5, answered


def _success_content(operation: Operation) -> dict[str, Any]:
    responses = operation.spec.get("responses", {})
    for status in ("200", "201", "202"):
        if status in responses:
            return dict(responses[status].get("content", {}))
    return {}


PUBLIC_CASES = {
    "GET /v1/public/chatbots/{chatbot_id}",
    "POST /v1/public/chatbots/{chatbot_id}/conversations",
    "POST /v1/public/conversations/{conversation_id}/messages",
    "GET /v1/public/conversations/{conversation_id}/messages",
    "POST /v1/public/conversations/{conversation_id}/handoff",
    "POST /v1/public/conversations/{conversation_id}/handback",
    "POST /v1/public/conversations/{conversation_id}/lead",
}


class TestPublicWidgetRoutes:
    def test_every_public_route_has_explicit_cases(self, schema: dict[str, Any]) -> None:
        public = {
            operation.label
            for operation in operations(schema)
            if operation.path.startswith(PUBLIC_PREFIX)
        }
        assert public <= PUBLIC_CASES, f"write isolation cases for {public - PUBLIC_CASES}"

    async def test_private_chatbot_is_invisible_to_the_widget(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        private = await client.post(
            f"/v1/public/chatbots/{world.ids['chatbots']}/conversations",
            headers={"Origin": WIDGET_ORIGIN},
        )
        missing = await client.post(
            f"/v1/public/chatbots/{uuid.uuid4()}/conversations",
            headers={"Origin": WIDGET_ORIGIN},
        )
        assert _is_problem(private, 404), private.text
        assert _is_problem(missing, 404)
        for chatbot_id in (world.ids["chatbots"], str(uuid.uuid4())):
            settings = await client.get(
                f"/v1/public/chatbots/{chatbot_id}", headers={"Origin": WIDGET_ORIGIN}
            )
            assert _is_problem(settings, 404), settings.text

    async def test_visitor_token_reaches_only_its_own_conversation(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        visitor = {"Authorization": f"Bearer {world.visitor_token}", "Origin": WIDGET_ORIGIN}
        own = await client.get(
            f"/v1/public/conversations/{world.visitor_conversation_id}/messages", headers=visitor
        )
        assert own.status_code == 200, own.text

        for conversation_id in (world.ids["conversations"], str(uuid.uuid4())):
            path = f"/v1/public/conversations/{conversation_id}/messages"
            read = await client.get(path, headers=visitor)
            ask = await client.post(path, headers=visitor, json={"content": "Hello?"})
            assert read.status_code in (401, 403, 404), read.text
            assert ask.status_code == read.status_code, ask.text
            base = f"/v1/public/conversations/{conversation_id}"
            handoff = await client.post(f"{base}/handoff", headers=visitor)
            handback = await client.post(f"{base}/handback", headers=visitor)
            lead = await client.post(
                f"{base}/lead", headers=visitor, json={"email": "someone@example.com"}
            )
            assert handoff.status_code == lead.status_code == read.status_code, handoff.text
            assert handback.status_code == read.status_code, handback.text
        # A's API conversation and a random one answer alike.
        answers = [
            (await client.get(f"/v1/public/conversations/{cid}/messages", headers=visitor))
            for cid in (world.ids["conversations"], str(uuid.uuid4()))
        ]
        assert answers[0].status_code == answers[1].status_code
        assert _problem_type(answers[0]) == _problem_type(answers[1])

    async def test_visitor_token_is_no_api_credential(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        visitor = {"Authorization": f"Bearer {world.visitor_token}"}
        conversation = await client.get(
            f"/v1/conversations/{world.visitor_conversation_id}", headers=visitor
        )
        chatbots = await client.get("/v1/chatbots", headers=visitor)
        assert _is_problem(conversation, 401), conversation.text
        assert _is_problem(chatbots, 401), chatbots.text

    async def test_account_credentials_do_not_open_visitor_conversations(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        path = f"/v1/public/conversations/{world.visitor_conversation_id}/messages"
        for headers in world.intruder_credentials.values():
            response = await client.get(path, headers={**headers, "Origin": WIDGET_ORIGIN})
            assert response.status_code in (401, 403, 404), response.text
