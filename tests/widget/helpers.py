"""Setting up a public chatbot for the widget tests, and driving the widget like a visitor."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from playwright.async_api import Locator, Page, expect

from sitechat.core.clock import utcnow
from sitechat.models import Chatbot, Visibility
from sitechat.models.base import new_id
from sitechat.models.chat import UsageEvent
from tests.fixtures.chat import ChatAccount, add_chunk, create_account, create_chatbot

VENV_TEXT = (
    "To create a virtual environment, decide upon a directory and run the venv module: "
    "python -m venv tutorial-env. Activate it before installing packages."
)
WIDGET_SETTINGS: dict[str, Any] = {
    "welcome_message": "Hi! Ask me about **virtual environments**.",
    "suggested_questions": ["How do I create a virtual environment?"],
    "theme": {"primary_color": "#0F766E", "launcher_text": "Help & docs", "position": "right"},
}
# `make screenshots` runs the browser tests with this set to docs/img: the tests that take the
# pictures the docs show write them there as well.
SCREENSHOTS = os.environ.get("SITECHAT_WIDGET_SCREENSHOTS")
DOCS_IMAGES = frozenset({"widget-desktop", "widget-phone", "widget-lead-form", "widget-handoff"})


@dataclass
class PublicBot:
    account: ChatAccount
    chatbot: Chatbot
    source_url: str


async def public_bot(
    app: FastAPI,
    client: httpx.AsyncClient,
    allowed_origin: str,
    *,
    text: str = VENV_TEXT,
    title: str = "Virtual environments",
    heading: str = "",
) -> PublicBot:
    """A ready public chatbot allowing `allowed_origin`, its widget settings set through the
    API, with one indexed text chunk whose page lives on the host site."""
    account = await create_account(app)
    chatbot = await create_chatbot(
        app, account, visibility=Visibility.public, allowed_origins=[allowed_origin]
    )
    response = await client.patch(
        f"/v1/chatbots/{chatbot.id}", json=WIDGET_SETTINGS, headers=account.headers
    )
    assert response.status_code == 200, response.text
    source_url = f"{allowed_origin}/docs/venv"
    await add_chunk(app, chatbot, text, title=title, heading=heading, url=source_url)
    return PublicBot(account=account, chatbot=chatbot, source_url=source_url)


async def spend_message_quota(app: FastAPI, workspace_id: object, count: int) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        session.add_all(
            UsageEvent(
                id=new_id(),
                workspace_id=workspace_id,
                kind="message",
                quantity=1,
                event_key=f"seeded:{new_id()}",
                occurred_at=utcnow(),
            )
            for _ in range(count)
        )


def hook(page: Page, name: str) -> Locator:
    """An element of the widget by its `data-sitechat` hook (locators pierce open shadow roots)."""
    return page.locator(f'[data-sitechat="{name}"]')


async def open_widget(page: Page, url: str) -> None:
    await page.goto(url)
    await hook(page, "launcher").click()
    await expect(page.get_by_role("dialog")).to_be_visible()


async def expect_one_focus_ring(field: Locator, color: str) -> None:
    """A focused text field shows one ring: its own border in `color` (thickened by a shadow),
    no outline drawn around it as well (the outline is transparent, for forced-colors mode)."""
    await expect(field).to_be_focused()
    await expect(field).to_have_css("outline-color", "rgba(0, 0, 0, 0)")
    await expect(field).to_have_css("border-top-color", color)
    await expect(field).to_have_css("box-shadow", f"{color} 0px 0px 0px 1px")


async def ask(page: Page, question: str) -> Locator:
    """Type a question, send it, and wait for its answer to finish; the answer's element."""
    before = await hook(page, "message-assistant").count()
    await hook(page, "input").fill(question)
    await hook(page, "send").click()
    answer = hook(page, "message-assistant").nth(before)
    await expect(answer).to_have_attribute("aria-busy", "false")
    return answer


async def screenshot(page: Page, name: str, folder: Path) -> Path:
    """A screenshot in the test's folder (and, for a picture of the docs, in
    $SITECHAT_WIDGET_SCREENSHOTS when set)."""
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path))
    if SCREENSHOTS and name in DOCS_IMAGES:
        # Playwright creates the folder.
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))
    return path
