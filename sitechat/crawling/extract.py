"""Page extraction: title, main-content Markdown, links, canonical URL, language, content hash.

Two paths, measured and chosen (see the crawler ADR): a fast landmark path (selectolax/lexbor:
``<main>``, ``[role=main]`` or a single ``<article>``, else ``<body>`` minus boilerplate) that
handles almost every site in a few milliseconds, and trafilatura as a fallback when that path
finds too little text. trafilatura runs in a worker thread with a deadline so one pathological
page cannot stall a crawl.
"""

from __future__ import annotations

import codecs
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import structlog
import trafilatura
from selectolax.lexbor import LexborHTMLParser, LexborNode

from sitechat.crawling.html_to_markdown import is_boilerplate, render_markdown
from sitechat.crawling.urls import canonicalize_absolute_url, canonicalize_url
from sitechat.knowledge.chunking import content_hash

log = structlog.get_logger()

# Below this much Markdown text the landmark path probably missed the content...
MIN_LANDMARK_TEXT_CHARS = 250
# ...but only worth a fallback when the page has visibly more text than that.
MIN_BODY_TEXT_FOR_FALLBACK = 500
FALLBACK_TIMEOUT_SECONDS = 3.0
MAX_FALLBACK_INPUT_CHARS = 2_000_000
MAX_TITLE_CHARS = 300

# A page whose main text is shorter than this but which loads scripts is probably built by
# them (`needs_browser`): a single-page app's empty mount point, a "Loading..." shell.
MAX_SCRIPT_SHELL_TEXT_CHARS = 200
# Script types that run: none given, a JavaScript MIME type, or an ES module. JSON-LD, import
# maps and templates carry data, not code.
_RUNNABLE_SCRIPT_TYPES = frozenset(
    {"", "module", "text/javascript", "application/javascript", "text/ecmascript"}
)

_fallback_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trafilatura")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_NOT_PAGE_LINKS = ("#", "javascript:", "mailto:", "tel:", "data:")

# Link lists (`is_link_list`): a unit of at least this many words reads as a sentence...
SENTENCE_WORDS = 10
# ...when it has a sentence stop at least every this many words...
WORDS_PER_SENTENCE_STOP = 60
# ...and a page with this many sentence words making up this share of its words is content.
MIN_PROSE_WORDS = 80
LINK_LIST_MAX_PROSE_SHARE = 0.5
# A page with this many sentence words has something to say, however many links it holds,
# unless they are a sliver of it, less than this share: the long entries of a big table of
# contents ("Why must 'self' be used explicitly in method definitions and calls?", "PEP 655:
# Marking individual TypedDict items as required or not-required"; Python's contents.html:
# 351 of its 23,175 words).
ENOUGH_PROSE_WORDS = 250
ENOUGH_PROSE_MIN_SHARE = 0.1
# Otherwise, a page whose main text is mostly link text is a list of links.
LINK_LIST_MIN_DENSITY = 0.6
# Paths that are generated link lists whatever their markup: Sphinx's genindex-*, module
# indexes and master table of contents (contents.html), search pages, tag and category
# listings, book indexes.
# Of those, the ones only a generator writes (whatever prose their entries hold).
_GENERATED_INDEX_PATH = re.compile(
    r"(?:^|/)(?:genindex(?:-[^/]*)?|[a-z]*-?modindex|bookindex)(?:\.html?)?$"
)
_LINK_LIST_PATH = re.compile(
    r"(?:^|/)(?:genindex(?:-[^/]*)?|[a-z]*-?modindex|contents|search|bookindex|sitemap)"
    r"(?:\.html?)?$"
    r"|(?:^|/)(?:tags?|categor(?:y|ies))(?:/[^/]*)?/?$"
)
_INLINE_ITEM = re.compile(r"(?:^|\s)[-*+]\s+")
_SENTENCE_END = re.compile(r"[.!?;:](?:\s|$)")
_LIST_PREFIX = re.compile(r"^(?:>\s*)*(?:[-*+]\s+|\d+(?:\.\d+)*[.)]?\s+)*")


@dataclass(frozen=True)
class ExtractedPage:
    title: str
    markdown: str
    canonical_url: str | None  # from rel=canonical, absolute and canonicalized
    links: tuple[str, ...]  # absolute, fragment-free, one per canonical URL, nofollow excluded
    language: str | None
    content_hash: str  # sha256 of the whitespace-normalized Markdown
    noindex: bool = False  # <meta name="robots" content="noindex">
    method: str = "landmark"  # landmark | trafilatura | plain-text
    # Share of the main region's text that sits inside links (0..1; None for plain text).
    link_density: float | None = None
    # An external or inline script that runs; looked for only when the main text is short.
    loads_scripts: bool = False


def needs_browser(page: ExtractedPage) -> bool:
    """True for a page that only a browser can read: next to no main text, but scripts that
    probably write it (a single-page app's shell). Checked for every page, so it reads only
    what extraction found."""
    return (
        page.loads_scripts
        and not page.noindex
        and len(page.markdown.strip()) < MAX_SCRIPT_SHELL_TEXT_CHARS
    )


