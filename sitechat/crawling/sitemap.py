"""Sitemap discovery: urlset and nested sitemapindex files, gzip or plain, XML or text.

Sitemaps come from the crawled site, so they are untrusted input: every file is size-capped
before and after decompression, documents with a DTD are refused outright (sitemaps never need
one, and refusing it closes entity-expansion and external-entity attacks), and the nesting depth
and number of files are bounded.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog
from lxml import etree

from sitechat.crawling.fetcher import ANY_CONTENT_TYPE, Fetcher

log = structlog.get_logger()

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SitemapLimits:
    max_depth: int = 3  # a sitemap index inside an index inside an index, no deeper
    max_files: int = 25
    max_urls: int = 50_000  # the sitemap protocol's own per-file limit
    max_download_bytes: int = 10_000_000
    max_xml_bytes: int = 50_000_000  # the protocol's uncompressed limit


@dataclass
class ParsedSitemap:
    page_urls: list[str] = field(default_factory=list)
    sitemap_urls: list[str] = field(default_factory=list)


class SitemapError(ValueError):
    """A sitemap file that cannot or must not be parsed."""


def decompress_if_gzip(content: bytes, max_bytes: int) -> bytes:
    """Gunzip ``content`` when it is gzip (by magic bytes, whatever the URL or headers say)."""
    if not content.startswith(GZIP_MAGIC):
        return content
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError("corrupt gzip data") from exc
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise SitemapError("sitemap larger than the size cap once decompressed")
    return data


def parse_sitemap(content: bytes, *, max_bytes: int = SitemapLimits.max_xml_bytes) -> ParsedSitemap:
    """Page and child-sitemap URLs listed in one sitemap file (gzip, XML or plain text)."""
    data = decompress_if_gzip(content, max_bytes).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not data.startswith(b"<"):
        return _parse_text_sitemap(data)
    return _parse_xml_sitemap(data)


def _parse_text_sitemap(data: bytes) -> ParsedSitemap:
    lines = data.decode("utf-8", errors="replace").splitlines()
    return ParsedSitemap(
        page_urls=[line.strip() for line in lines if line.strip().startswith("http")]
    )


def _parse_xml_sitemap(data: bytes) -> ParsedSitemap:
    # XML keywords are case-sensitive, so a plain search finds every DTD libxml2 would read.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SitemapError("sitemaps with a DTD or entities are refused")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=True,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapError("not well-formed XML") from exc
    if root is None:
        raise SitemapError("empty XML document")
    parsed = ParsedSitemap()
    for element in root.iter("{*}loc"):
        parent = element.getparent()
        location = (element.text or "").strip()
        if parent is None or not location:
            continue
        kind = etree.QName(parent).localname
        if kind == "url":
            parsed.page_urls.append(location)
        elif kind == "sitemap":
            parsed.sitemap_urls.append(location)
    return parsed


async def collect_sitemap_urls(
    fetcher: Fetcher,
    sitemap_urls: Iterable[str],
    *,
    keep: Callable[[str], bool],
    limits: SitemapLimits | None = None,
) -> list[str]:
    """Page URLs from the given sitemaps and the indexes below them, breadth first.

    ``keep`` decides which URLs (pages and child sitemaps) are worth following, e.g. same-site.
    Missing or broken sitemaps are skipped: a sitemap only adds seeds, it is never required.
    """
    limits = limits or SitemapLimits()
    pending = [(url, 0) for url in dict.fromkeys(sitemap_urls)]
    visited: set[str] = set()
    pages: dict[str, None] = {}
    while pending and len(visited) < limits.max_files and len(pages) < limits.max_urls:
        url, depth = pending.pop(0)
        if url in visited:
            continue
        visited.add(url)
        parsed = await _fetch_and_parse(fetcher, url, limits)
        if parsed is None:
            continue
        for page_url in parsed.page_urls:
            if len(pages) >= limits.max_urls:
                break
            if keep(page_url):
                pages[page_url] = None
        if depth < limits.max_depth:
            pending.extend((child, depth + 1) for child in parsed.sitemap_urls if keep(child))
    return list(pages)


async def _fetch_and_parse(
    fetcher: Fetcher, url: str, limits: SitemapLimits
) -> ParsedSitemap | None:
    result = await fetcher.fetch(
        url, content_types=ANY_CONTENT_TYPE, max_bytes=limits.max_download_bytes
    )
    if not result.ok or result.body is None:
        log.info("crawl.sitemap_unavailable", url=url, status=result.status, reason=result.error)
        return None
    try:
        return parse_sitemap(result.body, max_bytes=limits.max_xml_bytes)
    except SitemapError as exc:
        log.info("crawl.sitemap_rejected", url=url, reason=str(exc))
        return None
