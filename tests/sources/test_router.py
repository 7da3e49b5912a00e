"""File sources over HTTP: upload, parse in the job, status and errors, replace, tenancy."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sitechat.core.clock import utcnow
from sitechat.models.chat import UsageEvent
from sitechat.sources import ingest
from tests.conftest import run_queued_jobs
from tests.fixtures.accounts import assert_problem, register
from tests.sources.files import (
    encrypt_pdf,
    make_docx,
    make_pdf,
    make_pdf_with_headings,
    make_pdf_with_table,
    make_png,
    zip_bomb_docx,
)
from tests.sources.helpers import (
    ask,
    new_chatbot,
    replace,
    run_diff,
    search,
    source_after_jobs,
    upload,
)

HANDBOOK = [
    "Welcome to the staff handbook of the bakery.",
    "Opening hours are seven to three on weekdays.",
    "Uniforms are washed by the laundry service on Fridays.",
    "Refunds are paid back within fourteen days of a complaint.",
    "Holidays are booked through the planning board.",
]


class TestUploadPdf:
    async def test_pages_are_indexed_and_cited_with_their_number(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        pdf = make_pdf(HANDBOOK, title="Staff handbook", outline={1: "Intro", 4: "Money"})
        response = await upload(client, account, chatbot_id, pdf, "handbook.pdf")
        assert response.status_code == 202, response.text
        queued = response.json()
        assert (queued["kind"], queued["status"], queued["file_name"]) == (
            "file",
            "queued",
            "handbook.pdf",
        )

        source = await source_after_jobs(app, client, account, chatbot_id, queued["id"])
        assert source["status"] == "ready", source
        assert (source["file_type"], source["pages"], source["error"]) == ("pdf", 5, None)
        assert source["last_run"]["pages_new"] == 5
        hits = await search(client, account, chatbot_id, "refunds fourteen days")
        assert hits[0]["title"] == "Staff handbook, page 4"
        assert hits[0]["heading"] == "Money"  # from the PDF's bookmarks
        assert hits[0]["url"] is None  # an uploaded file has nothing to link to
        chatbot = await client.get(f"/v1/chatbots/{chatbot_id}", headers=account.headers)
        assert chatbot.json()["status"] == "ready"

    async def test_a_heading_set_larger_heads_its_section(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        """A PDF without bookmarks: its larger lines are headings, not the start of the
        paragraph under them ("Battery warranty The e-bike battery is...")."""
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        pdf = make_pdf_with_headings(
            [
                ("Frame warranty", ["Every frame is covered for ten years.", "Not transferable."]),
                (
                    "Battery warranty",
                    [
                        "The e-bike battery is guaranteed for two years",
                        "or 500 full charge cycles.",
                    ],
                ),
            ]
        )
        response = await upload(client, account, chatbot_id, pdf, "warranty.pdf")
        source = await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        assert source["status"] == "ready", source

        (hit, *_) = await search(client, account, chatbot_id, "battery guaranteed charge cycles")
        assert hit["heading"] == "Battery warranty"
        assert hit["snippet"].startswith("The e-bike battery is guaranteed for two years or 500")

    async def test_each_pdf_page_is_a_page_for_retrieval(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        # At most two passages per page reach an answer: each PDF page counts on its own.
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        pages = [f"Refund rule {n}: parcels are refunded in {n} weeks." for n in range(1, 6)]
        response = await upload(client, account, chatbot_id, make_pdf(pages), "refunds.pdf")
        await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        hits = await search(client, account, chatbot_id, "parcels refunded weeks")
        assert len({hit["title"] for hit in hits}) == 5

    async def test_pages_count_against_the_plan(self, app: Any, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await upload(client, account, chatbot_id, make_pdf(HANDBOOK), "h.pdf")
        await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        usage = await client.get("/v1/billing/usage", headers=account.headers)
        assert usage.json()["usage"]["pages"] == 5

    async def test_a_price_tables_row_answers_a_question_about_it(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        """A PDF's price table was read as one run-on paragraph: "how much is the Growth
        plan" led with "All prices include VAT." and no row."""
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        pdf = make_pdf_with_table(
            [
                "Choose the plan that fits your team. All prices include VAT.",
                "Every plan can be cancelled at the end of any month.",
            ],
            PRICE_TABLE,
            ["Annual billing saves two months on every plan."],
        )
        response = await upload(client, account, chatbot_id, pdf, "prices.pdf")
        source = await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        assert source["status"] == "ready", source

        answer = await ask(client, account, chatbot_id, "How much is the Growth plan?")

        assert "| Growth | EUR 49 | 5,000 |" in answer["content"], answer["content"]
        assert "| Business" not in answer["content"]
        assert not answer["content"].startswith("Choose the plan")
        assert answer["citations"][0]["title"] == "Price list, page 1"


