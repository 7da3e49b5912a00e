from __future__ import annotations

from sitechat.crawling.extract import decode_body, extract_page, is_link_list
from sitechat.knowledge.chunking import chunk_markdown, content_hash

DOCS_PAGE = """<!doctype html>
<html lang="en-GB">
<head>
  <title> Installing the tool </title>
  <link rel="canonical" href="/docs/install/">
  <style>.x { color: red }</style>
</head>
<body>
  <header class="site-header"><a href="/">Logo</a> Site tagline</header>
  <nav><a href="/docs/">Docs</a> <a href="/blog/">Blog</a></nav>
  <div id="cookie-banner">We use cookies. <button>Accept</button></div>
  <main>
    <article>
      <header><h1>Install</h1></header>
      <p>Run <code>pip install tool</code> and read <a href="../usage/">usage</a>.</p>
      <h2>On Linux</h2>
      <ul>
        <li>Debian<ul><li>bookworm</li></ul></li>
        <li>Fedora</li>
      </ul>
      <ol><li>Download</li><li>Unpack</li></ol>
      <pre><code class="language-python">def greet(name):
    if name:
        return f"hello {name}"  # two  spaces kept
    return "&lt;nobody&gt;"</code></pre>
      <table>
        <thead><tr><th>Option</th><th>Meaning</th></tr></thead>
        <tbody>
          <tr><td>--quiet</td><td>less output</td></tr>
          <tr><td>--verbose</td><td>more | output</td></tr>
        </tbody>
      </table>
      <aside class="note">Related articles you may like</aside>
    </article>
  </main>
  <div class="sidebar">Sidebar links</div>
  <footer>Copyright 2024 Example Corp</footer>
  <script>console.log("tracking")</script>
</body>
</html>"""

EXPECTED_CODE = """```python
def greet(name):
    if name:
        return f"hello {name}"  # two  spaces kept
    return "<nobody>"
```"""

EXPECTED_TABLE = """| Option | Meaning |
| --- | --- |
| --quiet | less output |
| --verbose | more \\| output |"""


class TestHtmlExtraction:
    def test_keeps_the_structure_of_the_main_content(self) -> None:
        page = extract_page(DOCS_PAGE, "https://example.com/docs/install/index.html")

        markdown = page.markdown
        assert markdown.startswith("# Install\n\nRun `pip install tool` and read usage.")
        assert "## On Linux" in markdown
        assert "- Debian\n  - bookworm\n- Fedora" in markdown
        assert "1. Download\n2. Unpack" in markdown
        assert EXPECTED_CODE in markdown
        assert EXPECTED_TABLE in markdown

    def test_drops_boilerplate(self) -> None:
        markdown = extract_page(DOCS_PAGE, "https://example.com/docs/install/").markdown

        for boilerplate in (
            "Site tagline",
            "Blog",
            "cookies",
            "Related articles",
            "Sidebar links",
            "Copyright",
            "tracking",
            "color: red",
        ):
            assert boilerplate not in markdown

    def test_reads_page_metadata(self) -> None:
        page = extract_page(DOCS_PAGE, "https://example.com/docs/install/index.html")

        assert page.title == "Installing the tool"
        assert page.language == "en-gb"
        assert page.canonical_url == "https://example.com/docs/install"
        assert page.method == "landmark"

    def test_links_come_from_the_whole_page_made_absolute(self) -> None:
        page = extract_page(DOCS_PAGE, "https://example.com/docs/install/")

        assert page.links == (
            "https://example.com/",
            "https://example.com/docs/",
            "https://example.com/blog/",
            "https://example.com/docs/usage/",
        )

    def test_nofollow_links_and_meta_robots(self) -> None:
        html = (
            "<html><head><meta name='robots' content='noindex'></head><body>"
            "<a href='/a'>a</a><a rel='nofollow' href='/b'>b</a><a href='mailto:x@y.z'>m</a>"
            "<a href='#top'>top</a></body></html>"
        )
        page = extract_page(html, "https://example.com/")
        assert page.links == ("https://example.com/a",)
        assert page.noindex

        nofollow_page = extract_page(
            "<html><head><meta name='robots' content='nofollow'></head>"
            "<body><a href='/a'>a</a></body></html>",
            "https://example.com/",
        )
        assert nofollow_page.links == ()
        assert not nofollow_page.noindex

    def test_page_without_landmarks_uses_body_minus_boilerplate(self) -> None:
        html = (
            "<html><body><header><h1>Brand</h1></header><div class='navbar'>Menu</div>"
            "<div class='content'><h1>Pricing</h1><p>Plans start at 10 EUR.</p></div>"
            "<div class='footer'>Imprint</div></body></html>"
        )
        page = extract_page(html, "https://example.com/pricing")

        assert page.markdown == "# Pricing\n\nPlans start at 10 EUR."
        assert page.title == "Pricing"  # no <title>: the first heading

    def test_falls_back_to_trafilatura_when_landmark_is_nearly_empty(self) -> None:
        paragraphs = "".join(
            f"<p>Paragraph {n} explains the product in plenty of detail for readers.</p>"
            for n in range(12)
        )
        html = (
            "<html><head><title>T</title></head><body><main><p>Hero</p></main>"
            f"<div class='post'><h2>Story</h2>{paragraphs}</div></body></html>"
        )
        page = extract_page(html, "https://example.com/story")

        assert page.method == "trafilatura"
        assert "Paragraph 11 explains" in page.markdown

    def test_decodes_bytes_with_header_or_meta_charset(self) -> None:
        latin = "<html><head><meta charset='iso-8859-1'></head><body><p>Café</p></body></html>"
        assert "Café" in extract_page(latin.encode("latin-1"), "https://e.com/").markdown
        assert decode_body("Grüße".encode("cp1252"), "windows-1252") == "Grüße"
        assert decode_body("Grüße".encode(), None) == "Grüße"


