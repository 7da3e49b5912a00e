"""Validated text fields shared by request bodies: emails, names, passwords, opaque tokens,
and the display texts users store for others to see.

**Display text** (names, titles, messages a person types and someone else reads: user full
names, workspace names, API key names, conversation titles, feedback comments, chatbot names,
descriptions, model names, welcome and fallback messages, suggested questions, source titles)
goes through one rule, `sanitize_display_text`: markup is removed (tags of HTML, SVG and MathML
elements dropped, `script` and `style` with their content; words in angle brackets that name no
element are text) and what is left is stored HTML-escaped, so a dashboard or widget
may put it into a page as it is. The length limit applies to the stored (escaped) text, so it
always fits its column. Schemas declare it with the `Annotated` types below (validator
`Sanitized`); text made on the server
from what a visitor typed (a conversation's title from its first question) calls
`sanitize_display_text` itself.
"""

from __future__ import annotations

import html
import re
from typing import Annotated

import nh3
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


_LINE_BREAKS_AND_TABS = frozenset("\n\r\t")


def refuse_control_characters_but_line_breaks(value: str) -> str:
    """As `refuse_control_characters`, for multi-line text: line breaks and tabs may stay."""
    return refuse_control_characters("".join(c for c in value if c not in _LINE_BREAKS_AND_TABS))


# The elements of HTML, SVG and MathML a browser would parse: only these are markup. Text that
# merely sits in angle brackets ("<Emergency> call 112", "<your order number>") is words the
# owner wants shown, escaped like any other "<".
_ELEMENT_NAMES_TEXT = """
    a abbr acronym address annotation annotation-xml applet area article aside audio b base
    basefont bdi bdo bgsound big blink blockquote body br button canvas caption center circle
    cite clippath code col colgroup data datalist dd defs del desc details dfn dialog dir div dl
    dt ellipse em embed feimage fieldset figcaption figure filter font footer foreignobject form
    frame frameset g h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe image img input ins
    isindex kbd keygen label legend li line lineargradient link listing main map mark marquee
    mask math menu menuitem meta meter mi mn mo ms mtext multicol nav nextid nobr noembed
    noframes noscript object ol optgroup option output p param path pattern picture plaintext
    polygon polyline pre progress q radialgradient rb rect rp rt rtc ruby s samp script search
    section select semantics slot small source spacer span stop strike strong style sub summary
    sup svg switch symbol table tbody td template text textarea textpath tfoot th thead time
    title tr track tspan tt u ul use var video view wbr xmp
"""
_ELEMENT_NAMES = frozenset(_ELEMENT_NAMES_TEXT.split())
# "<" opening a tag (`<name`, `</name`) whose name is not an element's; custom elements (a
# hyphen in the name) are markup too.
_NOT_A_TAG = re.compile(r"<(?=/?([A-Za-z][^\s/>]*))(?!/?[A-Za-z][^\s/>]*-)")


def _escape_non_element_brackets(value: str) -> str:
    def escaped(match: re.Match[str]) -> str:
        return match.group(0) if match.group(1).lower() in _ELEMENT_NAMES else "&lt;"

    return _NOT_A_TAG.sub(escaped, value)


def sanitize_display_text(value: str) -> str:
    """The one sanitizing rule of user-stored display text: no markup survives, the rest is
    HTML-escaped (`<b>Hi</b> & bye` -> `Hi &amp; bye`, `<Emergency> line` -> `&lt;Emergency&gt;
    line`), surrounding whitespace removed."""
    return nh3.clean(_escape_non_element_brackets(value), tags=set()).strip()


def display_text_as_written(stored: str) -> str:
    """Stored display text as plain text, for uses that are not HTML (an answer said in the
    chat): `Hi &amp; bye` -> `Hi & bye`."""
    return html.unescape(stored)


class Sanitized:
    """The validator of a display-text field: `sanitize_display_text`, then the stored text's
    length and, if `required`, that something is left."""

    def __init__(self, max_length: int, *, required: bool = False) -> None:
        self.max_length = max_length
        self.required = required

    def __call__(self, value: str) -> str:
        cleaned = sanitize_display_text(value)
        if self.required and not cleaned:
            raise ValueError("nothing is left once the markup is removed")
        if len(cleaned) > self.max_length:
            raise ValueError(
                f"at most {self.max_length} characters once markup characters are escaped"
            )
        return cleaned


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


# Display texts (see the module docstring). Single-line ones refuse every control character.
ShortName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(100, required=True)),
]
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(120, required=True)),
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
    AfterValidator(Sanitized(200, required=True)),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(200)),
]
"""A conversation's title (may be empty: the first question names the conversation)."""
ChatbotName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(200, required=True)),
]
ModelName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(200, required=True)),
]
SourceTitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(500, required=True)),
]
SuggestedQuestion = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(300, required=True)),
]
# Multi-line display texts: line breaks and tabs may stay.
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2_000),
    AfterValidator(refuse_control_characters_but_line_breaks),
    AfterValidator(Sanitized(2_000)),
]
"""Descriptions, welcome and fallback messages, feedback comments."""
QaQuestion = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000),
    AfterValidator(refuse_control_characters_but_line_breaks),
    AfterValidator(Sanitized(1_000, required=True)),
]


def display_file_name(raw: str | None, *, max_length: int = 255) -> str:
    """An uploaded file's name as stored and shown: control characters dropped (browsers
    send what the disk had), the display-text rule, then the last path part (after the rule,
    so the slash of a closing tag does not cut the name)."""
    name = "".join(
        char
        for char in raw or ""
        if not (ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or char in _BIDI_CONTROLS)
    )
    cleaned = sanitize_display_text(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return cleaned[:max_length] or "file"
