"""The confirmation and unsubscribe pages: plain HTML, no JavaScript, one button.

Opening a link changes nothing (mail scanners follow links); the page's only button POSTs
the form, and that POST confirms or unsubscribes. Strings come from one catalog per language
(the ``subscribe.*`` entries of ``statusd.i18n``, SPEC §10); the page's one inline style is
allowed by its hash in the page's own Content-Security-Policy, which also lets the form post
to this origin only.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from statusd import i18n
from statusd.subscriptions.model import NOTIFY_PRODUCTS, Subscription

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;"
    "background:#fff}main{max-width:36rem;margin:0 auto}h1{font-size:1.5rem}"
    "button{font:inherit;padding:.6rem 1.2rem;border:2px solid #0b57d0;border-radius:6px;"
    "background:#0b57d0;color:#fff;cursor:pointer}button:focus-visible{outline:3px solid "
    "#1a1a1a;outline-offset:2px}a{color:#0b57d0}"
    "@media (prefers-color-scheme:dark){body{background:#121212;color:#eee}"
    "a{color:#8ab4f8}button:focus-visible{outline-color:#eee}}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""The pages' own policy: nothing loads, the inline style by hash, forms post here only."""

CATALOG: dict[str, dict[str, str]] = {
    lang: {key: value for key, value in entries.items() if isinstance(value, str)}
    for lang, entries in i18n.section("subscribe").items()
}
"""Language → the pages' strings: the ``subscribe.*`` entries of ``statusd.i18n``'s catalogs."""


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    html: str


def pick_language(asked: str | None, subscription: Subscription | None, browser: str | None) -> str:
    """``?lang=``, else the subscriber's language, else the browser's best, else English."""
    for candidate in (asked, subscription.lang if subscription else None, browser):
        if candidate in CATALOG:
            return candidate
    return i18n.DEFAULT_LANGUAGE


def describe_scope(subscription: Subscription, lang: str) -> str:
    """A subscription's scope in words: products by name, countries by their CLDR name."""
    words = CATALOG[lang]
    scope = subscription.scope
    if not scope.products and not scope.countries:
        return words["scope.all"]
    products = (
        ", ".join(words[f"product.{p}"] for p in NOTIFY_PRODUCTS if p in scope.products)
        if scope.products
        else words["scope.products_all"]
    )
    countries = (
        ", ".join(i18n.country_name(lang, code) for code in sorted(scope.countries))
        if scope.countries
        else words["scope.everywhere"]
    )
    return words["scope.in"].format(products=products, countries=countries)


def ask_page(action: str, subscription: Subscription, token: str, lang: str, home: str) -> Page:
    """The page a link opens (``action``: ``confirm`` or ``unsubscribe``): one POST button."""
    words = CATALOG[lang]
    target = f"/subscriptions/{action}?{urlencode({'token': token, 'lang': lang})}"
    form = (
        f'<form method="post" action="{escape(target)}">'
        f'<button type="submit">{escape(words[action + ".button"])}</button></form>'
    )
    return Page(
        200,
        _page(
            lang, words[action + ".title"], _text(action + ".ask", subscription, lang), home, form
        ),
    )


def done_page(action: str, subscription: Subscription, lang: str, home: str) -> Page:
    words = CATALOG[lang]
    text = _text(action + ".done", subscription, lang)
    return Page(200, _page(lang, words[action + ".done.title"], text, home))


def invalid_page(action: str, lang: str, home: str) -> Page:
    words = CATALOG[lang]
    return Page(
        404, _page(lang, words[action + ".invalid.title"], escape(words[action + ".invalid"]), home)
    )


def unavailable_page(lang: str, home: str) -> Page:
    words = CATALOG[lang]
    return Page(503, _page(lang, words["unavailable.title"], escape(words["unavailable"]), home))


def _text(key: str, subscription: Subscription, lang: str) -> str:
    return escape(CATALOG[lang][key]).format(
        address=f"<strong>{escape(subscription.address)}</strong>",
        scope=escape(describe_scope(subscription, lang)),
    )


def _page(lang: str, title: str, text: str, home: str, form: str = "") -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1><p>{text}</p>{form}"
        f'<p><a href="{escape(home)}">{escape(CATALOG[lang]["back"])}</a></p></main></body></html>'
    )