class TestPlainText:
    def test_text_plain_is_kept_as_is(self) -> None:
        page = extract_page(
            b"Release notes\r\n\r\n* fixed things\n",
            "https://e.com/notes.txt",
            content_type="text/plain",
        )
        assert page.markdown == "Release notes\n\n* fixed things"
        assert page.title == "Release notes"
        assert page.method == "plain-text"


class TestContentHash:
    def test_whitespace_does_not_change_the_hash(self) -> None:
        assert content_hash("# A\n\nsome  text") == content_hash("# A\nsome text\n")
        assert content_hash("# A\n\nsome text") != content_hash("# A\n\nother text")


def _sphinx_index(letter: str, entries: int) -> str:
    items = "".join(
        f"<li><a href='library/mod{n}.html#f{n}'>func{n}() (in module mod{n})</a></li>"
        for n in range(entries)
    )
    return (
        f"<html><head><title>Index - {letter}</title></head><body><div role='main'>"
        f"<h1>Index - {letter}</h1><table class='indextable'><tr><td><ul>{items}</ul></td>"
        "</tr></table></div></body></html>"
    )


def _sphinx_contents(chapters: int, questions: int) -> str:
    """A Sphinx master table of contents (Python's contents.html): nested lists of links to
    every section of every chapter, and a FAQ chapter whose entries are whole questions."""

    def entries(level: int, chapter: int, title: str, count: int, inner: str = "") -> str:
        return "".join(
            f"<li class='toctree-l{level}'><a class='reference internal' "
            f"href='ch{chapter}.html#{title}-{n}'>The {title} {n}</a>{inner}</li>"
            for n in range(count)
        )

    chapter_items = "".join(
        f"<li class='toctree-l1'><a href='ch{c}.html'>Chapter {c}</a><ul>"
        + entries(2, c, "section", 8, "<ul>" + entries(3, c, "subsection", 3) + "</ul>")
        + "</ul></li>"
        for c in range(chapters)
    )
    faq_items = "".join(
        f"<li class='toctree-l2'><a href='faq/design.html#q{n}'>Why must the interpreter "
        f"number {n} be told explicitly about every module it loads?</a></li>"
        for n in range(questions)
    )
    return (
        "<html><head><title>Python Documentation contents</title></head><body>"
        "<div class='body' role='main'><section id='python-documentation-contents'>"
        "<h1>Python Documentation contents</h1><div class='toctree-wrapper compound'><ul>"
        f"{chapter_items}<li class='toctree-l1'><a href='faq/index.html'>FAQ</a>"
        f"<ul>{faq_items}</ul></li></ul></div></section></div></body></html>"
    )