PRICE_TABLE = [
    ("Plan", "Monthly price", "Messages"),
    ("Starter", "EUR 19", "1,000"),
    ("Growth", "EUR 49", "5,000"),
    ("Business", "EUR 199", "25,000"),
    ("Enterprise", "On request", "Unlimited"),
]


class TestUploadOtherTypes:
    async def test_docx_sections_become_pages_with_headings(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        guide = make_docx(
            [
                ("Refunds", ["Refunds are paid within fourteen days."]),
                ("Shipping", ["Parcels leave the warehouse every Tuesday."]),
            ]
        )
        # Named .bin: the type comes from the content.
        response = await upload(client, account, chatbot_id, guide, "guide.bin")
        assert response.status_code == 202, response.text
        source = await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        assert (source["status"], source["file_type"], source["pages"]) == ("ready", "docx", 2)
        hits = await search(client, account, chatbot_id, "parcels warehouse")
        assert (hits[0]["title"], hits[0]["heading"]) == ("Staff guide: Shipping", "Shipping")

    async def test_markdown_html_and_text(self, app: Any, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        files = {
            "notes.md": b"# Notes\n\n## Parking\n\nPark behind the mill.\n\n"
            b"## Keys\n\nKeys hang by the door.\n",
            "page.html": b"<!doctype html><html><head><title>Menu</title></head><body><main>"
            b"<h1>Menu</h1><p>Sourdough loaves are baked at dawn every single day.</p>"
            b"</main></body></html>",
            "plain.txt": b"The delivery van is serviced in March.",
        }
        kinds = {}
        for name, data in files.items():
            response = await upload(client, account, chatbot_id, data, name, "text/plain")
            assert response.status_code == 202, response.text
            source = await source_after_jobs(
                app, client, account, chatbot_id, response.json()["id"]
            )
            assert source["status"] == "ready", source
            kinds[name] = (source["file_type"], source["pages"])
        assert kinds == {
            "notes.md": ("markdown", 2),
            "page.html": ("html", 1),
            "plain.txt": ("text", 1),
        }
        assert (await search(client, account, chatbot_id, "park mill"))[0][
            "title"
        ] == "Notes: Parking"
        assert await search(client, account, chatbot_id, "sourdough dawn")
        assert await search(client, account, chatbot_id, "delivery van serviced")


class TestDisplayText:
    async def test_file_names_and_titles_carry_no_markup(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        pdf = make_pdf(["Plain text."], title="<img src=x onerror=alert(1)>Prices")
        response = await upload(
            client, account, chatbot_id, pdf, "../../<b>price</b><script>x</script>list.pdf"
        )
        assert response.json()["file_name"] == "pricelist.pdf"
        source = await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        assert (source["title"], source["file_name"]) == ("Prices", "pricelist.pdf")


class TestTextEncodings:
    async def test_text_saved_by_windows_editors(self, app: Any, client: httpx.AsyncClient) -> None:
        """Notepad's "ANSI" (Windows-1252) and "Unicode" (UTF-16 with a byte-order mark)."""
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        files = {
            "ansi.txt": "Our café in München opens at eight \u2013 every day.".encode("cp1252"),
            "unicode.txt": "The Zürich workshop services bikes on Wednesdays.".encode("utf-16"),
        }
        for name, data in files.items():
            response = await upload(client, account, chatbot_id, data, name, "text/plain")
            assert response.status_code == 202, response.text
            source = await source_after_jobs(
                app, client, account, chatbot_id, response.json()["id"]
            )
            assert (source["status"], source["file_type"]) == ("ready", "text"), source

        (cafe,) = await search(client, account, chatbot_id, "café München")
        (workshop,) = await search(client, account, chatbot_id, "Zürich workshop")
        assert "Our café in München opens at eight \u2013 every day." in cafe["snippet"]
        assert "The Zürich workshop services bikes" in workshop["snippet"]


class TestRefusedUploads:
    async def test_a_blank_text_file_is_415(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await upload(client, account, chatbot_id, b"  \n\t\r\n ", "notes.txt")
        problem = assert_problem(response, 415, "unsupported-file-type")
        assert "blank" in str(problem["detail"])
        listed = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_a_png_named_pdf_is_415(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await upload(
            client, account, chatbot_id, make_png(), "report.pdf", "application/pdf"
        )
        assert_problem(response, 415, "unsupported-file-type")
        listed = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_above_the_plans_cap_is_413(self, client: httpx.AsyncClient) -> None:
        account = await register(client)  # Free: 5 MB files
        chatbot_id = await new_chatbot(client, account)
        response = await upload(client, account, chatbot_id, b"a" * 5_000_001, "big.txt")
        body = assert_problem(response, 413, "file-too-large")
        assert (body["limit"], body["plan_id"]) == (5_000_000, "free")
        listed = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_once_the_months_pages_are_used_an_upload_is_402_an_oversized_one_413(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        # One read of the plan serves both limits; the file's cap is still checked first.
        account = await register(client)  # Free: 500 pages a month
        chatbot_id = await new_chatbot(client, account)
        async with app.state.sessionmaker() as session, session.begin():
            session.add(
                UsageEvent(
                    workspace_id=account.workspace_id,
                    kind="pages",
                    quantity=500,
                    event_key="seeded:pages",
                    occurred_at=utcnow(),
                )
            )
        used_up = await upload(client, account, chatbot_id, b"Open seven to three.", "hours.txt")
        oversized = await upload(client, account, chatbot_id, b"a" * 5_000_001, "big.txt")
        body = assert_problem(used_up, 402, "quota-exceeded")
        assert (body["limit"], body["usage"], body["plan_id"]) == ("pages_per_month", 500, "free")
        assert_problem(oversized, 413, "file-too-large")
        listed = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_a_json_body_keeps_the_small_cap(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            content=b'{"kind": "text", "title": "x", "content": "' + b"a" * 1_100_000 + b'"}',
            headers={**account.headers, "Content-Type": "application/json"},
        )
        assert_problem(response, 413, "payload-too-large")

    async def test_malformed_requests_are_clear_4xx(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        url = f"/v1/chatbots/{chatbot_id}/sources"
        no_file = await client.post(url, files={"other": ("a.txt", b"x")}, headers=account.headers)
        assert_problem(no_file, 422, "missing-file")
        empty = await client.post(url, files={"file": ("a.txt", b"")}, headers=account.headers)
        assert_problem(empty, 415, "unsupported-file-type")
        bad_json = await client.post(
            url, content=b"{", headers={**account.headers, "Content-Type": "application/json"}
        )
        assert_problem(bad_json, 400, "malformed-json")
        bad_kind = await client.post(url, json={"kind": "video"}, headers=account.headers)
        assert_problem(bad_kind, 422, "validation-error")
        bad_url = await client.post(
            url, json={"kind": "file", "url": "ftp://x/y.pdf"}, headers=account.headers
        )
        assert_problem(bad_url, 422, "validation-error")
        form = await client.post(url, data={"file": "x"}, headers=account.headers)
        assert_problem(form, 415)
        listed = await client.get(url, headers=account.headers)
        assert listed.json()["items"] == []

    async def test_malformed_ids_and_bodies_on_one_source_are_clear_4xx(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        created = await upload(client, account, chatbot_id, b"Opening hours are 9 to 5.", "a.txt")
        assert created.status_code == 202, created.text
        sources = f"/v1/chatbots/{chatbot_id}/sources"
        one = f"{sources}/{created.json()['id']}"
        headers = account.headers

        for response in (
            await client.get(f"{sources}/nope", headers=headers),
            await client.patch(f"{sources}/nope", json={"sync_schedule": "off"}, headers=headers),
            await client.post(f"{sources}/nope/sync", headers=headers),
            await client.get(f"{one}/runs/nope", headers=headers),
            await client.get(f"{one}/runs?limit=0", headers=headers),
            await client.get(f"{one}/runs?cursor=%25%25%25", headers=headers),
        ):
            assert_problem(response, 422)
        as_json = await client.put(f"{one}/file", json={"file": "x"}, headers=headers)
        assert_problem(as_json, 415)
        no_file = await client.put(f"{one}/file", files={"other": ("a.txt", b"x")}, headers=headers)
        assert_problem(no_file, 422, "missing-file")
        empty = await client.put(f"{one}/file", files={"file": ("a.txt", b"")}, headers=headers)
        assert_problem(empty, 415, "unsupported-file-type")
        unchanged = await client.get(one, headers=headers)
        assert unchanged.status_code == 200
        assert unchanged.json()["file_name"] == "a.txt"


class TestFailedFiles:
    async def _failed(self, app: Any, client: httpx.AsyncClient, data: bytes, name: str) -> dict:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await upload(client, account, chatbot_id, data, name)
        assert response.status_code == 202, response.text
        source = await source_after_jobs(app, client, account, chatbot_id, response.json()["id"])
        assert (source["status"], source["pages"]) == ("failed", 0), source
        assert source["last_run"]["status"] == "failed"
        assert source["last_run"]["error"] == source["error"]
        return source

    async def test_an_encrypted_pdf(self, app: Any, client: httpx.AsyncClient) -> None:
        source = await self._failed(app, client, encrypt_pdf(make_pdf(HANDBOOK)), "locked.pdf")
        assert "encrypted" in source["error"]

    async def test_a_zip_bomb_docx(self, app: Any, client: httpx.AsyncClient) -> None:
        source = await self._failed(app, client, zip_bomb_docx(), "bomb.docx")
        assert "zip bomb" in source["error"]

    async def test_a_corrupt_pdf(self, app: Any, client: httpx.AsyncClient) -> None:
        broken = make_pdf(HANDBOOK)[:300] + b"\x00garbage" * 50
        source = await self._failed(app, client, broken, "broken.pdf")
        assert "damaged" in source["error"] or "No text" in source["error"]

    async def test_a_corrupt_docx(self, app: Any, client: httpx.AsyncClient) -> None:
        broken = make_docx([("A", ["b"])])[:200]
        source = await self._failed(app, client, broken, "broken.docx")
        assert "damaged" in source["error"]


class TestReplaceFile:
    async def test_only_changed_pages_are_reindexed(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        first = await upload(client, account, chatbot_id, make_pdf(HANDBOOK), "handbook.pdf")
        source_id = first.json()["id"]
        await source_after_jobs(app, client, account, chatbot_id, source_id)
        headers = account.headers
        runs = (
            await client.get(f"/v1/chatbots/{chatbot_id}/sources/{source_id}/runs", headers=headers)
        ).json()
        uniforms = await search(client, account, chatbot_id, "uniforms laundry")
        assert uniforms[0]["title"] == "Handbook, page 3"

        edited = [*HANDBOOK[:1], "Opening hours are six to two on weekdays.", *HANDBOOK[2:4]]
        response = await replace(
            client, account, chatbot_id, source_id, make_pdf(edited), "handbook-v2.pdf"
        )
        assert response.status_code == 202, response.text
        source = await source_after_jobs(app, client, account, chatbot_id, source_id)
        assert (source["status"], source["pages"], source["file_name"]) == (
            "ready",
            4,
            "handbook-v2.pdf",
        )
        run = source["last_run"]
        assert run["id"] != runs["items"][0]["id"]
        assert (
            run["trigger"],
            run["pages_new"],
            run["pages_changed"],
            run["pages_unchanged"],
            run["pages_removed"],
        ) == ("replace", 0, 1, 3, 1)
        assert run["pages_indexed"] == 1
        assert await run_diff(client, account, chatbot_id, source_id, run["id"]) == {
            "page-1": "unchanged",
            "page-2": "changed",
            "page-3": "unchanged",
            "page-4": "unchanged",
            "page-5": "removed",
        }
        assert await search(client, account, chatbot_id, "six to two")
        assert not await search(client, account, chatbot_id, "planning board")
        # An unchanged page keeps its chunk: it was not re-indexed.
        again = await search(client, account, chatbot_id, "uniforms laundry")
        assert again[0]["chunk_id"] == uniforms[0]["chunk_id"]
        usage = await client.get("/v1/billing/usage", headers=headers)
        assert usage.json()["usage"]["pages"] == 6  # 5 first, then the 1 changed page

    async def test_a_failed_replacement_keeps_the_old_version(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        first = await upload(client, account, chatbot_id, make_pdf(HANDBOOK), "handbook.pdf")
        source_id = first.json()["id"]
        await source_after_jobs(app, client, account, chatbot_id, source_id)
        await replace(client, account, chatbot_id, source_id, encrypt_pdf(make_pdf(["x"])), "h.pdf")
        source = await source_after_jobs(app, client, account, chatbot_id, source_id)
        # Ready: it is still answered from, as it was; the error says the new file is not.
        assert source["status"] == "ready"
        assert "encrypted" in source["error"] and "previous version" in source["error"]
        assert (source["file_name"], source["file_type"], source["pages"]) == (
            "handbook.pdf",
            "pdf",
            5,
        )
        assert source["last_run"]["status"] == "failed"
        assert await search(client, account, chatbot_id, "planning board")

    async def test_only_file_sources_take_a_file(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        text = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "text", "title": "Hours", "content": "Open at nine."},
            headers=account.headers,
        )
        assert text.status_code == 201
        response = await replace(
            client, account, chatbot_id, text.json()["id"], b"new text", "a.txt"
        )
        assert_problem(response, 409, "not-a-file-source")


class TestTenancy:
    async def test_another_workspaces_ids_are_404(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        owner = await register(client)
        other = await register(client)
        chatbot_id = await new_chatbot(client, owner)
        response = await upload(client, owner, chatbot_id, make_pdf(HANDBOOK), "h.pdf")
        source_id = response.json()["id"]
        await source_after_jobs(app, client, owner, chatbot_id, source_id)
        run_id = (
            await client.get(
                f"/v1/chatbots/{chatbot_id}/sources/{source_id}", headers=owner.headers
            )
        ).json()["last_run"]["id"]
        base = f"/v1/chatbots/{chatbot_id}/sources"
        attempts = [
            await upload(client, other, chatbot_id, b"hello", "a.txt"),
            await client.get(f"{base}/{source_id}", headers=other.headers),
            await client.get(f"{base}/{source_id}/runs", headers=other.headers),
            await client.get(f"{base}/{source_id}/runs/{run_id}", headers=other.headers),
            await replace(client, other, chatbot_id, source_id, b"hello", "a.txt"),
            await client.patch(
                f"{base}/{source_id}", json={"sync_schedule": "off"}, headers=other.headers
            ),
            await client.post(f"{base}/{source_id}/sync", headers=other.headers),
        ]
        for attempt in attempts:
            assert_problem(attempt, 404)
        source = await client.get(f"{base}/{source_id}", headers=owner.headers)
        assert (source.json()["status"], source.json()["pages"]) == ("ready", 5)


class TestWhileAFileIsIndexed:
    async def test_the_chatbot_keeps_answering(
        self, app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A large file takes its job a minute to write; meanwhile the chatbot's visitors still
        start conversations and get answers (the job held its row and the workspace's quota
        lock for the whole write: both waited, then failed with 500)."""
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        first = await upload(client, account, chatbot_id, "\n\n".join(HANDBOOK).encode(), "a.txt")
        await source_after_jobs(app, client, account, chatbot_id, first.json()["id"])
        writing, release = asyncio.Event(), asyncio.Event()
        write_page = ingest.write_page

        async def held_after_the_first_page(*args: Any, **kwargs: Any) -> None:
            await write_page(*args, **kwargs)
            writing.set()
            await release.wait()

        monkeypatch.setattr(ingest, "write_page", held_after_the_first_page)
        pdf = make_pdf(["Bread is baked at four every morning.", "Cakes are made to order."])
        second = await upload(client, account, chatbot_id, pdf, "bakery.pdf")
        job = asyncio.create_task(run_queued_jobs(app))
        await asyncio.wait_for(writing.wait(), 30)
        try:
            conversation = await asyncio.wait_for(
                client.post(
                    f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=account.headers
                ),
                10,
            )
            assert conversation.status_code == 201, conversation.text
            answer = await asyncio.wait_for(
                client.post(
                    f"/v1/conversations/{conversation.json()['id']}/messages",
                    json={"content": "When are refunds paid back?"},
                    headers=account.headers,
                ),
                10,
            )
        finally:
            release.set()
            await job
        assert answer.status_code == 201, answer.text
        assert "fourteen days" in answer.json()["content"]
        source = await source_after_jobs(app, client, account, chatbot_id, second.json()["id"])
        assert (source["status"], source["pages"]) == ("ready", 2)


class TestEditingTextAndQa:
    async def _add(
        self, client: httpx.AsyncClient, account: Any, chatbot_id: str, body: dict[str, str]
    ) -> str:
        response = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources", json=body, headers=account.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def _ask(
        self, client: httpx.AsyncClient, account: Any, chatbot_id: str, question: str
    ) -> dict[str, Any]:
        conversation = await client.post(
            f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=account.headers
        )
        answer = await client.post(
            f"/v1/conversations/{conversation.json()['id']}/messages",
            json={"content": question},
            headers=account.headers,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def test_a_text_sources_new_content_is_answered_and_the_old_never(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        old = "Refunds are issued within 14 days of purchase."
        source_id = await self._add(
            client,
            account,
            chatbot_id,
            {"kind": "text", "title": "Refund policy", "content": f"# Refunds\n\n{old}"},
        )
        new = "Refunds are issued within 30 days of purchase."
        response = await client.patch(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}",
            json={"title": "Refunds and returns", "content": f"# Refunds\n\n{new}"},
            headers=account.headers,
        )

        assert response.status_code == 200, response.text
        edited = response.json()
        assert (edited["id"], edited["title"], edited["status"]) == (
            source_id,
            "Refunds and returns",
            "ready",
        )
        assert edited["content_preview"] == f"# Refunds\n\n{new}"
        answer = await self._ask(client, account, chatbot_id, "How many days do refunds take?")
        assert new in answer["content"] and old not in answer["content"]
        assert answer["citations"][0]["title"] == "Refunds and returns"
        hits = await search(client, account, chatbot_id, "refunds days purchase")
        assert [hit["snippet"] for hit in hits] == [new]

    async def test_a_qa_sources_answer_and_question(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        source_id = await self._add(
            client,
            account,
            chatbot_id,
            {"kind": "qa", "question": "Do you ship abroad?", "answer": "Only within Germany."},
        )
        response = await client.patch(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}",
            json={"question": "Do you ship to Austria?", "answer": "Yes, in 3 to 5 days."},
            headers=account.headers,
        )

        assert response.status_code == 200, response.text
        assert (response.json()["title"], response.json()["question"]) == (
            "Do you ship to Austria?",
            "Do you ship to Austria?",
        )
        answer = await self._ask(client, account, chatbot_id, "Do you ship to Austria?")
        assert answer["content"].startswith("Yes, in 3 to 5 days.")
        assert "Germany" not in answer["content"]

    async def test_fields_of_another_kind_change_nothing(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        text_id = await self._add(
            client, account, chatbot_id, {"kind": "text", "title": "Hours", "content": "At 9."}
        )
        qa_id = await self._add(
            client, account, chatbot_id, {"kind": "qa", "question": "Parking?", "answer": "Yes."}
        )
        base = f"/v1/chatbots/{chatbot_id}/sources"
        refused = {
            "not-editable": [
                (qa_id, {"content": "Changed."}),
                (text_id, {"answer": "Changed.", "content": "Changed."}),
            ],
            "not-syncable": [(text_id, {"sync_schedule": "daily", "content": "Changed."})],
            "validation-error": [
                (text_id, {}),
                (text_id, {"content": None}),
                (text_id, {"content": ""}),
                (text_id, {"title": "x" * 501}),
                (text_id, {"content": "Changed.", "colour": "red"}),
            ],
        }
        for slug, attempts in refused.items():
            for source_id, body in attempts:
                response = await client.patch(
                    f"{base}/{source_id}", json=body, headers=account.headers
                )
                assert_problem(response, 422, slug)
        problem = (
            await client.patch(f"{base}/{qa_id}", json={"content": "x"}, headers=account.headers)
        ).json()
        assert "a Q&A source question and answer" in problem["detail"]

        text = (await client.get(f"{base}/{text_id}", headers=account.headers)).json()
        qa = (await client.get(f"{base}/{qa_id}", headers=account.headers)).json()
        assert (text["title"], text["content_preview"]) == ("Hours", "At 9.")
        assert (qa["question"], qa["content_preview"]) == ("Parking?", "Yes.")

    async def test_another_workspaces_source_is_404(self, client: httpx.AsyncClient) -> None:
        owner, other = await register(client), await register(client)
        chatbot_id = await new_chatbot(client, owner)
        source_id = await self._add(
            client, owner, chatbot_id, {"kind": "text", "title": "Hours", "content": "At 9."}
        )
        response = await client.patch(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}",
            json={"content": "Closed."},
            headers=other.headers,
        )

        assert_problem(response, 404)
        kept = await client.get(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}", headers=owner.headers
        )
        assert kept.json()["content_preview"] == "At 9."
