"""A fast static site for the crawl benchmarks: every file of a folder, served from memory.

`python -m bench.crawl.site ROOT PORT` loads ROOT once and answers on 127.0.0.1:PORT with a
bare ASGI app on uvicorn (uvloop + httptools). No disk reads, no threads per request: the
server must never be what bounds a crawler's pages per second (bench/crawl measures that it is
not, with wrk, before it times the crawlers). Like nginx, it sends an ETag and answers a matching
If-None-Match with 304 (the re-sync benchmark relies on it).
"""

from __future__ import annotations

import hashlib
import mimetypes
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def load_site(root: Path) -> dict[str, tuple[bytes, bytes]]:
    """URL path -> (content type, body) for every file under `root` (symlinks followed)."""
    files: dict[str, tuple[bytes, bytes]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = "/" + path.relative_to(root).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        files[relative] = (content_type.encode(), path.read_bytes())
        if path.name == "index.html":
            files[relative[: -len("index.html")]] = files[relative]
    return files


class StaticSite:
    def __init__(self, files: dict[str, tuple[bytes, bytes]]) -> None:
        self._files = files
        self._etags = {
            path: b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
            for path, (_, body) in files.items()
        }
        self._not_found = (b"text/plain; charset=utf-8", b"not found")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        found = self._files.get(scope["path"])
        content_type, body = found or self._not_found
        etag = self._etags.get(scope["path"])
        if etag is not None and (b"if-none-match", etag) in scope["headers"]:
            headers = [(b"etag", etag)]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200 if found else 404,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *([(b"etag", etag)] if etag is not None else []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def main(root: str, port: int) -> None:
    uvicorn.run(
        StaticSite(load_site(Path(root))),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