def extract_page(
    html: str | bytes, url: str, *, charset: str | None = None, content_type: str = "text/html"
) -> ExtractedPage:
    """Extract one fetched page; ``url`` is the final URL (the base for relative links)."""
    text = decode_body(html, charset) if isinstance(html, bytes) else html
    if content_type == "text/plain":
        return _extract_plain_text(text, url)
    return _extract_html(text, url)


def is_link_list(
    markdown: str, *, url: str | None = None, link_density: float | None = None
) -> bool:
    """True for a page that is only a list of links: a generated index (Sphinx ``genindex-*``,
    a module index, a book index), a search page, a tag cloud or category listing, a table of
    contents. Such a page is worth fetching for its links, not worth answering from.

    The one decision the crawler (never index such a page, do not count it against the page
    budget) and retrieval (keep it out of answers) share. ``link_density`` (the share of the
    main text inside ``<a>``, known when the page was extracted from HTML) is the strongest
    sign; from the Markdown alone only a generated-index path (``genindex``, ``search``,
    ``tags``...) on a page without real prose counts.
    """
    stats = _prose_stats(markdown)
    if stats.words == 0:
        return False
    path = urlsplit(url).path.lower() if url is not None else ""
    if _GENERATED_INDEX_PATH.search(path):
        return True  # a module index's one-line descriptions read as prose, yet it only links
    prose_share = stats.prose_words / stats.words
    if (stats.prose_words >= ENOUGH_PROSE_WORDS and prose_share >= ENOUGH_PROSE_MIN_SHARE) or (
        stats.prose_words >= MIN_PROSE_WORDS and prose_share >= LINK_LIST_MAX_PROSE_SHARE
    ):
        return False
    if url is not None and _LINK_LIST_PATH.search(path):
        return True
    # From the Markdown alone only the path decides: short items without links (a changelog,
    # a feature matrix) look just like an index's once the links are gone.
    return link_density is not None and link_density >= LINK_LIST_MIN_DENSITY


@dataclass(frozen=True)
class _ProseStats:
    words: int  # all words outside code blocks
    prose_words: int  # words in sentence-like units (paragraphs, long list items and cells)


def _prose_stats(markdown: str) -> _ProseStats:
    words = prose_words = 0
    in_code = False
    for raw_line in markdown.splitlines():
        line = raw_line.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line or line.startswith("#") or set(line) <= set("|-: "):
            continue
        cells = line.strip("|").split(" | ") if line.startswith("|") else [line]
        # A list inside a table cell is flattened to "- a - b": each item is a unit.
        items = [item for cell in cells for item in _INLINE_ITEM.split(cell)]
        for item in items:
            text = _LIST_PREFIX.sub("", item)
            count = len(text.split())
            words += count
            # Sentences end: a run of link texts (a tag cloud in one line) does not.
            stops = len(_SENTENCE_END.findall(text))
            if count >= SENTENCE_WORDS and stops * WORDS_PER_SENTENCE_STOP >= count:
                prose_words += count
    return _ProseStats(words, prose_words)


def decode_body(body: bytes, charset: str | None) -> str:
    """Decode with the header charset, else a BOM or ``<meta charset>``, else UTF-8."""
    for candidate in (charset, _sniff_charset(body)):
        if candidate:
            try:
                codecs.lookup(candidate)
            except LookupError:
                continue
            return body.decode(candidate, errors="replace")
    return body.decode("utf-8", errors="replace")


def _sniff_charset(body: bytes) -> str | None:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii", errors="ignore") if match else None


def _extract_plain_text(text: str, url: str) -> ExtractedPage:
    markdown = text.replace("\r\n", "\n").strip()
    first_line = next((line.strip() for line in markdown.splitlines() if line.strip()), "")
    return ExtractedPage(
        title=first_line[:MAX_TITLE_CHARS],
        markdown=markdown,
        canonical_url=None,
        links=(),
        language=None,
        content_hash=content_hash(markdown),
        method="plain-text",
    )


def _extract_html(html: str, url: str) -> ExtractedPage:
    tree = LexborHTMLParser(html)
    base = _base_url(tree, url)
    robots = _meta_robots(tree)
    links = () if "nofollow" in robots or "none" in robots else _links(tree, base)
    title = _title(tree)
    canonical = _canonical(tree, base)
    language = _language(tree)

    region, is_landmark = _content_region(tree)
    markdown = render_markdown(region, region_is_landmark=is_landmark) if region else ""
    density = _link_density(region) if region else None
    method = "landmark"
    if len(markdown) < MIN_LANDMARK_TEXT_CHARS and _visible_text_length(tree) >= (
        MIN_BODY_TEXT_FOR_FALLBACK
    ):
        fallback = _trafilatura_markdown(html, url)
        if fallback and len(fallback) > len(markdown):
            markdown, method = fallback, "trafilatura"
    if not title:
        title = _first_heading(markdown)
    return ExtractedPage(
        title=title,
        markdown=markdown,
        canonical_url=canonical,
        links=links,
        language=language,
        content_hash=content_hash(markdown),
        noindex="noindex" in robots or "none" in robots,
        method=method,
        link_density=density if method == "landmark" else None,
        # Only asked of short pages, the only ones it decides anything for (`needs_browser`);
        # a CSS query on every long page would cost a few percent of extraction.
        loads_scripts=len(markdown.strip()) < MAX_SCRIPT_SHELL_TEXT_CHARS and _loads_scripts(tree),
    )


