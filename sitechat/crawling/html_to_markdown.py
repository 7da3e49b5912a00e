"""Render a selectolax (lexbor) DOM region as Markdown, dropping page boilerplate on the way.

Only what helps a reader (and retrieval) survives: headings, paragraphs, lists, pipe tables,
block quotes and code blocks kept byte-for-byte. Link targets, images and emphasis are reduced
to their text: chunks are searched and quoted, not re-rendered. A heading the page gives an id
(its own, its permalink's, or its section's) keeps it as a trailing `{#id}` (the attribute
syntax of Pandoc and kramdown), so a citation can link to the section it quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborNode

# Never content: removed wherever they appear.
DROPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "canvas",
        "object",
        "embed",
        "video",
        "audio",
        "img",
        "picture",
        "button",
        "input",
        "select",
        "textarea",
        "label",
        "nav",
        "aside",
        "footer",
        "dialog",
        "head",
    }
)
DROPPED_ROLES = frozenset(
    {"navigation", "complementary", "contentinfo", "banner", "search", "dialog", "alertdialog"}
)
# Whole class/id values that mark boilerplate, and fragments that do wherever they appear.
BOILERPLATE_NAMES = frozenset(
    {
        "nav",
        "menu",
        "footer",
        "site-header",
        "site-footer",
        "share",
        "social",
        "related",
        "skip-link",
        "visually-hidden",
        "sr-only",
        "headerlink",
        # A table of contents inside a page (DocBook's div.toc / dl.toc): section titles only.
        "toc",
    }
)
BOILERPLATE_FRAGMENTS = (
    "sidebar",
    "breadcrumb",
    "cookie",
    "consent",
    "gdpr",
    "navbar",
    "advert",
    "newsletter",
)
CONTENT_LANDMARK_TAGS = frozenset({"main", "article"})
HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "form",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "ul",
        *HEADING_LEVELS,
    }
)
_WHITESPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_LIST_MARKER = re.compile(r"(?:- |\d+\. )")
_CODE_LANGUAGE = re.compile(r"(?:^|\s)(?:language|lang|highlight)-([\w+#.-]+)")
# An id that can be written as `{#id}` and linked as `#id` without escaping.
_ANCHOR = re.compile(r"[A-Za-z][\w.:-]{0,199}")
# A definition list's term the page links to (an API entry `<dt id="shutil.copytree">`, a
# setting `<dt id="GUC-WORK-MEM">`, a glossary term) opens a section of its own, below any
# heading: its description is chunked, found and cited (`url#id`) as that entry's. A term of
# fewer letters is a footnote's label ("[1]"), not an entry. So does a disclosure's summary
# (`<details><summary>`, an FAQ's question): its answer is the section under it.
TERM_LEVEL = 6
MIN_TERM_LETTERS = 3
# How far up a heading's section may be: Sphinx's <section id> is the parent, DocBook's
# <div class="sect1" id> is four levels up (div.titlepage > div > div > h2).
MAX_ANCHOR_ANCESTORS = 4


@dataclass
class _Context:
    inside_content: bool  # inside main/article: their own <header> is content, not page chrome


def render_markdown(region: LexborNode, *, region_is_landmark: bool) -> str:
    blocks = _render_blocks(region, _Context(inside_content=region_is_landmark))
    return "\n\n".join(block for block in blocks if block.strip())


def is_boilerplate(node: LexborNode, context: _Context | None = None) -> bool:
    tag = node.tag or ""
    if tag in DROPPED_TAGS:
        return True
    if tag == "header" and not (context and context.inside_content):
        return True
    attributes = node.attributes
    if not attributes:
        return False
    role = (attributes.get("role") or "").lower()
    if role in DROPPED_ROLES:
        return True
    if "hidden" in attributes or (attributes.get("aria-hidden") or "") == "true":
        return True
    style = (attributes.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    for name in ((attributes.get("class") or "") + " " + (attributes.get("id") or "")).split():
        lowered = name.lower()
        if lowered in BOILERPLATE_NAMES or any(part in lowered for part in BOILERPLATE_FRAGMENTS):
            return True
    return False


def _render_blocks(container: LexborNode, context: _Context) -> list[str]:
    """Blocks of a container whose children mix inline text and block elements."""
    blocks: list[str] = []
    inline_parts: list[str] = []
    child = container.child
    while child is not None:
        tag = child.tag or ""
        if child.is_text_node:
            inline_parts.append(_WHITESPACE.sub(" ", child.text_content or ""))
        elif not child.is_element_node or is_boilerplate(child, context):
            pass
        elif tag in BLOCK_TAGS:
            _flush_paragraph(inline_parts, blocks)
            blocks.extend(_render_block(child, context))
        else:
            inline_parts.append(_render_inline(child, context))
        child = child.next
    _flush_paragraph(inline_parts, blocks)
    return blocks


def _flush_paragraph(inline_parts: list[str], blocks: list[str]) -> None:
    text = _tidy_inline("".join(inline_parts))
    inline_parts.clear()
    if text:
        blocks.append(text)


def _render_block(node: LexborNode, context: _Context) -> list[str]:
    tag = node.tag or ""
    if tag in HEADING_LEVELS:
        text = _tidy_inline(_render_inline(node, context)).replace("\n", " ")
        if not text:
            return []
        anchor = heading_anchor(node)
        suffix = f" {{#{anchor}}}" if anchor else ""
        return [f"{'#' * HEADING_LEVELS[tag]} {text}{suffix}"]
    if tag == "dt":
        # A term opens no section of the page's, so only its own anchor counts.
        anchor = _own_anchor(node)
        term = _term_heading(node, context, anchor) if anchor is not None else None
        if term is not None:
            return [term]
    if tag == "summary":
        title = _term_heading(node, context, _own_anchor(node) or _disclosure_anchor(node))
        if title is not None:
            return [title]
    if tag == "pre":
        return [_render_code_block(node)]
    if tag in ("ul", "ol"):
        return [_render_list(node, context, ordered=tag == "ol")]
    if tag == "table":
        return [_render_table(node, context)]
    if tag == "blockquote":
        inner = "\n\n".join(_render_blocks(node, context))
        return ["\n".join(f"> {line}".rstrip() for line in inner.splitlines())]
    if tag == "hr":
        return []
    if tag in CONTENT_LANDMARK_TAGS and not context.inside_content:
        return _render_blocks(node, _Context(inside_content=True))
    return _render_blocks(node, context)


def _term_heading(term: LexborNode, context: _Context, anchor: str | None) -> str | None:
    """A definition term the page links to, or a disclosure's summary, as a heading
    (`TERM_LEVEL`) with its anchor; None for a label of too few letters."""
    text = _tidy_inline(_render_inline(term, context)).replace("\n", " ")
    if sum(c.isalpha() for c in text) < MIN_TERM_LETTERS:
        return None
    suffix = f" {{#{anchor}}}" if anchor else ""
    return f"{'#' * TERM_LEVEL} {text}{suffix}"


def _disclosure_anchor(summary: LexborNode) -> str | None:
    """The id of the `<details>` a summary titles."""
    details = summary.parent
    candidate = details.attributes.get("id") if details is not None else None
    return candidate if candidate and _ANCHOR.fullmatch(candidate) else None


def heading_anchor(heading: LexborNode) -> str | None:
    """The fragment that links to this heading: its own id, its permalink (`a.headerlink`'s
    `#...`), an empty `<a id|name>` inside it, or the id of the section it opens (an ancestor
    whose first heading it is). None when the page gives it none."""
    own = _own_anchor(heading)
    if own is not None:
        return own
    ancestor = heading.parent
    for _ in range(MAX_ANCHOR_ANCESTORS):
        if ancestor is None or (ancestor.tag or "") in ("body", "html", "main", "article"):
            return None
        first = ancestor.css_first("h1, h2, h3, h4, h5, h6")
        if first is None or first.mem_id != heading.mem_id:
            return None
        candidate = ancestor.attributes.get("id")
        if candidate and _ANCHOR.fullmatch(candidate):
            return candidate
        ancestor = ancestor.parent
    return None


def _own_anchor(node: LexborNode) -> str | None:
    """The element's own id, its permalink's target, or the id or name of a link inside it."""
    candidates = [node.attributes.get("id")]
    for link in node.css("a"):
        href = link.attributes.get("href") or ""
        if href.startswith("#") and _is_permalink(link):
            candidates.append(href[1:])
        candidates += [link.attributes.get("id"), link.attributes.get("name")]
    for candidate in candidates:
        if candidate and _ANCHOR.fullmatch(candidate):
            return candidate
    return None


def _is_permalink(link: LexborNode) -> bool:
    """A heading's own link to itself: marked as such, or only a symbol (¶, #, §)."""
    marks = f"{link.attributes.get('class') or ''} {link.attributes.get('title') or ''}".lower()
    if any(word in marks for word in ("headerlink", "anchor", "permalink")):
        return True
    return link.text(deep=True).strip() in ("", "¶", "#", "§", "🔗")


