"""The last line of `sitechat serve`'s start: where the API and its docs are, once they answer.

uvicorn starts its workers and runs each app's lifespan on its own; rather than hook into that,
a daemon thread asks the listening address for `/healthz` (answered only after startup) and
then logs one `sitechat.ready` line with the URLs. It gives up quietly after a bounded wait.
"""

from __future__ import annotations

import threading
import time

import httpx
import structlog
import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from sitechat.ops.docs import DOCS_URL, REDOC_URL

log = structlog.get_logger()

READY_WAIT_SECONDS = 300.0
_POLL_SECONDS = 0.2
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapping


def listen_url(host: str, port: int) -> str:
    """A URL of the listening socket that this machine can reach."""
    reachable = _WILDCARDS.get(host, host)
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}"


def _wait_and_announce(base: str, public_base_url: str, deadline: float) -> None:
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{base}/healthz").status_code == 200:
                    log.info(
                        "sitechat.ready",
                        api=f"{base}/v1",
                        docs=f"{base}{DOCS_URL}",
                        redoc=f"{base}{REDOC_URL}",
                        public_base_url=public_base_url,
                    )
                    return
            except httpx.HTTPError:
                pass
            time.sleep(_POLL_SECONDS)


def announce_when_ready(host: str, port: int, public_base_url: str) -> threading.Thread:
    thread = threading.Thread(
        target=_wait_and_announce,
        args=(listen_url(host, port), public_base_url, time.monotonic() + READY_WAIT_SECONDS),
        name="sitechat-ready",
        daemon=True,
    )
    thread.start()
    return thread


def run_uvicorn(config: uvicorn.Config, public_base_url: str) -> None:
    """What `uvicorn.run` does for one or N workers, with the socket bound here first, so the
    ready line names the port really listened on (`--port 0` included)."""
    sock = config.bind_socket()
    announce_when_ready(config.host, int(sock.getsockname()[1]), public_base_url)
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if config.workers == 1 and not server.started:
        raise SystemExit(3)  # uvicorn's exit status for a failed startup