def _loads_scripts(tree: LexborHTMLParser) -> bool:
    for script in tree.css("script"):
        kind = (script.attributes.get("type") or "").split(";")[0].strip().lower()
        if kind in _RUNNABLE_SCRIPT_TYPES and (
            script.attributes.get("src") or script.text(deep=False).strip()
        ):
            return True
    return False


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    base = tree.css_first("base[href]")
    href = (base.attributes.get("href") or "").strip() if base else ""
    if not href:
        return url
    # Joined, not canonicalized: a canonical form without its trailing slash would change how
    # relative links resolve.
    resolved = urljoin(url, href)
    return resolved if canonicalize_url(resolved) is not None else url


def _meta_robots(tree: LexborHTMLParser) -> set[str]:
    directives: set[str] = set()
    for meta in tree.css("meta[name]"):
        name = (meta.attributes.get("name") or "").lower()
        if name in ("robots", "sitechatbot"):
            content = (meta.attributes.get("content") or "").lower()
            directives.update(part.strip() for part in content.split(","))
    return directives


def _links(tree: LexborHTMLParser, base: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    seen_hrefs: set[str] = set()
    for anchor in tree.css("a[href], area[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if href in seen_hrefs or href.startswith(_NOT_PAGE_LINKS):
            continue
        seen_hrefs.add(href)
        if "nofollow" in (anchor.attributes.get("rel") or "").lower().split():
            continue
        # Keep the link as written (made absolute): it is the URL worth requesting, while the
        # canonical form may lack a trailing slash the server would redirect to add.
        absolute = urljoin(base, href).partition("#")[0]
        key = canonicalize_absolute_url(absolute)
        if key is not None and key not in found:
            found[key] = absolute
    return tuple(found.values())


def _title(tree: LexborHTMLParser) -> str:
    node = tree.css_first("title")
    title = _WHITESPACE.sub(" ", node.text()).strip() if node else ""
    if not title:
        og_title = tree.css_first('meta[property="og:title"]')
        title = (og_title.attributes.get("content") or "").strip() if og_title else ""
    return title[:MAX_TITLE_CHARS]


def _first_heading(markdown: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()[:MAX_TITLE_CHARS]
    return ""


def _canonical(tree: LexborHTMLParser, base: str) -> str | None:
    for link in tree.css("link[rel][href]"):
        if "canonical" in (link.attributes.get("rel") or "").lower().split():
            return canonicalize_url(link.attributes.get("href") or "", base)
    return None


def _language(tree: LexborHTMLParser) -> str | None:
    html_node = tree.css_first("html")
    language = html_node.attributes.get("lang") if html_node else None
    if not language:
        meta = tree.css_first('meta[http-equiv="content-language" i]')
        language = meta.attributes.get("content") if meta else None
    return language.strip().lower()[:35] or None if language else None


def _content_region(tree: LexborHTMLParser) -> tuple[LexborNode | None, bool]:
    """The page's main region, and whether it came from a content landmark."""
    body = tree.body
    for selector in ("main", "[role=main]"):
        for candidate in tree.css(selector):
            if not _inside_boilerplate(candidate):
                return candidate, True
    articles = [node for node in tree.css("article") if not _inside_boilerplate(node)]
    if len(articles) == 1:
        return articles[0], True
    return body, False


def _inside_boilerplate(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html"):
        if is_boilerplate(parent):
            return True
        parent = parent.parent
    return False


def _visible_text_length(tree: LexborHTMLParser) -> int:
    body = tree.body
    if body is None:
        return 0
    text = body.text(deep=True, separator=" ", strip=True)
    scripts = sum(len(node.text()) for node in body.css("script, style, noscript, template"))
    return len(text) - scripts


def _link_density(region: LexborNode) -> float | None:
    text = len(region.text(deep=True, separator=" ", strip=True))
    if text == 0:
        return None
    in_links = sum(
        len(anchor.text(deep=True, separator=" ", strip=True)) for anchor in region.css("a")
    )
    return min(1.0, in_links / text)


def _trafilatura_markdown(html: str, url: str) -> str | None:
    future = _fallback_pool.submit(_run_trafilatura, html[:MAX_FALLBACK_INPUT_CHARS], url)
    try:
        return future.result(timeout=FALLBACK_TIMEOUT_SECONDS)
    except FutureTimeoutError:
        future.cancel()
        log.warning("crawl.extract_fallback_timeout", url=url)
        return None
    except Exception:  # a parser bug on one page must not fail the page; keep the fast result
        log.exception("crawl.extract_fallback_failed", url=url)
        return None


def _run_trafilatura(html: str, url: str) -> str | None:
    result = trafilatura.extract(
        html,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        favor_recall=True,
    )
    return str(result).strip() if result else None