def _render_inline(node: LexborNode, context: _Context) -> str:
    tag = node.tag or ""
    if tag == "br":
        return "\n"
    if tag == "code":
        text = _WHITESPACE.sub(" ", node.text(deep=True))
        return f"`{text}`" if text.strip() else ""
    parts: list[str] = []
    child = node.child
    while child is not None:
        if child.is_text_node:
            parts.append(_WHITESPACE.sub(" ", child.text_content or ""))
        elif child.is_element_node and not is_boilerplate(child, context):
            if (child.tag or "") in BLOCK_TAGS:
                parts.append(" " + " ".join(_render_blocks(child, context)) + " ")
            else:
                parts.append(_render_inline(child, context))
        child = child.next
    return "".join(parts)


def _tidy_inline(text: str) -> str:
    lines = (_WHITESPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _render_code_block(node: LexborNode) -> str:
    code = node.text(deep=True)
    if code.startswith("\n"):  # HTML drops a newline right after <pre>; so do we
        code = code[1:]
    code = code.rstrip()
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{_code_language(node)}\n{code}\n{fence}"


def _code_language(node: LexborNode) -> str:
    candidates = [node, node.css_first("code"), node.parent]
    for candidate in candidates:
        if candidate is None:
            continue
        match = _CODE_LANGUAGE.search(candidate.attributes.get("class") or "")
        if match:
            return match.group(1).lower()
    return ""


def _render_list(node: LexborNode, context: _Context, *, ordered: bool) -> str:
    items: list[str] = []
    number = _list_start(node)
    child = node.child
    while child is not None:
        if child.tag == "li" and not is_boilerplate(child, context):
            marker = f"{number}. " if ordered else "- "
            number += 1
            body = _join_list_item_blocks(_render_blocks(child, context))
            lines = body.splitlines() or [""]
            indent = " " * len(marker)
            rendered = [marker + lines[0]] + [indent + line if line else "" for line in lines[1:]]
            items.append("\n".join(rendered).rstrip())
        elif child.tag in ("ul", "ol"):  # a list nested directly in a list, as some sites do
            items.append(_render_list(child, context, ordered=child.tag == "ol"))
        child = child.next
    return "\n".join(items)


def _join_list_item_blocks(blocks: list[str]) -> str:
    """A nested list hugs the line before it (a tight list); paragraphs stay apart."""
    joined = ""
    for block in blocks:
        if joined:
            joined += "\n" if _LIST_MARKER.match(block) else "\n\n"
        joined += block
    return joined


def _list_start(node: LexborNode) -> int:
    start = node.attributes.get("start") or ""
    return int(start) if start.isdigit() else 1


def _render_table(node: LexborNode, context: _Context) -> str:
    """A pipe table; its first row is the header row, as pipe tables require one."""
    rows: list[list[str]] = []
    for row in node.css("tr"):
        if _closest_table(row) != node:  # rows of nested tables belong to their own table
            continue
        cells = [
            _table_cell_text(cell, context)
            for cell in _element_children(row)
            if cell.tag in ("td", "th")
        ]
        if cells:
            rows.append(cells)
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    padded = [row + [""] * (width - len(row)) for row in rows]
    lines = [_pipe_row(padded[0]), _pipe_row(["---"] * width)]
    lines.extend(_pipe_row(row) for row in padded[1:])
    return "\n".join(lines)


def _closest_table(node: LexborNode) -> LexborNode | None:
    parent = node.parent
    while parent is not None and parent.tag != "table":
        parent = parent.parent
    return parent


def _element_children(node: LexborNode) -> list[LexborNode]:
    children: list[LexborNode] = []
    child = node.child
    while child is not None:
        if child.is_element_node:
            children.append(child)
        child = child.next
    return children


def _table_cell_text(cell: LexborNode, context: _Context) -> str:
    text = " ".join(_render_blocks(cell, context))
    return _WHITESPACE.sub(" ", text).strip().replace("|", "\\|")


def _pipe_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
