"""What an answerer is given of a chatbot's settings (`answering.answer_settings`)."""

from __future__ import annotations

from sitechat.chat.answering import answer_settings
from sitechat.models import Chatbot


def test_instructions_reach_the_model_as_written_and_the_fallback_as_text() -> None:
    # Instructions are a system prompt stored as written; the fallback is display text,
    # stored HTML-escaped, and said to the visitor as plain text.
    prompt = "Quote <code> tags and R&amp;D's entities exactly as the page has them."
    chatbot = Chatbot(
        instructions=prompt,
        fallback_message="Ask our help &amp; support desk.",
        max_answer_chars=1200,
        temperature=0.2,
        model="gpt-4o-mini",
    )

    settings = answer_settings(chatbot)

    assert settings.instructions == prompt
    assert settings.fallback_message == "Ask our help & support desk."
