from __future__ import annotations

import pytest

from sitechat.crawling.urls import canonicalize_url, matches_path_filters, same_site


class TestCanonicalize:
    @pytest.mark.parametrize(
        ("url", "canonical"),
        [
            ("HTTP://Example.COM:80/a/./b/../c", "http://example.com/a/c"),
            ("https://example.com:443", "https://example.com/"),
            ("https://example.com:8443/x", "https://example.com:8443/x"),
            ("https://example.com/docs/#install", "https://example.com/docs"),
            ("https://example.com/docs/index.html", "https://example.com/docs"),
            ("https://example.com/index.htm", "https://example.com/"),
            (
                "https://example.com/p?utm_source=x&b=2&gclid=1&a=1&fbclid=z",
                "https://example.com/p?a=1&b=2",
            ),
            ("https://example.com/%7euser/a%2fb c", "https://example.com/~user/a%2Fb%20c"),
            ("https://BÜCHER.de/", "https://xn--bcher-kva.de/"),
            ("https://user:secret@example.com/", "https://example.com/"),
        ],
    )
    def test_canonical_forms(self, url: str, canonical: str) -> None:
        assert canonicalize_url(url) == canonical

    def test_same_page_in_different_spellings_gets_one_key(self) -> None:
        spellings = [
            "https://example.com/guide/",
            "https://example.com/guide",
            "https://EXAMPLE.com/guide/index.html#top",
            "https://example.com:443/guide/?utm_campaign=spring",
        ]
        assert len({canonicalize_url(url) for url in spellings}) == 1

    def test_resolves_relative_urls(self) -> None:
        assert canonicalize_url("../b/", "https://e.com/a/x/") == "https://e.com/a/b"
        assert canonicalize_url("//cdn.e.com/x", "https://e.com/") == "https://cdn.e.com/x"

    @pytest.mark.parametrize(
        "url",
        ["mailto:a@b.c", "javascript:void(0)", "ftp://e.com/", "http://", "http://e.com:99999/"],
    )
    def test_unusable_urls_give_none(self, url: str) -> None:
        assert canonicalize_url(url) is None


class TestScope:
    def test_same_site_ignores_scheme_and_www(self) -> None:
        assert same_site("http://www.example.com/x", "https://example.com/")
        assert not same_site("https://docs.example.com/", "https://example.com/")
        assert not same_site("https://example.com:8080/", "https://example.com/")

    @pytest.mark.parametrize(
        ("path", "include", "exclude", "wanted"),
        [
            ("/docs/intro", [], [], True),
            ("/docs/intro", ["/docs"], [], True),
            ("/docsearch", ["/docs"], [], False),
            ("/blog/2024/post", ["/docs", "/blog/*"], [], True),
            ("/blog/2024/post", [], ["/blog/*"], False),
            ("/docs/old/page", ["/docs/*"], ["/docs/old"], False),
            ("/files/report.pdf", [], ["*.pdf"], False),
        ],
    )
    def test_path_filters(
        self, path: str, include: list[str], exclude: list[str], wanted: bool
    ) -> None:
        assert matches_path_filters("https://e.com" + path, include, exclude) is wanted
