"""Validated text fields shared by request bodies: emails, names, passwords, opaque tokens."""

from __future__ import annotations

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints

from sitechat.core.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    password_weakness,
)
from sitechat.core.security import normalize_email

# Bidirectional overrides and isolates can make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def refuse_control_characters(value: str) -> str:
    if any(
        ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or char in _BIDI_CONTROLS for char in value
    ):
        raise ValueError("must not contain control characters")
    return value


def _valid_email(value: str) -> str:
    normalized = normalize_email(value)
    try:
        validated = validate_email(normalized, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return normalize_email(validated.normalized)


def _acceptable_password(value: str) -> str:
    weakness = password_weakness(value)
    if weakness:
        raise ValueError(weakness)
    return value


ShortName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(refuse_control_characters),
]
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(refuse_control_characters),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_valid_email),
    Field(examples=["ada@example.com"]),
]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(_acceptable_password),
    Field(examples=["a long and uncommon passphrase"]),
]
# Sign-in fields are not re-validated against today's policy, only bounded.
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
LoginEmail = Annotated[str, StringConstraints(min_length=1, max_length=320)]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=256)]
WorkspaceName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(refuse_control_characters),
]
