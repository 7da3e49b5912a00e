"""Pages whose text only scripts write, for the headless-browser tests of the crawler."""

from __future__ import annotations

import json

from tests.crawling.conftest import LocalSite, Reply

ORCHARD_PARAGRAPHS = [
    "Quince trees flower in late spring, a few weeks after the apples, and their pale pink "
    "blossoms are larger than those of any other orchard tree we grow.",
    "The fruit ripens in October. It is hard and sour when raw, so we poach it slowly with "
    "honey until the flesh turns a deep amber colour and smells of roses.",
    "Visitors can pick their own quinces on weekends; bring a basket and sturdy shoes.",
]
SECRET = "internal-secret-7431"


def shell_page(title: str, extra_body: str = "") -> str:
    """A single-page app's HTML: an empty mount point and the script that fills it."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        "<script src='/app.js' defer></script></head>"
        "<body><div id='root'>Loading...</div>"
        "<noscript>Please turn on JavaScript to use this site.</noscript>"
        f"{extra_body}</body></html>"
    )


# Fetches its content as JSON and writes it into <main>; `extra` runs first.
APP_JS = """
const root = document.getElementById("root");
const say = (text) => {
  const paragraph = document.createElement("p");
  paragraph.textContent = text;
  root.appendChild(paragraph);
};
%(extra)s
fetch("/content.json")
  .then((response) => response.json())
  .then((content) => {
    const main = document.createElement("main");
    main.innerHTML = "<h1>" + content.title + "</h1>" +
      content.paragraphs.map((text) => "<p>" + text + "</p>").join("");
    document.body.insertBefore(main, root);
    root.firstChild.remove();  // "Loading..."
  });
"""


def orchard_app(
    site: LocalSite,
    *,
    extra_js: str = "",
    more_paragraphs: tuple[str, ...] = (),
    shell_extra: str = "",
    shell_headers: dict[str, str] | None = None,
) -> None:
    """`/` is a script-rendered page about quinces (its text from /content.json); the
    paragraphs are HTML. `shell_extra` is more HTML in the shell's body."""
    site.page("/", shell_page("Orchard", shell_extra), headers=shell_headers or {})
    site.routes["/app.js"] = Reply(
        body=APP_JS % {"extra": extra_js}, content_type="text/javascript"
    )
    content = {"title": "Quinces", "paragraphs": [*ORCHARD_PARAGRAPHS, *more_paragraphs]}
    site.routes["/content.json"] = Reply(body=json.dumps(content), content_type="application/json")


def escape_attempts(internal_origin: str, internal_port: int, site_origin: str) -> str:
    """Script that tries every way out to an internal server: each request, if it got through,
    would put the server's secret on the page or leave a hit in its log."""
    return f"""
const internal = "{internal_origin}";
const tries = [
  internal + "/secret.json",                            // a literal private address
  "http://localhost:{internal_port}/secret.json",        // a name for this machine
  "http://internal.test:{internal_port}/secret.json",   // a name resolving to a private address
  "{site_origin}/hop",                                  // the site redirecting inward
];
for (const url of tries) {{
  fetch(url).then((response) => response.text()).then(say, () => {{}});
}}
try {{ new WebSocket("ws://{internal_origin.split("://")[1]}/socket"); }} catch (error) {{}}
try {{ navigator.sendBeacon(internal + "/beacon", "x"); }} catch (error) {{}}
new Image().src = internal + "/pixel.png";
const frame = document.createElement("iframe");
frame.src = internal + "/frame";
document.body.appendChild(frame);
try {{ window.open(internal + "/popup"); }} catch (error) {{}}
const worker = new Worker(URL.createObjectURL(new Blob(
  ["fetch('" + internal + "/from-worker').then((r) => r.text()).then(postMessage, () => {{}})"]
)));
worker.onmessage = (message) => say(message.data);
"""


def internal_server(recorder: LocalSite) -> None:
    """What the internal server would give away: its secret, on every path."""
    for path in ("/secret.json", "/from-worker", "/frame", "/popup", "/pixel.png"):
        recorder.routes[path] = Reply(body=SECRET, content_type="text/plain")
