"""The conversation export names every citation, those without a URL too: answers from a real
text source and a real uploaded file, exported over HTTP and read back with the csv module."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from sitechat.analytics.export import EXPORT_HEADER, export_row
from sitechat.analytics.repository import CitedSource
from tests.fixtures.accounts import Account, register
from tests.sources.helpers import ask, new_chatbot, source_after_jobs, upload

REFUNDS = "# Refunds\n\nRefunds are issued within 14 days of purchase."
MANUAL = b"# Warranty\n\nThe warranty covers the blender motor for five whole years.\n"


async def _exported(
    client: httpx.AsyncClient, account: Account, chatbot_id: str
) -> list[dict[str, str]]:
    response = await client.get(
        f"/v1/chatbots/{chatbot_id}/conversations/export.csv", headers=account.headers
    )
    assert response.status_code == 200, response.text
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    assert tuple(reader.fieldnames or ()) == EXPORT_HEADER
    return list(reader)


def _answer_row(rows: list[dict[str, str]], message_id: str) -> dict[str, str]:
    [row] = [row for row in rows if row["message_id"] == message_id]
    return row


class TestCitationsWithoutAUrl:
    async def test_a_text_source_and_a_file_are_named(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        text = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "text", "title": "Refund policy", "content": REFUNDS},
            headers=account.headers,
        )
        assert text.status_code == 201, text.text
        text_id = text.json()["id"]
        uploaded = await upload(client, account, chatbot_id, MANUAL, "blender manual.md")
        assert uploaded.status_code == 202, uploaded.text
        file_id = uploaded.json()["id"]
        assert (await source_after_jobs(app, client, account, chatbot_id, file_id))[
            "status"
        ] == "ready"

        refunds = await ask(client, account, chatbot_id, "When are refunds issued?")
        warranty = await ask(client, account, chatbot_id, "How long is the motor warranty?")
        [refunds_cited] = refunds["citations"]
        [warranty_cited] = warranty["citations"]
        assert refunds_cited["url"] is None and warranty_cited["url"] is None

        rows = await _exported(client, account, chatbot_id)

        refunds_row = _answer_row(rows, refunds["id"])
        assert refunds_row["cited_urls"] == ""
        assert refunds_row["citations"] == f"[1] Refund policy <text source {text_id}>"
        warranty_row = _answer_row(rows, warranty["id"])
        assert warranty_row["citations"] == (
            f'[1] {warranty_cited["title"]} <file "blender manual.md", source {file_id}>'
        )
        questions = [row for row in rows if row["role"] == "user"]
        assert [row["citations"] for row in questions] == ["", ""]

        # A source deleted since still shows which one it was.
        deleted = await client.delete(
            f"/v1/chatbots/{chatbot_id}/sources/{text_id}", headers=account.headers
        )
        assert deleted.status_code == 204
        rows = await _exported(client, account, chatbot_id)
        assert _answer_row(rows, refunds["id"])["citations"] == (
            f"[1] Refund policy <source {text_id}, deleted>"
        )


class TestExportRow:
    def test_each_citation_on_a_line_in_its_order(self) -> None:
        text_id, file_id, qa_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        citations: list[Any] = [
            {"number": 1, "title": "Pricing", "url": "https://shop.example.com/pricing#gold"},
            {"number": 2, "title": "Refund\npolicy", "url": None, "source_id": str(text_id)},
            {"number": 3, "title": "Manual, page 4", "url": None, "source_id": str(file_id)},
            {"number": 4, "title": "Can I return a bike?", "url": None, "source_id": str(qa_id)},
            {"number": 5, "title": "Old", "url": None, "source_id": "not-an-id"},
            "not a citation",
        ]
        sources = {
            text_id: CitedSource("text", None),
            file_id: CitedSource("file", 'the "manual".pdf'),
            qa_id: CitedSource("qa", None),
        }
        row = [*range(12), citations, "up"]

        exported = export_row(row, sources)

        assert exported[:12] == list(range(12))
        assert exported[12:14] == ["https://shop.example.com/pricing#gold", "up"]
        assert exported[14].split("\n") == [
            "[1] Pricing <https://shop.example.com/pricing#gold>",
            f"[2] Refund policy <text source {text_id}>",
            f"[3] Manual, page 4 <file \"the 'manual'.pdf\", source {file_id}>",
            f"[4] Can I return a bike? <Q&A source {qa_id}>",
            "[5] Old",
        ]
        assert len(exported) == len(EXPORT_HEADER)
