"""Static checks of web/: weight, no external resources, no markup built from data, and the
generated country table in step with pycountry. No browser needed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from statusd import i18n
from tests.browser import countries_js
from tests.browser.harness import WEB, page_files

MAX_PAGE_BYTES = 160 * 1024
"""100 KB until the "Get notified" form (issue 18) added about 16 KB, 128 KB until the
languages (issue 20) added one catalog (18 KB in Russian) and 16 KB of code; docs/page.md."""


class _Tags(HTMLParser):
    """Collects (tag, attributes) of index.html and whether a script has inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def parsed_index() -> _Tags:
    parser = _Tags()
    parser.feed((WEB / "index.html").read_text(encoding="utf-8"))
    return parser


def test_page_weight_is_under_160_kb() -> None:
    """Everything the page loads, with the heaviest language's catalog (GET /i18n/page.json
    sends one language), adds up to less than 160 KB uncompressed."""
    catalog = max(len(i18n.page_document(lang)) for lang in i18n.languages())
    total = sum(path.stat().st_size for path in page_files()) + catalog
    assert total < MAX_PAGE_BYTES, f"{total} bytes"


def test_every_file_of_web_is_loaded_by_the_page() -> None:
    """No stray file in web/ (statusd serves all of it), and every script is referenced."""
    served = {p for p in WEB.rglob("*") if p.is_file()}
    assert served == set(page_files())
    scripts = [a.get("src") or "" for tag, a in parsed_index().tags if tag == "script"]
    assert sorted(scripts) == sorted(
        str(p.relative_to(WEB)) for p in page_files() if p.suffix == ".js"
    )


def test_index_has_no_inline_code_and_only_local_resources() -> None:
    """CSP forbids inline scripts and styles; every src/href is relative or an anchor."""
    parser = parsed_index()
    assert not parser.inline_script
    for tag, attrs in parser.tags:
        assert tag != "style"
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^[a-z]+:|^//", value), (tag, value)


def test_feed_is_linked_as_alternate() -> None:
    """Feed readers find the Atom feed from the page."""
    feed = {"rel": "alternate", "type": "application/atom+xml", "href": "/feed.atom"}
    links = [attrs for tag, attrs in parsed_index().tags if tag == "link"]
    assert any(feed.items() <= link.items() for link in links)


@pytest.mark.parametrize("path", [p for p in page_files() if p.suffix in (".js", ".svg")], ids=str)
def test_scripts_never_turn_data_into_markup(path: Path) -> None:
    """No innerHTML, outerHTML, insertAdjacentHTML, document.write or eval in the page."""
    text = path.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in text, sink


def test_no_url_outside_loopback_in_the_page() -> None:
    """No CDN, no web font, no analytics: the only absolute URLs are statusd's default
    address for file:// mode and XML namespaces."""
    allowed = ("http://127.0.0.1:8080/", "http://www.w3.org/2000/svg")
    for path in page_files():
        for url in re.findall(r"https?://[^\s\"'`)<>]+", path.read_text(encoding="utf-8")):
            assert url.startswith(allowed), (path.name, url)


def test_country_table_matches_pycountry() -> None:
    """web/js/countries.js is what tests/browser/countries_js.py generates from pycountry."""
    assert countries_js.TARGET.read_text(encoding="utf-8") == countries_js.render()
