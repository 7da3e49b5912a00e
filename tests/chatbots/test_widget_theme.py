"""The widget theme of a chatbot: defaults, validation, partial updates, the display-text rule."""

from __future__ import annotations

import httpx
import pytest

from tests.chatbots.test_router import create_chatbot
from tests.fixtures.accounts import assert_problem, register

DEFAULT_THEME = {
    "primary_color": "#2563eb",
    "position": "right",
    "launcher_text": "Ask a question",
    "avatar_url": None,
}


class TestTheme:
    async def test_a_new_chatbot_has_the_default_theme(self, client: httpx.AsyncClient) -> None:
        account = await register(client)

        chatbot = await create_chatbot(client, account)

        assert chatbot["theme"] == DEFAULT_THEME

    async def test_create_with_a_theme(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        theme = {
            "primary_color": "#0F766E",
            "position": "left",
            "launcher_text": "Help",
            "avatar_url": "https://cdn.example.com/bot.png",
        }

        chatbot = await create_chatbot(client, account, theme=theme)
        read = await client.get(f"/v1/chatbots/{chatbot['id']}", headers=account.headers)

        assert chatbot["theme"] == theme | {"primary_color": "#0f766e"}
        assert read.json()["theme"] == chatbot["theme"]

    async def test_update_changes_only_the_theme_fields_sent(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot = await create_chatbot(
            client, account, theme={"avatar_url": "https://cdn.example.com/a.png"}
        )
        url = f"/v1/chatbots/{chatbot['id']}"

        colour = await client.patch(
            url, json={"theme": {"primary_color": "#112233"}}, headers=account.headers
        )
        no_avatar = await client.patch(
            url, json={"theme": {"avatar_url": None}}, headers=account.headers
        )

        assert colour.json()["theme"] == DEFAULT_THEME | {
            "primary_color": "#112233",
            "avatar_url": "https://cdn.example.com/a.png",
        }
        assert no_avatar.json()["theme"] == DEFAULT_THEME | {"primary_color": "#112233"}

    async def test_launcher_text_follows_the_display_text_rule(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)

        chatbot = await create_chatbot(
            client, account, theme={"launcher_text": "<b>Chat</b> & <script>x()</script>go"}
        )

        assert chatbot["theme"]["launcher_text"] == "Chat &amp; go"

    @pytest.mark.parametrize(
        "theme",
        [
            {"primary_color": "red"},
            {"primary_color": "#12345"},
            {"primary_color": "#1234567"},
            {"primary_color": "#12345g"},
            {"position": "top"},
            {"launcher_text": "x" * 41},
            {"launcher_text": "Chat\u202eevil"},
            {"launcher_text": "line\nbreak"},
            {"avatar_url": "http://cdn.example.com/bot.png"},
            {"avatar_url": "javascript:alert(1)"},
            {"avatar_url": "data:image/png;base64,AAAA"},
            {"avatar_url": "https://user:pw@cdn.example.com/bot.png"},
            {"avatar_url": "https://" + "a" * 2050 + ".com/x.png"},
            {"font": "Comic Sans"},
            {"primary_color": None},
        ],
    )
    async def test_invalid_theme_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, theme: dict
    ) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account)
        url = f"/v1/chatbots/{chatbot['id']}"

        created = await client.post(
            "/v1/chatbots", json={"name": "Other", "theme": theme}, headers=account.headers
        )
        updated = await client.patch(url, json={"theme": theme}, headers=account.headers)

        assert_problem(created, 422, "validation-error")
        assert_problem(updated, 422, "validation-error")
        read = await client.get(url, headers=account.headers)
        assert read.json()["theme"] == DEFAULT_THEME

    async def test_another_workspace_cannot_change_the_theme(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await register(client)
        stranger = await register(client)
        chatbot = await create_chatbot(client, owner)

        response = await client.patch(
            f"/v1/chatbots/{chatbot['id']}",
            json={"theme": {"primary_color": "#000000"}},
            headers=stranger.headers,
        )

        assert_problem(response, 404)
        read = await client.get(f"/v1/chatbots/{chatbot['id']}", headers=owner.headers)
        assert read.json()["theme"] == DEFAULT_THEME
