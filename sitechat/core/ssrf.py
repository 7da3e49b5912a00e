"""The SSRF guard of every outbound request (crawler, webhooks): where we may ever connect.

Two checks, used together:

* ``check_url_syntax`` runs when a user submits a URL (and on every redirect hop): scheme,
  credentials, literal IP addresses in every notation ``inet_aton`` accepts, privileged ports.
* ``resolve_safe_addresses`` runs right before connecting: it resolves the host and refuses it
  when *any* address is not public, then hands back the checked addresses so the connection is
  made to exactly those (no second lookup a DNS-rebinding server could answer differently).

Only hosts in the operator's allow-list skip the address checks.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

import httpcore
import httpx

ALLOWED_SCHEMES = frozenset({"http", "https"})
# Below 1024 only the web ports; the rest (SMTP, SSH, ...) are protocol-smuggling targets.
ALLOWED_PRIVILEGED_PORTS = frozenset({80, 443})

# Networks refused on top of what ``ipaddress`` already flags as non-global, spelled out so the
# guard does not depend on the Python version's idea of "global".
_BLOCKED_IPV4 = tuple(
    IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, including the 169.254.169.254 metadata service
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including broadcast
    )
)
_BLOCKED_IPV6 = tuple(
    IPv6Network(net)
    for net in (
        "::/96",  # unspecified, loopback and IPv4-compatible addresses
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, including Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local, including fd00::/8 and AWS's fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64_PREFIX = IPv6Network("64:ff9b::/96")

_HEX_DIGITS = re.compile(r"[0-9a-f]*")
_OCTAL_DIGITS = re.compile(r"[0-7]+")
_DECIMAL_DIGITS = re.compile(r"[0-9]+")

AddressLookup = Callable[[str, int], Awaitable[list[str]]]


class UnsafeUrlError(Exception):
    """A URL or address the crawler must not connect to.

    ``reason`` is a short machine-readable code: ``invalid-url``, ``scheme-not-allowed``,
    ``credentials-in-url``, ``private-address``, ``unresolvable-host``, ``port-not-allowed``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def normalize_host(host: str) -> str:
    """Lower-case host without IPv6 brackets or a trailing dot, as allow-lists compare it."""
    return host.strip().strip("[]").rstrip(".").lower()


def is_allowed_host(host: str, allowed_hosts: frozenset[str]) -> bool:
    """True when the operator explicitly allowed this host (compared as written, not resolved)."""
    if not allowed_hosts:
        return False
    normalized = normalize_host(host)
    return any(normalize_host(allowed) == normalized for allowed in allowed_hosts)


def is_public_address(address: IPv4Address | IPv6Address) -> bool:
    """True only for unicast addresses on the public internet."""
    if isinstance(address, IPv6Address):
        if any(address in net for net in _BLOCKED_IPV6):
            return False
        embedded = address.sixtofour or _nat64_embedded(address)
        if embedded is not None and not is_public_address(embedded):
            return False
    elif any(address in net for net in _BLOCKED_IPV4):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_private
    )


def _nat64_embedded(address: IPv6Address) -> IPv4Address | None:
    if address not in _NAT64_PREFIX:
        return None
    return IPv4Address(int(address) & 0xFFFFFFFF)


def parse_ip_literal(host: str) -> IPv4Address | IPv6Address | None:
    """The address a host string denotes when it is an IP literal in any accepted notation.

    Besides dotted decimal this covers what ``inet_aton`` and browsers accept: a single 32-bit
    number (``2130706433``), hex (``0x7f000001``, ``0x7f.0.0.1``), octal (``0177.0.0.1``) and
    short forms (``127.1``). Anything else is a host name (None).
    """
    candidate = normalize_host(host)
    if ":" in candidate:
        try:
            return IPv6Address(candidate)
        except ValueError:
            return None
    return _parse_ipv4_loose(candidate)


