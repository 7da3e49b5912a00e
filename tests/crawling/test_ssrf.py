from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sitechat.core.ssrf import (
    AddressLookup,
    UnsafeUrlError,
    check_url_syntax,
    resolve_safe_addresses,
)
from sitechat.crawling.fetcher import Fetcher, FetcherConfig
from tests.crawling.conftest import LocalSite, Reply, html_page, loopback_config

REFUSED_WITHOUT_ALLOW_LIST = [
    ("http://127.0.0.1/", "private-address"),
    ("http://[::1]/", "private-address"),
    ("http://169.254.169.254/latest/meta-data/", "private-address"),
    ("http://0x7f000001/", "private-address"),
    ("http://2130706433/", "private-address"),
    ("http://0177.0.0.1/", "private-address"),
    ("http://127.1/", "private-address"),
    ("http://10.0.0.1/", "private-address"),
    ("http://[::ffff:127.0.0.1]/", "private-address"),
    ("http://[::ffff:7f00:1]/", "private-address"),
    ("http://100.64.0.1/", "private-address"),
    ("http://[fd00:ec2::254]/", "private-address"),
    ("http://[fe80::1]/", "private-address"),
    ("http://224.0.0.1/", "private-address"),
    ("http://[2002:a00:1::1]/", "private-address"),  # 6to4 wrapping 10.0.0.1
    ("http://127.0.0.1:8080/", "private-address"),
    ("ftp://example.com/", "scheme-not-allowed"),
    ("file:///etc/passwd", "scheme-not-allowed"),
    ("http://user:pw@example.com/", "credentials-in-url"),
    ("http://example.com:25/", "port-not-allowed"),
    ("http://localhost/", "private-address"),
]


class TestUrlSyntaxCheck:
    @pytest.mark.parametrize(("url", "reason"), REFUSED_WITHOUT_ALLOW_LIST)
    def test_refuses_unsafe_urls(self, url: str, reason: str) -> None:
        with pytest.raises(UnsafeUrlError) as refused:
            check_url_syntax(url, frozenset())
        assert refused.value.reason == reason

    @pytest.mark.parametrize(
        "url", ["https://example.com/docs", "http://93.184.216.34:8080/", "http://[2606:4700::1]/"]
    )
    def test_accepts_public_urls(self, url: str) -> None:
        check_url_syntax(url, frozenset())

    def test_allow_list_opens_only_the_listed_host(self) -> None:
        check_url_syntax("http://127.0.0.1:8080/", frozenset({"127.0.0.1"}))
        with pytest.raises(UnsafeUrlError):
            check_url_syntax("http://0x7f000001:8080/", frozenset({"127.0.0.1"}))


