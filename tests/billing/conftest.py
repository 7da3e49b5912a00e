"""Billing fixtures: a private localstripe on loopback, and gateways for the tests."""

from __future__ import annotations

import hashlib
import hmac
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from sitechat.billing.stripe_gateway import StripeGateway, StripeGatewaySettings

LOCALSTRIPE_API_KEY = "sk_test_sitechat_billing_tests"
WEBHOOK_SECRET = "whsec_sitechat_billing_tests"

# Runs localstripe's aiohttp app in a child process, from scratch: its CLI listens on every
# interface and loads/saves a pickle in the shared /tmp, so the store's disk methods are
# disabled before the app is imported, and the socket is bound to loopback on port 0. The
# child prints the port it got, then serves.
_LOCALSTRIPE_MAIN = """
import socket, sys
import localstripe.resources as resources
resources.Store.try_load_from_disk = lambda self: None
resources.Store.dump_to_disk = lambda self: None
from aiohttp import web
from localstripe.server import app
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None)
"""

_STARTUP_TIMEOUT_SECONDS = 15.0


def _read_port(process: subprocess.Popen[str]) -> int:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], _STARTUP_TIMEOUT_SECONDS)
    if not ready:
        raise RuntimeError("localstripe did not report its port in time")
    line = process.stdout.readline().strip()
    if not line.isdigit():
        raise RuntimeError(f"localstripe failed to start (exit code {process.poll()})")
    return int(line)


def _wait_until_serving(base_url: str) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            response = httpx.get(
                f"{base_url}/v1/customers",
                headers={"Authorization": f"Bearer {LOCALSTRIPE_API_KEY}"},
                timeout=1.0,
            )
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if response.status_code == 200:
            return
    raise RuntimeError("localstripe did not answer in time")


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path: Path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", _LOCALSTRIPE_MAIN],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    try:
        base_url = f"http://127.0.0.1:{_read_port(process)}"
        _wait_until_serving(base_url)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def stripe_settings(localstripe_url: str) -> StripeGatewaySettings:
    return StripeGatewaySettings(
        api_key=LOCALSTRIPE_API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base=localstripe_url,
        timeout_seconds=10.0,
        max_network_retries=0,
        localstripe_compatible=True,
    )


@pytest.fixture
async def stripe_gateway(stripe_settings: StripeGatewaySettings) -> AsyncIterator[StripeGateway]:
    gateway = StripeGateway(stripe_settings)
    try:
        yield gateway
    finally:
        await gateway.aclose()


@pytest.fixture
async def localstripe(localstripe_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client for localstripe, to check what the gateway stored there."""
    async with httpx.AsyncClient(
        base_url=localstripe_url,
        headers={"Authorization": f"Bearer {LOCALSTRIPE_API_KEY}"},
        timeout=10.0,
    ) as client:
        yield client


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Signs like Stripe does, independently of the code under test."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
