"""The confirmation and unsubscribe pages: plain HTML, no JavaScript, one button.

Opening a link changes nothing (mail scanners follow links); the page's only button POSTs
the form, and that POST confirms or unsubscribes. Strings come from one catalog per language
(``CATALOG``, SPEC §10); the page's one inline style is allowed by its hash in the page's
own Content-Security-Policy, which also lets the form post to this origin only.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from statusd.subscriptions.model import LANGUAGES, NOTIFY_PRODUCTS, Subscription
from statusd.verdicts.cells import PRODUCT_NAMES

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
    "en": {
        "confirm.title": "Confirm your subscription",
        "confirm.ask": "Send status notifications to {address} for {scope}?",
        "confirm.button": "Confirm subscription",
        "confirm.done.title": "Subscription confirmed",
        "confirm.done": "{address} will be told when the status of {scope} changes. Every "
        "email has a link to unsubscribe.",
        "confirm.invalid.title": "Link not valid",
        "confirm.invalid": "This confirmation link is not valid or has expired (links work "
        "for 48 hours). Subscribe again from the status page.",
        "unsubscribe.title": "Unsubscribe",
        "unsubscribe.ask": "Stop status notifications to {address}? The address is deleted.",
        "unsubscribe.button": "Unsubscribe",
        "unsubscribe.done.title": "Unsubscribed",
        "unsubscribe.done": "No more notifications will be sent; the address is deleted.",
        "unsubscribe.invalid.title": "Link not valid",
        "unsubscribe.invalid": "This link is not valid, or the address is already unsubscribed.",
        "unavailable.title": "Try again later",
        "unavailable": "Subscriptions are unavailable for a moment. Please try again later.",
        "back": "Back to the status page",
        "scope.all": "every product in every country",
        "scope.products_all": "every product",
        "scope.in": "{products} in {countries}",
        "scope.everywhere": "every country",
        **PRODUCT_NAMES,
        "incidents": "Incidents",
    },
    "ru": {
        "confirm.title": "Подтвердите подписку",
        "confirm.ask": "Присылать уведомления о статусе на {address} по теме: {scope}?",
        "confirm.button": "Подтвердить подписку",
        "confirm.done.title": "Подписка подтверждена",
        "confirm.done": "На {address} будут приходить уведомления об изменениях статуса: "
        "{scope}. В каждом письме есть ссылка для отписки.",
        "confirm.invalid.title": "Ссылка недействительна",
        "confirm.invalid": "Ссылка для подтверждения недействительна или устарела (она "
        "действует 48 часов). Подпишитесь снова на странице статуса.",
        "unsubscribe.title": "Отписка",
        "unsubscribe.ask": "Больше не присылать уведомления на {address}? Адрес будет удалён.",
        "unsubscribe.button": "Отписаться",
        "unsubscribe.done.title": "Вы отписаны",
        "unsubscribe.done": "Уведомления больше не придут; адрес удалён.",
        "unsubscribe.invalid.title": "Ссылка недействительна",
        "unsubscribe.invalid": "Ссылка недействительна, или адрес уже отписан.",
        "unavailable.title": "Попробуйте позже",
        "unavailable": "Подписки временно недоступны. Попробуйте позже.",
        "back": "Вернуться на страницу статуса",
        "scope.all": "все продукты во всех странах",
        "scope.products_all": "все продукты",
        "scope.in": "{products} в странах: {countries}",
        "scope.everywhere": "все страны",
        "sms": "SMS",
        "mms": "MMS",
        "voice": "Голос",
        "email": "Email",
        "billing": "Биллинг",
        "support": "Поддержка",
        "incidents": "Инциденты",
    },
}
assert set(CATALOG) == set(LANGUAGES)


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    html: str


def pick_language(asked: str | None, subscription: Subscription | None, browser: str | None) -> str:
    """``?lang=``, else the subscriber's language, else the browser's best, else English."""
    for candidate in (asked, subscription.lang if subscription else None, browser):
        if candidate in CATALOG:
            return candidate
    return LANGUAGES[0]


def describe_scope(subscription: Subscription, lang: str) -> str:
    """A subscription's scope in words: products by name, countries by code."""
    words = CATALOG[lang]
    scope = subscription.scope
    if not scope.products and not scope.countries:
        return words["scope.all"]
    products = (
        ", ".join(words[p] for p in NOTIFY_PRODUCTS if p in scope.products)
        if scope.products
        else words["scope.products_all"]
    )
    countries = ", ".join(sorted(scope.countries)) if scope.countries else words["scope.everywhere"]
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