def _tag_cloud(tags: int) -> str:
    links = " ".join(f"<a href='/tag/t{n}/'>topic {n}</a>" for n in range(tags))
    return f"<html><body><main><h1>All tags</h1><p>{links}</p></main></body></html>"


ARTICLE_WITH_LINKS = (
    "<html><body><main><h1>Configuring the server</h1>"
    + "".join(
        f"<p>Step {n}: open the <a href='/settings'>settings page</a> and set the value that "
        "matches your network, then restart the service so the new value is read.</p>"
        for n in range(6)
    )
    + "</main></body></html>"
)

CHANGELOG = "## 2.1.0\n\n" + "\n".join(f"- Fix crash number {n} on start" for n in range(30))


class TestLinkLists:
    def test_generated_index_pages_are_link_lists(self) -> None:
        url = "https://docs.example.com/genindex-F.html"
        page = extract_page(_sphinx_index("F", 60), url)
        assert is_link_list(page.markdown, url=url, link_density=page.link_density)
        # The path alone gives a generated index away, even from its stored Markdown.
        assert is_link_list(page.markdown, url=url)

    def test_a_list_of_links_under_any_name_is_a_link_list(self) -> None:
        url = "https://blog.example.com/topics.html"
        page = extract_page(_tag_cloud(80), url)
        assert is_link_list(page.markdown, url=url, link_density=page.link_density)

    def test_a_big_table_of_contents_with_long_entries_is_a_link_list(self) -> None:
        """Its entries that read as sentences ("Why must...?", "PEP 655: Marking...") add up
        to more sentence words than a page with something to say has, though they are a
        sliver of its words: Python's contents.html was indexed and cited."""
        page = extract_page(_sphinx_contents(chapters=60, questions=24), "https://e.com/")
        for url in ("https://docs.example.com/contents.html", "https://e.com/overview.html"):
            assert is_link_list(page.markdown, url=url, link_density=page.link_density)
        # Sphinx's master table of contents is found from its stored Markdown too.
        assert is_link_list(page.markdown, url="https://docs.example.com/contents.html")

    def test_a_module_index_whose_descriptions_read_as_prose_is_a_link_list(self) -> None:
        # Python's py-modindex.html: each module's one-line description ("Read and write
        # tabular data to and from delimited files.") adds up to pages of sentence words.
        rows = "".join(
            f"<tr><td><a href='library/mod{n}.html'><code>mod{n}</code></a></td>"
            f"<td><em>Read and write the records of kind {n} to and from delimited files "
            "on any platform you run on.</em></td></tr>"
            for n in range(40)
        )
        html = (
            "<html><body><div role='main'><h1>Python Module Index</h1>"
            f"<table>{rows}</table></div></body></html>"
        )
        url = "https://docs.example.com/py-modindex.html"
        page = extract_page(html, url)

        assert is_link_list(page.markdown, url=url, link_density=page.link_density)

    def test_prose_with_links_is_content(self) -> None:
        url = "https://docs.example.com/search.html"  # a page about search, with real text
        page = extract_page(ARTICLE_WITH_LINKS, url)
        assert not is_link_list(page.markdown, url=url, link_density=page.link_density)
        assert not is_link_list(page.markdown, url="https://docs.example.com/configure.html")

    def test_short_items_without_links_are_content(self) -> None:
        # A changelog's bullets are as short as an index's, but they are not links.
        assert not is_link_list(CHANGELOG, url="https://example.com/changes.html")
        assert not is_link_list(CHANGELOG, url=None, link_density=0.0)

    def test_empty_text_is_not_a_link_list(self) -> None:
        assert not is_link_list("", url="https://example.com/genindex.html")


