"""URL canonicalization, site scope and path filters for the crawler.

The canonical form is a *dedup key*: two URLs that a browser would show as the same page map to
the same string. It is not always the best URL to request (stripping a trailing slash can cost a
redirect), so the engine fetches the URL as discovered and keys its bookkeeping on this form.
"""

from __future__ import annotations

import posixpath
import re
from fnmatch import fnmatchcase
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only carry campaign/click attribution and never change the page.
TRACKING_PARAMS = frozenset(
    {
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
    }
)
TRACKING_PREFIXES = ("utm_",)

DIRECTORY_INDEX_FILES = ("index.html", "index.htm")

# Characters left as they are when re-quoting a path: RFC 3986 pchar plus "/" and "%" so that
# existing escapes are not escaped twice.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_GLOB_CHARS = frozenset("*?[")
_INVALID_HOST_CHARS = frozenset(' \t\r\n<>"{}|\\^`%/?#@')


def canonicalize_url(url: str, base: str | None = None) -> str | None:
    """Return the canonical form of ``url`` (resolved against ``base``), or None if unusable.

    None means: not http(s), no host, or an unparsable port.
    """
    raw = url.strip()
    if not raw:
        return None
    if base is not None:
        raw = urljoin(base, raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = _ascii_host(parts.hostname or "")
    if scheme not in ALLOWED_SCHEMES or host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit(
        (scheme, netloc, _normalize_path(parts.path), _normalize_query(parts.query), "")
    )


@lru_cache(maxsize=20_000)
def canonicalize_absolute_url(url: str) -> str | None:
    """``canonicalize_url`` for an absolute URL, memoized: a site's navigation repeats the same
    links on every page, and link handling dominates extraction time on link-heavy pages."""
    return canonicalize_url(url)


def _ascii_host(hostname: str) -> str | None:
    """Lower-case ASCII (IDNA) form of a host name, or None when it cannot be a host."""
    host = hostname.rstrip(".")
    if not host or not _INVALID_HOST_CHARS.isdisjoint(host):
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host.lower()


def strip_fragment(url: str) -> str:
    """The URL without its ``#fragment``: the form worth requesting."""
    return urlsplit(url)._replace(fragment="").geturl()


def _normalize_path(path: str) -> str:
    if not path:
        return "/"
    path = quote(path, safe=_PATH_SAFE)
    path = _PERCENT_ESCAPE.sub(_normalize_escape, path)
    had_trailing_slash = path.endswith("/")
    path = posixpath.normpath(path)
    if path.startswith("//"):  # normpath keeps a leading "//"; it is not meaningful in a path
        path = "/" + path.lstrip("/")
    if had_trailing_slash and path != "/":
        path += "/"
    for index_file in DIRECTORY_INDEX_FILES:
        if path.endswith("/" + index_file):
            path = path[: -len(index_file)]
            break
    # "/docs/" and "/docs" are one page on practically every site; keep the slash-less form.
    if path != "/" and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def _normalize_query(query: str) -> str:
    if not query:
        return ""
    pairs = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking_param(key)
    ]
    pairs.sort()
    return urlencode(pairs)


def _is_tracking_param(key: str) -> bool:
    lowered = key.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def site_key(url: str) -> tuple[str, int | None] | None:
    """(host without a leading ``www.``, explicit non-default port) identifying a site."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None
    host = host.removeprefix("www.")
    scheme = parts.scheme.lower()
    if port is not None and port == DEFAULT_PORTS.get(scheme):
        port = None
    return host, port


def same_site(url: str, start_url: str) -> bool:
    """True when ``url`` is on the same site as ``start_url``.

    http/https and a leading ``www.`` do not make a different site; another port does.
    """
    key = site_key(url)
    return key is not None and key == site_key(start_url)


def matches_path_filters(url: str, include: list[str], exclude: list[str]) -> bool:
    """True when the URL's path is wanted by the include/exclude glob patterns.

    Patterns are fnmatch-style over the path (``*`` also crosses ``/``). A pattern without glob
    characters matches that path and everything below it, so ``/docs`` covers ``/docs/intro``.
    An empty include list includes everything; exclude wins over include.
    """
    path = urlsplit(url).path or "/"
    if include and not any(_path_matches(path, pattern) for pattern in include):
        return False
    return not any(_path_matches(path, pattern) for pattern in exclude)


def _path_matches(path: str, pattern: str) -> bool:
    pattern = pattern.strip()
    if not pattern:
        return False
    if pattern[0] not in "/*?[":
        pattern = "/" + pattern
    if _GLOB_CHARS.isdisjoint(pattern):
        prefix = pattern.rstrip("/")
        return not prefix or path == prefix or path.startswith(prefix + "/")
    return fnmatchcase(path, pattern)
