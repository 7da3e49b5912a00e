"""Lead capture and hand-off in a real browser: the form appears when the chatbot's
`lead_capture` says, the contact reaches the admin's leads list, and a person asked for through
the widget replies through the API and is seen there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from playwright.async_api import Page, expect

from tests.chat.conftest import ChatCompletionsServer
from tests.security.conftest import LiveServer
from tests.widget.conftest import HostSite
from tests.widget.helpers import (
    PublicBot,
    ask,
    expect_one_focus_ring,
    hook,
    open_widget,
    public_bot,
    screenshot,
)

UNRELATED_QUESTION = "Do you deliver pizza to the moon on Sundays?"
LEAD_PROMPT = "We could not answer that. Leave your contact & we will write to you."
HANDOFF_MESSAGE = "Thanks! Someone from our team will reply here in a few minutes."
# A person's reply appears within a few poll intervals (the widget reads every 4 seconds).
AGENT_REPLY_TIMEOUT_MS = 15_000
# Whether a focused element's outline lies inside its panel (a rounded box that clips it): the
# outline's corners are checked against the panel's edges and the arcs of its corners.
RING_INSIDE_PANEL = """element => {
  const style = getComputedStyle(element);
  const grow = parseFloat(style.outlineWidth) + parseFloat(style.outlineOffset);
  const box = element.getBoundingClientRect();
  const dialog = element.closest('[role="dialog"]');
  const panel = dialog.getBoundingClientRect();
  const radius = parseFloat(getComputedStyle(dialog).borderBottomRightRadius) || 0;
  const inside = (x, y) => {
    if (x < panel.left || x > panel.right || y < panel.top || y > panel.bottom) return false;
    const cx = Math.min(Math.max(x, panel.left + radius), panel.right - radius);
    const cy = Math.min(Math.max(y, panel.top + radius), panel.bottom - radius);
    return Math.hypot(x - cx, y - cy) <= radius;
  };
  const xs = [box.left - grow, box.right + grow];
  const ys = [box.top - grow, box.bottom + grow];
  return grow > 0 && xs.every((x) => ys.every((y) => inside(x, y)));
}"""


async def configure(client: httpx.AsyncClient, bot: PublicBot, settings: dict[str, Any]) -> None:
    response = await client.patch(
        f"/v1/chatbots/{bot.chatbot.id}", json=settings, headers=bot.account.headers
    )
    assert response.status_code == 200, response.text


async def stored_conversation(page: Page, bot: PublicBot) -> dict[str, Any]:
    saved: dict[str, Any] = await page.evaluate(
        f"JSON.parse(localStorage.getItem('sitechat:{bot.chatbot.id}'))"
    )
    return saved


async def leads_of(client: httpx.AsyncClient, bot: PublicBot) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/chatbots/{bot.chatbot.id}/leads", headers=bot.account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestLeadForm:
    async def test_fallback_asks_for_a_contact_which_the_admin_then_sees(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
        tmp_path: Path,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(
            client,
            bot,
            {
                "lead_capture": {
                    "enabled": True,
                    "fields": ["name", "email"],
                    "when": "on_fallback",
                    "prompt": LEAD_PROMPT,
                }
            },
        )
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        form = hook(page, "lead-form")

        await ask(page, "How do I create a virtual environment?")
        await expect(form).to_have_count(0)  # answered: nothing to ask yet
        await ask(page, UNRELATED_QUESTION)

        await expect(form).to_be_visible()
        await expect(form).to_contain_text(LEAD_PROMPT)  # decoded once, shown as text
        name = form.get_by_label("Name")
        email = form.get_by_label("Email")
        await expect(email).to_have_attribute("type", "email")
        # Keyboard only: Enter in an empty field says what is wrong and where.
        await name.focus()
        await page.keyboard.press("Enter")
        alert = form.get_by_role("alert")
        await expect(alert).to_contain_text("Please fill in each field")
        await expect(name).to_be_focused()
        await expect(name).to_have_attribute("aria-invalid", "true")
        await page.keyboard.type("Ada Lovelace")
        await page.keyboard.press("Tab")
        await page.keyboard.type("ada-at-example")
        await page.keyboard.press("Enter")
        await expect(email).to_be_focused()
        await expect(name).to_have_attribute("aria-invalid", "false")
        await expect_one_focus_ring(email, "rgb(185, 28, 28)")  # invalid: the ring is red
        await screenshot(page, "widget-lead-form", tmp_path)
        assert await leads_of(client, bot) == []  # nothing was sent while invalid
        await email.fill("ada@example.com")
        await page.keyboard.press("Enter")

        await expect(hook(page, "lead-thanks")).to_have_text("Thank you! We will get back to you.")
        await expect(form).to_have_count(0)
        await screenshot(page, "widget-lead-thanks", tmp_path)
        leads = await leads_of(client, bot)
        conversation = await stored_conversation(page, bot)
        assert [(lead["name"], lead["email"]) for lead in leads] == [
            ("Ada Lovelace", "ada@example.com")
        ]
        assert leads[0]["conversation_id"] == conversation["conversationId"]
        assert conversation["leadSent"] is True

        # Sent once for this conversation: never asked again, after a reload or a new fallback.
        await page.reload()
        await hook(page, "launcher").click()
        await expect(hook(page, "message-user")).to_have_count(2)
        await ask(page, "Is there a pizza discount for astronauts?")
        await expect(form).to_have_count(0)
        assert len(await leads_of(client, bot)) == 1

    async def test_start_asks_before_the_first_question_email_only(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(
            client,
            bot,
            {"lead_capture": {"enabled": True, "fields": ["email"], "when": "start"}},
        )

        await open_widget(page, host_site.page_url(bot.chatbot.id))

        form = hook(page, "lead-form")
        await expect(form).to_contain_text("Leave your contact and we will get back to you.")
        await expect(form.get_by_label("Name")).to_have_count(0)
        email = form.get_by_label("Email")
        send = form.get_by_role("button", name="Send my contact")
        # The browser accepts this address; the server does not (no domain): said kindly.
        await email.fill("grace@example")
        await send.click()
        await expect(form.get_by_role("alert")).to_contain_text("name@example.com")
        await expect(email).to_be_focused()
        assert await leads_of(client, bot) == []
        await email.fill("grace@example.com")
        await send.click()

        await expect(hook(page, "lead-thanks")).to_be_visible()
        # The form started the conversation the lead belongs to.
        conversation = await stored_conversation(page, bot)
        leads = await leads_of(client, bot)
        assert [(lead["email"], lead["conversation_id"]) for lead in leads] == [
            ("grace@example.com", conversation["conversationId"])
        ]

    async def test_a_phone_does_not_zoom_into_the_form(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(
            client,
            bot,
            {"lead_capture": {"enabled": True, "fields": ["name", "email"], "when": "start"}},
        )
        await page.set_viewport_size({"width": 375, "height": 667})

        await open_widget(page, host_site.page_url(bot.chatbot.id))

        # Safari on a phone zooms the page into a focused field whose text is under 16 px, and
        # does not zoom back out: the question field had 16 px there, the form's fields 15.
        form = hook(page, "lead-form")
        for field in (form.get_by_label("Name"), form.get_by_label("Email"), hook(page, "input")):
            await expect(field).to_have_css("font-size", "16px")

    async def test_after_messages_and_too_many_submissions_are_explained(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        api_server: LiveServer,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(
            client,
            bot,
            {
                "lead_capture": {
                    "enabled": True,
                    "fields": ["email"],
                    "when": "after_messages",
                    "after_messages": 2,
                }
            },
        )
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        form = hook(page, "lead-form")

        await ask(page, "How do I create a virtual environment?")
        await expect(form).to_have_count(0)
        await ask(page, "How do I activate a virtual environment?")
        await expect(form).to_be_visible()

        # The conversation's contact was already sent as often as the server allows.
        conversation = await stored_conversation(page, bot)
        visitor = {
            "Authorization": f"Bearer {conversation['token']}",
            "Origin": host_site.origin,
        }
        lead_url = f"/v1/public/conversations/{conversation['conversationId']}/lead"
        # The running server signed the visitor token: ask it, as the widget would.
        async with httpx.AsyncClient(base_url=api_server.base_url) as live:
            for attempt in range(5):
                sent = await live.post(
                    lead_url, json={"email": f"try{attempt}@example.com"}, headers=visitor
                )
                assert sent.status_code == 201, sent.text
        await form.get_by_label("Email").fill("final@example.com")
        await form.get_by_label("Email").press("Enter")

        await expect(form.get_by_role("alert")).to_have_text(
            "You've already sent your contact several times in this chat."
        )
        await expect(form.get_by_role("button", name="Send my contact")).to_be_enabled()
        assert [lead["email"] for lead in await leads_of(client, bot)] == ["try4@example.com"]


class TestHandoff:
    async def test_a_person_is_asked_for_and_their_reply_appears(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
        tmp_path: Path,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(client, bot, {"handoff_enabled": True, "handoff_message": HANDOFF_MESSAGE})
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        await ask(page, "How do I create a virtual environment?")
        talk = page.get_by_role("button", name="Talk to a person")

        await talk.click()

        await expect(hook(page, "message-assistant").last).to_have_text(
            f"Assistant said: {HANDOFF_MESSAGE}"
        )
        await expect(talk).to_be_hidden()
        conversation_id = (await stored_conversation(page, bot))["conversationId"]
        base = f"/v1/conversations/{conversation_id}"
        read = await client.get(base, headers=bot.account.headers)
        assert read.json()["status"] == "handoff_requested"

        reply = await client.post(
            f"{base}/messages",
            json={"role": "agent", "content": "Hi, I'm Sam. <b>How</b> can I help?"},
            headers=bot.account.headers,
        )
        assert reply.status_code == 201, reply.text

        agent = hook(page, "message-agent")
        await expect(agent.locator(".bubble")).to_have_text(
            "Hi, I'm Sam. How can I help?", timeout=AGENT_REPLY_TIMEOUT_MS
        )
        await expect(agent).to_contain_text("Team member")
        await expect(agent.locator("b")).to_have_count(0)
        await screenshot(page, "widget-handoff", tmp_path)
        # While handed off the bot only says so; the answerer is not asked.
        llm_server.behaviour.reply_chunks = ["The model must not answer this."]
        notice = await ask(page, "Hello, are you there?")
        await expect(notice).to_contain_text(HANDOFF_MESSAGE)
        await expect(agent).to_have_count(1)  # polling adds nothing it already shows

        # After a reload the widget still knows, and keeps listening.
        await page.reload()
        await hook(page, "launcher").click()
        await expect(hook(page, "message-agent")).to_have_count(1)
        await expect(talk).to_be_hidden()
        second = await client.post(
            f"{base}/messages",
            json={"role": "agent", "content": "Parts & labour are quoted apart <3"},
            headers=bot.account.headers,
        )
        assert second.status_code == 201, second.text
        # Stored escaped (display text), shown as the person typed it.
        await expect(hook(page, "message-agent").last.locator(".bubble")).to_have_text(
            "Parts & labour are quoted apart <3", timeout=AGENT_REPLY_TIMEOUT_MS
        )
        await expect(hook(page, "message-agent")).to_have_count(2)


class TestHandoffSetting:
    async def test_the_focus_ring_of_talk_to_a_person_is_whole(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(client, bot, {"handoff_enabled": True})
        await page.goto(host_site.page_url(bot.chatbot.id))
        await hook(page, "launcher").focus()
        await page.keyboard.press("Enter")  # opened from the keyboard: focus rings show
        talk = hook(page, "handoff")

        for viewport in ({"width": 1280, "height": 800}, {"width": 375, "height": 667}):
            await page.set_viewport_size(viewport)
            await hook(page, "input").focus()
            await page.keyboard.press("Tab")  # the send button is disabled: the next stop

            await expect(talk).to_be_focused()
            # Its outline was cut by the panel's bottom edge (and on a desktop, its corner).
            assert await talk.evaluate(RING_INSIDE_PANEL), viewport

    async def test_no_talk_to_a_person_when_the_chatbot_has_hand_off_off(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)  # a new chatbot: off
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        answer = await ask(page, "How do I create a virtual environment?")

        await expect(answer).to_contain_text("Use python -m venv")
        await expect(hook(page, "handoff")).to_be_hidden()
        await expect(hook(page, "handback")).to_be_hidden()
        await expect(page.get_by_role("button", name="Talk to a person")).to_have_count(0)

    async def test_back_to_the_assistant_after_asking_for_a_person(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await configure(client, bot, {"handoff_enabled": True, "handoff_message": HANDOFF_MESSAGE})
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        talk = page.get_by_role("button", name="Talk to a person")
        back = page.get_by_role("button", name="Back to the assistant")
        await expect(back).to_be_hidden()
        await talk.click()
        await expect(hook(page, "message-assistant").last).to_contain_text(HANDOFF_MESSAGE)
        notice = await ask(page, "Hello, anyone there?")
        await expect(notice).to_contain_text(HANDOFF_MESSAGE)
        await expect(talk).to_be_hidden()

        await back.click()

        await expect(page.get_by_text("You're talking to the assistant again.")).to_be_visible()
        await expect(back).to_be_hidden()
        await expect(talk).to_be_visible()
        conversation_id = (await stored_conversation(page, bot))["conversationId"]
        read = await client.get(f"/v1/conversations/{conversation_id}", headers=bot.account.headers)
        assert read.json()["status"] == "active"
        # After a reload the last notice is not read as a hand-off still running.
        await page.reload()
        await hook(page, "launcher").click()
        await expect(hook(page, "message-assistant").last).to_contain_text(HANDOFF_MESSAGE)
        await expect(talk).to_be_visible()
        await expect(back).to_be_hidden()
        answer = await ask(page, "How do I create a virtual environment?")
        await expect(answer).to_contain_text("Use python -m venv")