def _parse_ipv4_loose(host: str) -> IPv4Address | None:
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _parse_ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *leading, last = numbers
    if any(number > 0xFF for number in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return IPv4Address(value)


def _parse_ipv4_number(part: str) -> int | None:
    if part.startswith(("0x", "0X")):
        digits = part[2:].lower()
        if not _HEX_DIGITS.fullmatch(digits):
            return None
        return int(digits, 16) if digits else 0
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if _OCTAL_DIGITS.fullmatch(part) else None
    return int(part) if _DECIMAL_DIGITS.fullmatch(part) else None


def check_url_syntax(url: str, allowed_hosts: frozenset[str]) -> None:
    """Refuse a URL that is unsafe before any DNS lookup; raise ``UnsafeUrlError`` if so.

    Host names that resolve to private addresses pass here; ``resolve_safe_addresses`` catches
    them at connect time.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError("invalid-url", "the URL cannot be parsed") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeUrlError("scheme-not-allowed", "only http and https URLs can be crawled")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrlError("credentials-in-url", "URLs must not contain user names or passwords")
    host = parts.hostname
    if not host:
        raise UnsafeUrlError("invalid-url", "the URL has no host")
    if is_allowed_host(host, allowed_hosts):
        return
    address = parse_ip_literal(host)
    if address is not None and not is_public_address(address):
        raise UnsafeUrlError("private-address", "the address is not on the public internet")
    normalized = normalize_host(host)
    if normalized == "localhost" or normalized.endswith(".localhost"):
        raise UnsafeUrlError("private-address", "localhost names always point at this machine")
    if port is not None and port < 1024 and port not in ALLOWED_PRIVILEGED_PORTS:
        raise UnsafeUrlError("port-not-allowed", "only ports 80, 443 and 1024-65535 are allowed")


async def system_lookup(host: str, port: int) -> list[str]:
    """Addresses of ``host`` from the operating system's resolver, without blocking the loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def resolve_safe_addresses(
    host: str,
    port: int,
    allowed_hosts: frozenset[str],
    *,
    lookup: AddressLookup = system_lookup,
) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing it if any address is not public.

    One bad address is enough to refuse: a host that answers with both a public and a private
    address would otherwise let the connection land on the private one.
    """
    allowed = is_allowed_host(host, allowed_hosts)
    literal = parse_ip_literal(host)
    if literal is not None:
        if not allowed and not is_public_address(literal):
            raise UnsafeUrlError("private-address", "the address is not on the public internet")
        return [str(literal)]
    try:
        addresses = await lookup(normalize_host(host), port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrlError("unresolvable-host", "the host name does not resolve") from exc
    unique = list(dict.fromkeys(addresses))
    if not unique:
        raise UnsafeUrlError("unresolvable-host", "the host name does not resolve")
    if not allowed:
        for address in unique:
            if not is_public_address(ip_address(address)):
                raise UnsafeUrlError(
                    "private-address", "the host name resolves to a non-public address"
                )
    return unique


# -- the connection layer every outbound request of ours goes through ----------------------


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses that passed the SSRF guard.

    httpcore calls ``connect_tcp`` with the URL's host; the TLS handshake that follows still
    uses that host name for SNI and certificate checks, while the socket goes to the IP checked
    here. There is therefore no window between check and use for DNS rebinding.
    """

    def __init__(self, allowed_hosts: frozenset[str], lookup: AddressLookup) -> None:
        self._allowed_hosts = allowed_hosts
        self._lookup = lookup
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_safe_addresses(
            host, port, self._allowed_hosts, lookup=self._lookup
        )
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve_safe_addresses never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("outbound requests never connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool built on ``GuardedNetworkBackend``.

    httpx has no public hook for the network backend, so the pool it created is replaced by an
    equivalent one (``handle_async_request`` only uses ``self._pool``).
    """

    def __init__(
        self,
        *,
        allowed_hosts: frozenset[str],
        lookup: AddressLookup,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(allowed_hosts, lookup),
        )
