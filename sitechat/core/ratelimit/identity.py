"""Who a bucket belongs to when the caller has no credential: the client's address."""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection


def ip_identity(address: str) -> str:
    """IPv4 per address; IPv6 per /64, since one host usually owns the whole /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def client_ip(request: HTTPConnection, trusted_proxies: frozenset[str]) -> str:
    """The caller's address: the right-most X-Forwarded-For hop not added by a trusted proxy.

    X-Forwarded-For is read only when the direct peer is a trusted proxy; anyone else could
    write any address into it.
    """
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                # A trusted proxy appends the peer it saw; garbage here means a
                # misconfigured chain, so keep the address we can vouch for.
                return peer
    return peer