class TestHeadingAnchors:
    def test_sphinx_sections_keep_their_ids_as_heading_anchors(self) -> None:
        html = """<html><body><main>
          <section id="reading-and-writing-files">
            <span id="tut-files"></span>
            <h2>7.2. Reading and Writing Files<a class="headerlink"
                href="#reading-and-writing-files" title="Permalink to this heading">¶</a></h2>
            <p>open() returns a file object.</p>
            <section><h3>No id here</h3><p>Text.</p></section>
          </section></main></body></html>"""

        markdown = extract_page(html, "https://docs.example.com/io.html").markdown

        assert "## 7.2. Reading and Writing Files {#reading-and-writing-files}" in markdown
        assert "### No id here\n" in markdown + "\n"  # no id on the page: none invented
        assert "¶" not in markdown

    def test_docbook_sections_give_their_id_to_the_heading_they_open(self) -> None:
        html = """<html><body><main>
          <div class="sect1" id="DATATYPE-NUMERIC"><div class="titlepage"><div><div>
            <h2 class="title">8.1. Numeric Types</h2></div></div></div>
            <div class="toc"><dl class="toc"><dt>8.1.1. Integer Types</dt></dl></div>
            <p>Numeric types consist of two-, four-, and eight-byte integers.</p>
            <div class="note"><h3 class="title">Note</h3><p>A note.</p></div>
          </div></main></body></html>"""

        markdown = extract_page(html, "https://docs.example.com/numeric.html").markdown

        assert "## 8.1. Numeric Types {#DATATYPE-NUMERIC}" in markdown
        assert "### Note\n" in markdown  # the note's box is not the section
        assert "Integer Types" not in markdown  # the in-page table of contents is dropped

    def test_a_linkable_definition_term_opens_a_section_of_its_own(self) -> None:
        # Sphinx's API entries and DocBook's settings are definition lists whose terms the
        # page links to: each description is chunked and cited as that entry's.
        html = """<html><body><main>
          <h2>Directory operations</h2>
          <dl class="py function"><dt class="sig sig-object py" id="shutil.copytree">
            <span class="sig-prename">shutil.</span><span class="sig-name">copytree</span>(src,
            dst)<a class="headerlink" href="#shutil.copytree">¶</a></dt>
            <dd><p>Recursively copy an entire directory tree.</p></dd></dl>
          <dl class="variablelist"><dt id="GUC-WORK-MEM"><span class="term">
            <code class="varname">work_mem</code> (<code class="type">integer</code>)</span></dt>
            <dd><p>Sets the base maximum amount of memory.</p></dd>
            <dt>no-id term</dt><dd><p>Plain.</p></dd></dl>
          <dl class="footnote"><dt class="label" id="id3">[1]</dt><dd><p>A note.</p></dd></dl>
          </main></body></html>"""

        markdown = extract_page(html, "https://docs.example.com/shutil.html").markdown
        chunks = chunk_markdown(markdown)

        assert "###### shutil.copytree(src, dst) {#shutil.copytree}" in markdown
        assert "###### `work_mem` (`integer`) {#GUC-WORK-MEM}" in markdown
        assert "no-id term" in markdown and "###### no-id term" not in markdown
        assert "###### [1]" not in markdown  # a footnote's label is not an entry
        copytree = next(c for c in chunks if "Recursively copy" in c.text)
        assert copytree.heading_path[-1] == "shutil.copytree(src, dst)"
        assert copytree.anchor == "shutil.copytree"
        assert "Recursively copy" not in next(c.text for c in chunks if "base maximum" in c.text)

    def test_a_disclosures_summary_opens_a_section_of_its_own(self) -> None:
        # An FAQ written as <details>: each answer is chunked under its own question, and the
        # next question is not quoted as part of the answer before it.
        html = """<html><body><main>
          <h1>FAQs</h1>
          <details id="twin"><summary>Can we have a twin room?</summary>
            <p>Yes. Kittiwake can be made up as a twin.</p></details>
          <details><summary>Do any rooms have a bath?</summary>
            <p>Only The Lookout.</p></details>
          </main></body></html>"""

        markdown = extract_page(html, "https://stay.example.com/faq.html").markdown
        chunks = chunk_markdown(markdown)

        assert "###### Can we have a twin room? {#twin}" in markdown
        twin = next(c for c in chunks if "Kittiwake" in c.text)
        assert twin.heading_path == ("FAQs", "Can we have a twin room?")
        assert twin.anchor == "twin"
        assert "bath" not in twin.text
        bath = next(c for c in chunks if "Only The Lookout" in c.text)
        assert bath.heading_path[-1] == "Do any rooms have a bath?"
