"""The widget's pictures in the docs are the ones `make screenshots` takes anew."""

from __future__ import annotations

import re
from pathlib import Path

from tests.widget.helpers import DOCS_IMAGES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_picture_of_the_widget_in_the_docs_is_taken_by_a_test() -> None:
    shown = {
        match.group(1)
        for page in DOCS.glob("*.md")
        for match in re.finditer(r"\]\(img/(widget-[\w-]+)\.png\)", page.read_text())
    }
    stored = {path.stem for path in (DOCS / "img").glob("widget-*.png")}

    # A picture no test takes goes stale unseen; one the docs do not show is dead weight.
    assert shown == DOCS_IMAGES
    assert stored == DOCS_IMAGES
