"""Errors of the OpenAI-compatible routes reach the official SDK as OpenAI errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from fastapi import FastAPI

from tests.fixtures.chat import create_account, create_api_key


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _sdk(http: httpx.AsyncClient, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0
    )


class TestOpenAIErrorEnvelope:
    async def test_a_wrong_key_shows_its_message_in_the_sdk(self, http: httpx.AsyncClient) -> None:
        sdk = _sdk(http, "sk_" + "x" * 40)

        with pytest.raises(openai.AuthenticationError) as raised:
            await sdk.models.list()

        assert raised.value.message.endswith("The API key is malformed.")
        error = raised.value.body
        assert isinstance(error, dict)
        assert error["type"] == "authentication_error"
        assert error["code"] == "unauthorized"
        assert error["problem_type"].endswith("/problems/unauthorized")
        assert error["request_id"]

    async def test_a_plan_refusal_keeps_the_problems_members(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)  # on the Free plan, which lacks this API
        sdk = _sdk(http, await create_api_key(app, account))

        with pytest.raises(openai.APIStatusError) as raised:
            await sdk.chat.completions.create(
                model=f"chatbot:{uuid.uuid4()}", messages=[{"role": "user", "content": "Hi"}]
            )

        assert raised.value.status_code == 402
        assert "does not include the OpenAI-compatible API" in raised.value.message
        error = raised.value.body
        assert isinstance(error, dict)
        assert (error["code"], error["feature"]) == ("quota-exceeded", "openai_compatible_api")

    async def test_validation_errors_name_the_parameter(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        key = await create_api_key(app, account)

        response = await http.post(
            "/v1/chat/completions",
            json={"model": "chatbot:x", "messages": "not a list"},
            headers={"Authorization": f"Bearer {key}"},
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["param"] == "messages"
        assert int(response.headers["content-length"]) == len(response.content)

    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("n", 2),
            ("n", 0),
            ("stream", "yes"),
            ("stream", 1),
            ("max_tokens", 0),
            ("max_tokens", -5),
            ("max_tokens", "3"),
            ("max_tokens", 2.5),
            ("max_completion_tokens", 0),
            ("max_completion_tokens", "many"),
        ],
    )
    async def test_what_cannot_be_honoured_is_refused_not_ignored(
        self, app: FastAPI, http: httpx.AsyncClient, param: str, value: object
    ) -> None:
        """Two choices were answered with one, "yes" was taken for `stream: true`, and any
        `max_tokens` was ignored."""
        account = await create_account(app)
        key = await create_api_key(app, account)

        response = await http.post(
            "/v1/chat/completions",
            json={
                "model": f"chatbot:{uuid.uuid4()}",
                "messages": [{"role": "user", "content": "Hi"}],
                param: value,
            },
            headers={"Authorization": f"Bearer {key}"},
        )

        assert response.status_code == 422
        assert response.json()["error"]["param"] == param

    async def test_a_body_refused_by_the_middleware_is_an_openai_error_too(
        self, http: httpx.AsyncClient
    ) -> None:
        response = await http.post(
            "/v1/chat/completions", content=b"question", headers={"Content-Type": "text/plain"}
        )

        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported-media-type"

    async def test_other_routes_keep_problem_json(self, http: httpx.AsyncClient) -> None:
        response = await http.get("/v1/chatbots", headers={"Authorization": "Bearer nope"})

        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert "error" not in response.json()


class TestOpenAPIDocument:
    @pytest.mark.parametrize(
        ("path", "method", "schema"),
        [
            ("/v1/chat/completions", "post", "ChatCompletion"),
            ("/v1/models", "get", "OpenAIModelList"),
            ("/v1/models/{model}", "get", "OpenAIModel"),
        ],
    )
    async def test_describes_the_openai_bodies_the_route_returns(
        self, http: httpx.AsyncClient, path: str, method: str, schema: str
    ) -> None:
        """Errors were declared as problem+json and the completion as an empty `{}`."""
        document = (await http.get("/openapi.json")).json()
        responses = document["paths"][path][method]["responses"]

        ok = responses.pop("200")["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{schema}"}
        assert {"401", "404", "422", "429"} <= set(responses)
        for response in responses.values():
            assert response["content"] == {
                "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIErrorResponse"}}
            }
        envelope = document["components"]["schemas"]["OpenAIError"]
        assert {"message", "type", "code"} <= set(envelope["required"])

    async def test_the_completion_says_which_parameters_are_ignored(
        self, http: httpx.AsyncClient
    ) -> None:
        document = (await http.get("/openapi.json")).json()
        operation = document["paths"]["/v1/chat/completions"]["post"]

        assert "`temperature`" in operation["description"]
        assert "`tools`" in operation["description"]
        assert "text/event-stream" in operation["responses"]["200"]["content"]
