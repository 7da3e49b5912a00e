"""The widget in a real browser: a host page on another origin embeds the script, a visitor
opens it, asks, reads the streamed answer and its sources, reloads, and uses a phone."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from playwright.async_api import Page, expect

from tests.chat.conftest import ChatCompletionsServer
from tests.widget.conftest import HostSite
from tests.widget.helpers import (
    ask,
    expect_one_focus_ring,
    hook,
    open_widget,
    public_bot,
    screenshot,
)

ANSWER_CHUNKS = [
    "To create a virtual environment, run `python -m venv tutorial-env` [1].\n\n",
    "```\npython -m venv tutorial-env\n```\n\n",
    "- Activate it\n- Install **packages** with pip\n\n",
    "| Plan | Price |\n| --- | ---: |\n| Team | £29 |\n| Pro | £99 |\n\n[1]",
]

# The lines a cell's text takes: a box starts a new line only below the line before (the
# raised [1] mark overlaps the line it ends).
COUNT_LINES = """cell => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const boxes = [...range.getClientRects()].sort((a, b) => a.top - b.top);
  let lines = 0;
  let bottom = -Infinity;
  for (const box of boxes) {
    if (box.top >= bottom) lines += 1;
    bottom = Math.max(bottom, box.bottom);
  }
  return lines;
}"""

# The text a visitor copies after selecting the whole of an element.
SELECTED_TEXT = """element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return selection.toString();
}"""


def watch_console_warnings(page: Page) -> list[str]:
    """The page's console warnings, as they come."""
    warnings: list[str] = []
    page.on(
        "console",
        lambda message: warnings.append(message.text) if message.type == "warning" else None,
    )
    return warnings


