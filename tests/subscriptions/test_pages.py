"""The confirmation and unsubscribe pages: every language has every string, values are
escaped, the style is allowed by its hash, nothing runs."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from statusd.subscriptions.model import Scope, Subscription
from statusd.subscriptions.pages import (
    CATALOG,
    CONTENT_SECURITY_POLICY,
    ask_page,
    describe_scope,
    done_page,
    invalid_page,
    pick_language,
)


def subscription(address: str = "a@example.com", **scope: frozenset[str]) -> Subscription:
    return Subscription("sub_x", "email", address, Scope(**scope), lang="ru")


def test_every_language_has_every_string() -> None:
    keys = {language: set(words) for language, words in CATALOG.items()}
    assert keys["en"] == keys["ru"]
    for words in CATALOG.values():
        for key in ("confirm.ask", "confirm.done"):
            assert "{address}" in words[key]
            assert "{scope}" in words[key]


def test_values_are_escaped() -> None:
    hostile = subscription('"><script>alert(1)</script>@example.com')
    page = ask_page("unsubscribe", hostile, 'tok"en<', "en", "https://status.example.com/")
    assert "<script>" not in page.html
    assert "&lt;script&gt;" in page.html
    assert 'action="/subscriptions/unsubscribe?token=tok%22en%3C&amp;lang=en"' in page.html


def test_the_style_is_allowed_by_its_hash_and_nothing_else_loads() -> None:
    page = done_page("confirm", subscription(), "en", "/")
    [style] = re.findall(r"<style>(.*?)</style>", page.html)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "form-action 'self'" in CONTENT_SECURITY_POLICY
    assert "<script" not in page.html
    assert ' style="' not in page.html


@pytest.mark.parametrize(
    ("asked", "browser", "expected"),
    [("en", "ru", "en"), (None, "en", "ru"), ("de", None, "ru"), ("xx", "en", "ru")],
)
def test_the_language_is_asked_then_the_subscribers(
    asked: str | None, browser: str | None, expected: str
) -> None:
    assert pick_language(asked, subscription(), browser) == expected


def test_without_a_subscription_the_browser_then_english() -> None:
    assert pick_language(None, None, "ru") == "ru"
    assert pick_language(None, None, None) == "en"
    assert invalid_page("confirm", "ru", "/").status == 404
    assert '<html lang="ru">' in invalid_page("confirm", "ru", "/").html


def test_scopes_in_words() -> None:
    assert describe_scope(subscription(), "en") == "every product in every country"
    sms_de = subscription(products=frozenset({"sms", "voice"}), countries=frozenset({"FR", "DE"}))
    assert describe_scope(sms_de, "en") == "SMS, Voice in Germany, France"
    assert describe_scope(sms_de, "ru") == "SMS, Голосовые вызовы в странах: Германия, Франция"
    assert describe_scope(subscription(countries=frozenset({"DE"})), "en") == (
        "every product in Germany"
    )