def fixed_lookup(table: dict[str, list[str]], calls: list[str] | None = None) -> AddressLookup:
    async def lookup(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return lookup


class TestResolution:
    async def test_name_resolving_to_loopback_is_refused(self) -> None:
        with pytest.raises(UnsafeUrlError) as refused:
            await resolve_safe_addresses("localhost", 80, frozenset())
        assert refused.value.reason == "private-address"

    async def test_public_looking_name_resolving_to_loopback_is_refused(self) -> None:
        lookup = fixed_lookup({"docs.example-public.com": ["127.0.0.1"]})
        with pytest.raises(UnsafeUrlError) as refused:
            await resolve_safe_addresses("docs.example-public.com", 80, frozenset(), lookup=lookup)
        assert refused.value.reason == "private-address"

    async def test_one_private_address_among_public_ones_is_enough_to_refuse(self) -> None:
        lookup = fixed_lookup({"mixed.example.com": ["93.184.216.34", "10.0.0.1"]})
        with pytest.raises(UnsafeUrlError):
            await resolve_safe_addresses("mixed.example.com", 80, frozenset(), lookup=lookup)

    async def test_unknown_host_is_unresolvable(self) -> None:
        with pytest.raises(UnsafeUrlError) as refused:
            await resolve_safe_addresses(
                "nowhere.invalid", 80, frozenset(), lookup=fixed_lookup({})
            )
        assert refused.value.reason == "unresolvable-host"

    async def test_public_addresses_are_returned(self) -> None:
        lookup = fixed_lookup({"example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
        addresses = await resolve_safe_addresses("example.com", 443, frozenset(), lookup=lookup)
        assert addresses == ["93.184.216.34", "2606:2800:220:1::1"]


class TestFetcherRefusals:
    async def test_matrix_is_refused_by_the_fetcher_without_allow_list(
        self, site: LocalSite
    ) -> None:
        urls = [url for url, _ in REFUSED_WITHOUT_ALLOW_LIST] + [
            site.url("/"),
            f"http://localhost:{site.port}/",
        ]
        async with Fetcher(FetcherConfig(delay_seconds=0, timeout_seconds=2)) as fetcher:
            for url in urls:
                result = await fetcher.fetch(url)
                assert result.error in {
                    "private-address",
                    "scheme-not-allowed",
                    "credentials-in-url",
                    "port-not-allowed",
                }, url
        assert sum(site.hits.values()) == 0

    @pytest.mark.parametrize(
        "target",
        [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://0x7f000001/secret",
            "LOCALHOST_ON_SITE_PORT",
        ],
    )
    async def test_redirect_from_allowed_site_to_private_address_is_refused(
        self, site: LocalSite, fetcher: Fetcher, target: str
    ) -> None:
        # Only the allow-listed name "127.0.0.1" is opened; "localhost" reaches the same server
        # but is a different, non-allowed host, so the secret page must never be requested.
        if target == "LOCALHOST_ON_SITE_PORT":
            target = f"http://localhost:{site.port}/secret"
        site.routes["/jump"] = Reply(status=302, headers={"Location": target})
        site.page("/secret", "internal data")

        result = await fetcher.fetch(site.url("/jump"))

        assert result.error == "private-address"
        assert result.body is None
        assert site.hits["/secret"] == 0


class TestConnectsToTheCheckedAddress:
    async def test_host_header_keeps_the_name_while_socket_uses_checked_ip(
        self, site: LocalSite
    ) -> None:
        # "site.test" exists only in this lookup table: the request can only succeed if the
        # connection goes to the address the guard resolved, with no second DNS lookup.
        calls: list[str] = []
        site.routes["/whoami"] = lambda request: Reply(
            body=request.headers.get("Host", ""), content_type="text/plain"
        )
        config = loopback_config(allowed_hosts=frozenset({"site.test"}))
        lookup = fixed_lookup({"site.test": ["127.0.0.1"]}, calls)

        async with Fetcher(config, lookup=lookup) as fetcher:
            result = await fetcher.fetch(f"http://site.test:{site.port}/whoami")

        assert result.ok
        assert result.body == f"site.test:{site.port}".encode()
        assert calls == ["site.test"]


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[LocalSite, ssl.SSLContext, list[str]]]:
    """An https site whose certificate is only valid for "secure.test"."""
    ca_cert, ca_key = _make_certificate("SiteChat Test CA", None, None)
    leaf_cert, leaf_key = _make_certificate("secure.test", ca_cert, ca_key)
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_names: list[str] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)

    def record_server_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        server_names.append(name or "")

    server_context.sni_callback = record_server_name
    client_context = ssl.create_default_context(
        cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    secure_site = LocalSite(tls=server_context)
    secure_site.start()
    try:
        yield secure_site, client_context, server_names
    finally:
        secure_site.stop()


def _make_certificate(
    common_name: str, issuer: x509.Certificate | None, issuer_key: ec.EllipticCurvePrivateKey | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(common_name)]), False
        )
    certificate = builder.sign(issuer_key or key, hashes.SHA256())
    return certificate, key


class TestTls:
    async def test_tls_uses_the_host_name_for_sni_and_verification(
        self, tls_site: tuple[LocalSite, ssl.SSLContext, list[str]]
    ) -> None:
        secure_site, client_context, server_names = tls_site
        secure_site.page("/", html_page("Secure", "<p>over tls</p>"))
        config = loopback_config(allowed_hosts=frozenset({"secure.test", "other.test"}))
        lookup = fixed_lookup({"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

        async with Fetcher(config, lookup=lookup, ssl_context=client_context) as fetcher:
            good = await fetcher.fetch(f"https://secure.test:{secure_site.port}/")
            wrong_name = await fetcher.fetch(f"https://other.test:{secure_site.port}/")

        assert good.ok and good.body is not None and b"over tls" in good.body
        assert "secure.test" in server_names
        # Same IP, but the certificate does not cover "other.test": verification must fail.
        assert not wrong_name.ok
        assert wrong_name.error == "connection-failed"
