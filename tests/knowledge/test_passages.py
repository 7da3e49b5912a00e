"""`Passage.page_key`: the page a passage was cut from, which retrieval caps passages by and
the extractive answerer numbers citations by."""

from __future__ import annotations

import uuid

from sitechat.knowledge.passages import Passage


def _passage(
    source_id: uuid.UUID, *, page_id: uuid.UUID | None = None, url: str | None = None
) -> Passage:
    return Passage(
        chunk_id=uuid.uuid4(),
        source_id=source_id,
        url=url,
        title="T",
        heading="",
        text="x",
        score=1.0,
        page_id=page_id,
    )


class TestPageKey:
    def test_passages_of_one_page_share_it(self) -> None:
        source, page = uuid.uuid4(), uuid.uuid4()
        first = _passage(source, page_id=page, url="https://example.com/a")
        second = _passage(source, page_id=page, url="https://example.com/a")
        assert first.page_key == second.page_key

    def test_a_files_pages_differ_though_they_share_a_url(self) -> None:
        source = uuid.uuid4()
        one = _passage(source, page_id=uuid.uuid4(), url="https://example.com/handbook.pdf")
        two = _passage(source, page_id=uuid.uuid4(), url="https://example.com/handbook.pdf")
        assert one.page_key != two.page_key

    def test_a_text_source_is_one_page_and_two_sources_are_two(self) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        assert _passage(first).page_key == _passage(first).page_key
        assert _passage(first).page_key != _passage(second).page_key

    def test_without_a_page_id_the_url_is_the_page(self) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        assert _passage(first, url="/a").page_key != _passage(first, url="/b").page_key
        assert _passage(first, url="/a").page_key == _passage(second, url="/a").page_key
