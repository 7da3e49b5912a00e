"""The widget script as it is served: read once from the package, hashed, and gzipped once.

`static/widget.js` is hand-written ES2017 (no build step); its content hash names the
versioned URL `/widget/<version>.js`, so a page pinned to it never sees another script.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files

VERSION_CHARS = 12


@dataclass(frozen=True)
class ScriptAsset:
    body: bytes
    gzipped: bytes
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    @property
    def gzip_etag(self) -> str:
        # Another encoding is another representation: its own validator.
        return f'"{self.version}-gzip"'


@functools.cache
def widget_script() -> ScriptAsset:
    body = files("sitechat.widget").joinpath("static", "widget.js").read_bytes()
    return ScriptAsset(
        body=body,
        # mtime=0: the same bytes on every server, so every replica serves one ETag.
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        version=hashlib.sha256(body).hexdigest()[:VERSION_CHARS],
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an `Accept-Encoding` value allows gzip (`gzip`, `*`, not `gzip;q=0`)."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() not in ("gzip", "x-gzip", "*"):
            continue
        weight = params.strip()
        if weight.startswith("q="):
            try:
                return float(weight[2:]) > 0
            except ValueError:
                return False
        return True
    return False