class TestAskingOnACustomersSite:
    async def test_streamed_answer_renders_markdown_and_links_its_source(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
        tmp_path: Path,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = ANSWER_CHUNKS

        await page.goto(host_site.page_url(bot.chatbot.id))
        launcher = hook(page, "launcher")
        # The host page hides every div and button and restyles everything: not the widget.
        await expect(launcher).to_be_visible()
        await expect(launcher).to_have_text("Help & docs")
        await launcher.click()

        dialog = page.get_by_role("dialog", name="Docs bot")
        await expect(dialog).to_be_visible()
        await expect(hook(page, "input")).to_be_focused()
        await expect(dialog).to_contain_text("Hi! Ask me about virtual environments.")
        answer = await ask(page, "How do I create a virtual environment?")

        await expect(hook(page, "message-user")).to_have_text(
            "You said: How do I create a virtual environment?"
        )
        await expect(answer.locator("pre code")).to_have_text("python -m venv tutorial-env")
        await expect(answer.locator(".bubble li")).to_have_text(
            ["Activate it", "Install packages with pip"]
        )
        await expect(answer.locator("strong")).to_have_text("packages")
        # A price table quoted from a page is a table, not lines of pipes.
        await expect(answer.locator("table th")).to_have_text(["Plan", "Price"])
        await expect(answer.locator("table td")).to_have_text(["Team", "£29", "Pro", "£99[1]"])
        await expect(answer.locator(".bubble")).not_to_contain_text("|")
        citation = answer.locator('[data-sitechat="citation"]')
        await expect(citation).to_have_text("Virtual environments")
        await expect(citation).to_have_attribute("href", bot.source_url)
        await expect(answer.locator(".typing")).to_have_count(0)
        await screenshot(page, "widget-desktop", tmp_path)

    async def test_a_mark_citing_a_table_ends_its_last_cell(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = [
            "Our plans [1]:\n\n",
            "| Plan | Price |\n| --- | ---: |\n| Team | £29 |\n| Pro | £99 |\n\n[1]",
        ]
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        answer = await ask(page, "How do I create a virtual environment?")

        # Not a lone "[1]" on a line under the table.
        await expect(answer.locator(".bubble > :last-child")).to_have_class("md-table")
        await expect(answer.locator(".bubble > p")).to_have_text(["Our plans [1]:"])
        last_cell = answer.locator("table tr").last.locator("td").last
        await expect(last_cell).to_have_text("£99[1]")
        await expect(last_cell.get_by_role("link", name="Source 1")).to_have_attribute(
            "href", bot.source_url
        )

    async def test_a_mark_citing_a_list_or_a_code_block_ends_it(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = [
            "Create it:\n\n```\npython -m venv tutorial-env\n```\n\n[1]\n\n",
            "> One environment per project.\n\n[1]\n\n",
            "Then:\n\n- Activate it\n- Install packages with pip\n\n[1]",
        ]
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        answer = await ask(page, "How do I create a virtual environment?")

        # No lone "[1]" on a line under the code block, the quote or the list.
        await expect(answer.locator(".bubble > p")).to_have_text(["Create it:", "Then:"])
        await expect(answer.locator(".bubble > :last-child")).to_have_js_property("tagName", "UL")
        last_item = answer.locator(".bubble li").last
        await expect(last_item).to_have_text("Install packages with pip[1]")
        quote = answer.locator("blockquote")
        await expect(quote).to_have_text("One environment per project.[1]")
        code_block = answer.locator("pre")
        await expect(code_block.locator("code")).to_have_text("python -m venv tutorial-env")
        await expect(code_block).to_have_text("python -m venv tutorial-env[1]")
        # Copying the code does not copy the mark.
        assert await code_block.evaluate(SELECTED_TEXT) == "python -m venv tutorial-env"
        for block in (last_item, quote, code_block):
            await expect(block.get_by_role("link", name="Source 1")).to_have_attribute(
                "href", bot.source_url
            )
            # The mark sits on the line it ends, not on one of its own.
            assert await block.evaluate(COUNT_LINES) == 1, await block.inner_text()

    async def test_a_source_names_the_section_the_answer_quotes(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(
            app,
            client,
            host_site.origin,
            title="venv — Creation of virtual environments",
            heading="`venv` — Creation of virtual environments > `venv.create(env_dir)`",
        )
        llm_server.behaviour.reply_chunks = ["Call venv.create(env_dir) [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        answer = await ask(page, "create an environment from code")

        await expect(answer.locator('[data-sitechat="citation"]')).to_have_text(
            "venv — Creation of virtual environments \u203a venv.create(env_dir)"
        )

    async def test_keyboard_escape_closes_and_focus_returns_to_the_launcher(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        launcher = hook(page, "launcher")
        await expect(launcher).to_have_attribute("aria-expanded", "true")

        await page.keyboard.press("Escape")

        await expect(page.get_by_role("dialog")).to_be_hidden()
        await expect(launcher).to_be_focused()
        await expect(launcher).to_have_attribute("aria-expanded", "false")
        await page.keyboard.press("Enter")
        await expect(hook(page, "input")).to_be_focused()

    async def test_the_open_launcher_says_it_closes_the_chat(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await page.goto(host_site.page_url(bot.chatbot.id))
        launcher = hook(page, "launcher")
        await expect(launcher).to_have_accessible_name("Help & docs")

        await launcher.click()

        # A close icon that reads "Help & docs" would say one thing and do another.
        await expect(launcher).to_have_attribute("aria-expanded", "true")
        await expect(launcher).to_have_accessible_name("Close chat")
        await expect(launcher.get_by_text("Help & docs")).to_be_hidden()
        box = await launcher.bounding_box()
        assert box is not None and box["width"] == box["height"]  # a round icon button
        icon = await launcher.locator("svg").bounding_box()
        assert icon is not None
        # The close icon in the middle of the circle (it sat on a text baseline, 3 px high).
        assert abs(icon["x"] + icon["width"] / 2 - (box["x"] + box["width"] / 2)) <= 0.5
        assert abs(icon["y"] + icon["height"] / 2 - (box["y"] + box["height"] / 2)) <= 0.5
        await launcher.click()
        await expect(page.get_by_role("dialog")).to_be_hidden()
        await expect(launcher).to_have_attribute("aria-expanded", "false")
        await expect(launcher).to_have_accessible_name("Help & docs")
        await expect(launcher.get_by_text("Help & docs")).to_be_visible()

    async def test_the_focused_input_has_one_focus_ring(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)

        await open_widget(page, host_site.page_url(bot.chatbot.id))

        # The theme colour (#0f766e), not an outline around a grey border.
        await expect_one_focus_ring(hook(page, "input"), "rgb(15, 118, 110)")

    async def test_keyboard_stops_in_the_header_and_the_conversation_show_a_ring(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await page.goto(host_site.page_url(bot.chatbot.id))
        await hook(page, "launcher").focus()
        await page.keyboard.press("Enter")
        await expect(hook(page, "input")).to_be_focused()

        await page.keyboard.press("Shift+Tab")
        await expect(page.get_by_role("button", name="How do I create")).to_be_focused()
        await page.keyboard.press("Shift+Tab")  # the conversation, to scroll it with the keys
        conversation = page.get_by_role("log")
        await expect(conversation).to_be_focused()
        # The theme's ring, inside its edges (which the panel clips), not the browser's own.
        await expect(conversation).to_have_css("outline-style", "solid")
        await expect(conversation).to_have_css("outline-color", "rgb(15, 118, 110)")
        await expect(conversation).to_have_css("outline-offset", "-3px")
        await page.keyboard.press("Shift+Tab")
        close = page.locator(".header").get_by_role("button", name="Close chat")
        await expect(close).to_be_focused()
        # On the header's theme colour a ring of the theme colour was invisible: the ring is
        # the colour of the header's text.
        await expect(page.locator(".header")).to_have_css("background-color", "rgb(15, 118, 110)")
        await expect(close).to_have_css("outline-color", "rgb(255, 255, 255)")
        await expect(close).to_have_css("outline-style", "solid")

    async def test_suggested_question_asks_it(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = [
            "## Steps\n\n1. Run *python -m venv* [1].\n2. See [the guide](https://docs.python.org/3/library/venv.html).\n\n",
            "> Tip: one environment per project.",
        ]
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        await page.get_by_role("button", name="How do I create a virtual environment?").click()

        await expect(hook(page, "message-user")).to_contain_text("How do I create")
        answer = hook(page, "message-assistant")
        await expect(answer).to_have_attribute("aria-busy", "false")
        await expect(answer.locator(".md-heading")).to_have_text("Steps")
        await expect(answer.locator(".bubble ol > li")).to_have_count(2)
        await expect(answer.locator("em")).to_have_text("python -m venv")
        await expect(answer.get_by_role("link", name="the guide")).to_have_attribute(
            "href", "https://docs.python.org/3/library/venv.html"
        )
        await expect(answer.locator("blockquote")).to_have_text("Tip: one environment per project.")
        await expect(page.locator(".suggestions")).to_be_hidden()

    async def test_a_page_with_a_strict_csp_still_styles_the_widget(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        violations: list[str] = []
        page.on("console", lambda message: violations.append(message.text))

        await open_widget(page, f"{host_site.origin}/strict?chatbot_id={bot.chatbot.id}")
        answer = await ask(page, "How do I create a virtual environment?")

        await expect(answer).to_contain_text("Use python -m venv")
        # The theme colour (#0f766e) reaches the launcher: the widget's styles applied.
        await expect(hook(page, "launcher")).to_have_css("background-color", "rgb(15, 118, 110)")
        assert [text for text in violations if "Content Security Policy" in text] == []


class TestConversationAcrossReloads:
    async def test_reload_keeps_the_conversation(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        await ask(page, "How do I create a virtual environment?")

        await page.reload()
        await hook(page, "launcher").click()

        await expect(hook(page, "message-user")).to_have_text(
            "You said: How do I create a virtual environment?"
        )
        answer = hook(page, "message-assistant")
        await expect(answer).to_contain_text("Use python -m venv")
        await expect(answer.locator('[data-sitechat="citation"]')).to_have_attribute(
            "href", bot.source_url
        )

    async def test_an_expired_token_starts_a_new_conversation_cleanly(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = ["Use python -m venv [1]."]
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        await ask(page, "How do I create a virtual environment?")
        key = f"sitechat:{bot.chatbot.id}"
        first = await page.evaluate(f"JSON.parse(localStorage.getItem('{key}')).conversationId")
        # The server no longer accepts the stored token (as after its expiry).
        await page.evaluate(
            f"""() => {{
                const saved = JSON.parse(localStorage.getItem('{key}'));
                saved.token = saved.token.slice(0, -4) + 'AAAA';
                localStorage.setItem('{key}', JSON.stringify(saved));
            }}"""
        )

        await page.reload()
        await hook(page, "launcher").click()

        await expect(hook(page, "message-user")).to_have_count(0)
        await expect(page.get_by_role("alert")).to_be_hidden()
        await ask(page, "How do I create a virtual environment?")
        await expect(hook(page, "message-assistant")).to_contain_text("Use python -m venv")
        second = await page.evaluate(f"JSON.parse(localStorage.getItem('{key}')).conversationId")
        assert second != first


class TestRefusals:
    async def test_an_origin_not_allowed_shows_nothing_and_tells_the_owner(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        # The usual mistake: the site is opened as localhost, only 127.0.0.1 is allowed.
        page_origin = host_site.origin.replace("127.0.0.1", "localhost")
        warnings = watch_console_warnings(page)

        async with page.expect_console_message(lambda message: "SiteChat" in message.text):
            await page.goto(f"{page_origin}/?chatbot_id={bot.chatbot.id}")

        await expect(page.locator("#sitechat-widget")).to_have_count(0)
        await expect(hook(page, "launcher")).to_have_count(0)
        assert len(warnings) == 1, warnings
        assert f"add {page_origin} to the allowed_origins" in warnings[0]

    async def test_a_private_chatbot_shows_no_widget(
        self, app: FastAPI, host_site: HostSite, page: Page
    ) -> None:
        from tests.fixtures.chat import create_account, create_chatbot

        chatbot = await create_chatbot(
            app, await create_account(app), allowed_origins=[host_site.origin]
        )
        warnings = watch_console_warnings(page)
        async with page.expect_console_message(lambda message: "not public" in message.text):
            await page.goto(host_site.page_url(chatbot.id))

        await expect(page.locator("#sitechat-widget")).to_have_count(0)
        assert len(warnings) == 1, warnings

    async def test_an_origin_removed_after_the_page_loaded_is_refused_in_words(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await open_widget(page, host_site.page_url(bot.chatbot.id))
        response = await client.patch(
            f"/v1/chatbots/{bot.chatbot.id}",
            json={"allowed_origins": ["https://www.example.com"]},
            headers=bot.account.headers,
        )
        assert response.status_code == 200, response.text

        await hook(page, "input").fill("How do I create a virtual environment?")
        await hook(page, "send").click()

        await expect(page.get_by_role("alert")).to_contain_text(
            "This chat isn't available on this website."
        )
        await expect(hook(page, "input")).to_be_disabled()
        await expect(hook(page, "send")).to_be_disabled()


class TestNoHtmlExecutes:
    async def test_html_in_a_source_or_an_answer_stays_text(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        img = '<img src=x onerror="window.sitechatPwned=1">'
        bot = await public_bot(
            app,
            client,
            host_site.origin,
            text=f"Virtual environment notes {img} python -m venv",
            title=f"Venv {img}",
        )
        llm_server.behaviour.reply_chunks = [
            f"The source says {img} [1]. ",
            "<script>window.sitechatPwned=2</script> ",
            "[click me](javascript:window.sitechatPwned=3) ",
            '<a href="javascript:window.sitechatPwned=4">link</a>',
        ]
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        answer = await ask(page, "virtual environment notes?")

        await expect(answer).to_contain_text(f"The source says {img}")
        await expect(answer).to_contain_text("<script>window.sitechatPwned=2</script>")
        await expect(answer.locator('[data-sitechat="citation"]')).to_have_text(f"Venv {img}")
        await page.wait_for_timeout(300)  # an onerror would have fired by now
        assert await page.evaluate("window.sitechatPwned") is None
        assert await answer.locator("img, script").count() == 0
        await expect(answer.locator('a[href^="javascript"]')).to_have_count(0)
        await expect(answer).to_contain_text("click me")


class TestPhone:
    async def test_the_panel_fills_a_phone_screen(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
        tmp_path: Path,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = ANSWER_CHUNKS
        await page.set_viewport_size({"width": 390, "height": 844})
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        await ask(page, "How do I create a virtual environment?")

        box = await page.get_by_role("dialog").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
        await expect(hook(page, "launcher")).to_be_hidden()  # the panel has its own close
        close = page.get_by_role("button", name="Close chat")
        await expect(close).to_be_visible()
        input_box = await hook(page, "input").bounding_box()
        assert input_box is not None and input_box["x"] + input_box["width"] <= 390
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 390
        await screenshot(page, "widget-phone", tmp_path)
        await close.click()
        await expect(hook(page, "launcher")).to_be_visible()

    async def test_the_panel_takes_the_height_of_a_phone_held_sideways(
        self, app: FastAPI, client: httpx.AsyncClient, host_site: HostSite, page: Page
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        await page.set_viewport_size({"width": 667, "height": 375})

        await open_widget(page, host_site.page_url(bot.chatbot.id))

        # Above the launcher it was 267 px tall, the messages a strip of four lines between the
        # header and the composer; now it is as tall as the screen, with its own close button.
        box = await page.get_by_role("dialog").bounding_box()
        assert box is not None and (box["y"], box["height"]) == (0, 375), box
        assert box["x"] + box["width"] == 667
        await expect(hook(page, "launcher")).to_be_hidden()
        await expect(page.get_by_role("button", name="Close chat")).to_be_visible()
        log = await page.get_by_role("log").bounding_box()
        assert log is not None and log["height"] >= 180, log

    async def test_a_price_in_a_wide_table_stays_on_one_line(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        host_site: HostSite,
        llm_server: ChatCompletionsServer,
        page: Page,
    ) -> None:
        bot = await public_bot(app, client, host_site.origin)
        llm_server.behaviour.reply_chunks = [
            "| Course | When | Price |\n| --- | --- | --- |\n"
            "| Intensive German A1, morning group | Monday to Friday, 9:00 to 12:30 | EUR 390 |"
            "\n\n[1]"
        ]
        await page.set_viewport_size({"width": 390, "height": 844})
        await open_widget(page, host_site.page_url(bot.chatbot.id))

        answer = await ask(page, "How do I create a virtual environment?")

        price = answer.locator("table td").nth(2)
        await expect(price).to_have_text("EUR 390[1]")  # the mark citing the table ends it
        # Squeezed by its neighbours, a cell must neither break "EUR" from "390" nor a word,
        # nor leave the mark on a line of its own.
        for cell in (price, answer.locator("table th").nth(2)):
            lines = await cell.evaluate(COUNT_LINES)
            assert lines == 1, await cell.inner_text()
