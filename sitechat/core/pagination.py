"""Cursor pagination shared by every list: newest first (or oldest), keyset on the id.

Ids are time-ordered UUIDs, so `ORDER BY id DESC` is newest first and "after the cursor" is
simply `id < cursor`. The cursor is the last id of the previous page, base64-encoded so clients
treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from sitechat.core.errors import UnprocessableEntity

ItemT = TypeVar("ItemT")


class InvalidCursor(UnprocessableEntity):
    slug = "invalid-cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not one this list handed out.")


DEFAULT_LIMIT = 20
MAX_LIMIT = 100

CursorParam = Annotated[
    str | None,
    Query(max_length=64, description="`next_cursor` from the previous page; omit for the first."),
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]


class CursorPage(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        last_id = uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor() from None
    # Every listed id is UUIDv7-shaped (models.base.new_id): sixteen made-up bytes are not.
    if last_id.version != 7 or last_id.variant != uuid.RFC_4122:
        raise InvalidCursor()
    return last_id


def next_cursor_of(ids: list[uuid.UUID], limit: int) -> str | None:
    """Repositories fetch `limit + 1` rows; an extra row means there is another page."""
    return encode_cursor(ids[limit - 1]) if len(ids) > limit else None
