"""Sign-up bodies: everything SPEC §8 refuses is refused with a reason, the rest is parsed."""

from __future__ import annotations

import json

import pytest

from statusd.subscriptions.model import Scope
from statusd.subscriptions.requests import (
    EmailSignup,
    RequestError,
    WebhookSignup,
    parse_subscription_request,
)


def parse(value: object, *, allow_http: bool = False) -> EmailSignup | WebhookSignup:
    return parse_subscription_request(json.dumps(value).encode(), allow_http=allow_http)


def test_an_email_signup() -> None:
    signup = parse({"email": "Anna@Example.COM", "products": ["sms"], "countries": ["DE", "FR"]})
    assert signup == EmailSignup(
        "Anna@example.com", Scope(frozenset({"sms"}), frozenset({"DE", "FR"})), "en"
    )


def test_an_internationalised_domain_is_stored_in_ascii() -> None:
    signup = parse({"email": "ivan@пример.рф", "lang": "ru"})
    assert isinstance(signup, EmailSignup)
    assert signup.address == "ivan@xn--e1afmkfd.xn--p1ai"
    assert signup.lang == "ru"


def test_a_webhook_signup() -> None:
    signup = parse({"webhook": "https://hooks.example.com/x?y=1", "format": "slack"})
    assert isinstance(signup, WebhookSignup)
    assert signup.url.host == "hooks.example.com"
    assert signup.url.target == "/x?y=1"
    assert signup.format == "slack"
    assert signup.scope == Scope()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not UTF-8"),
        (b"", "body is not JSON"),
        (b"[]", "body must be a JSON object"),
        (b'"a@example.com"', "body must be a JSON object"),
        (b'{"email": "a@example.com", "email": "b@example.com"}', "given twice"),
    ],
)
def test_bodies_that_are_not_one_json_object(body: bytes, reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        parse_subscription_request(body)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"email": "a@example.com", "admin": True}, "unknown key 'admin'"),
        ({"email": "a@example.com", "format": "json"}, "unknown key 'format'"),
        ({"webhook": "https://h.example/", "email2": "x"}, "unknown key 'email2'"),
        ({"products": []}, "email or webhook is required"),
        ({}, "email or webhook is required"),
        ({"email": "a@example.com", "webhook": "https://h.example/"}, "not both"),
    ],
)
def test_keys(value: object, reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        parse(value)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("a@example.com\r\nBcc: victim@example.com", "line breaks"),
        ("a@example.com\nBcc: x@example.com", "line breaks"),
        ("a\r@example.com", "line breaks"),
        ("a@exa\x00mple.com", "control characters"),
        ("not an address", "not a valid address"),
        ("a@b", "not a valid address"),
        ("a@localhost", "not a valid address"),
        ("Anna <a@example.com>", "not a valid address"),
        ("a,b@example.com", "not a valid address"),
        ("ы@example.com", "not a valid address"),
        ("a" * 250 + "@example.com", "longer than 254"),
        (42, "must be an address"),
        ("", "must be an address"),
    ],
)
def test_invalid_or_injecting_addresses(address: object, reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        parse({"email": address})


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"products": ["fax"]}, "unknown product 'fax'"),
        ({"products": "sms"}, "products must be a list"),
        ({"products": [1]}, "products must be a list of strings"),
        ({"countries": ["XX"]}, "unknown country 'XX'"),
        ({"countries": ["de"]}, "unknown country 'de'"),
        ({"countries": ["DEU"]}, "unknown country 'DEU'"),
        ({"countries": ["DE"] * 301}, "more than 300"),
        ({"lang": "de"}, "lang must be one of en, ru"),
        ({"lang": None}, "lang must be one of"),
    ],
)
def test_unknown_products_countries_and_languages(extra: dict[str, object], reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        parse({"email": "a@example.com", **extra})


def test_known_countries_can_be_narrowed() -> None:
    body = json.dumps({"email": "a@example.com", "countries": ["FR"]}).encode()
    with pytest.raises(RequestError, match="unknown country 'FR'"):
        parse_subscription_request(body, countries={"DE"})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"webhook": "http://h.example/"}, "must start with https://"),
        ({"webhook": "ftp://h.example/"}, "must start with https://"),
        ({"webhook": "https://user:pw@h.example/"}, "user name or password"),
        ({"webhook": "https://h.example/\r\nX: y"}, "control characters"),
        ({"webhook": 5}, "must be a URL"),
        ({"webhook": "https://h.example/", "format": "xml"}, "format must be one of json, slack"),
    ],
)
def test_webhook_urls_and_formats(value: object, reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        parse(value)


def test_http_webhooks_with_webhook_allow_http() -> None:
    signup = parse({"webhook": "http://h.example:8080/in"}, allow_http=True)
    assert isinstance(signup, WebhookSignup)
    assert signup.url.scheme == "http"
    assert signup.url.port == 8080
