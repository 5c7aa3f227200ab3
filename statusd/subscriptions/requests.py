"""``POST /api/subscriptions`` bodies, checked (pure): what to store, or why not.

``parse_subscription_request`` turns the body into an ``EmailSignup`` or a ``WebhookSignup``
or raises ``RequestError`` whose message is the 400's reason. It refuses: a body that is not
UTF-8 JSON, not an object, has a key twice or a key it does not know; neither or both of
``email`` and ``webhook``; an address ``email-validator`` refuses (syntax only, no DNS) or
that holds a line break or control character (header injection); products outside SPEC §8's
list, countries that are not assigned ISO 3166-1 alpha-2 codes (upper case); ``lang`` other
than en/ru; ``format`` other than json/slack; a webhook URL ``parse_webhook_url`` refuses.
Resolving the webhook's host (``check_webhook_url``) is the route's job: it is I/O.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

from email_validator import EmailNotValidError, validate_email

from statusd.countries import country_codes
from statusd.subscriptions.model import LANGUAGES, NOTIFY_PRODUCTS, Scope, WebhookFormat
from statusd.subscriptions.webhook_url import ParsedUrl, WebhookUrlError, parse_webhook_url

MAX_EMAIL_LENGTH = 254
"""RFC 5321's limit on a forward path."""
WEBHOOK_FORMATS = ("json", "slack")
COMMON_KEYS = frozenset({"products", "countries", "lang"})
EMAIL_KEYS = COMMON_KEYS | {"email"}
WEBHOOK_KEYS = COMMON_KEYS | {"webhook", "format"}
MAX_LIST_ITEMS = 300
"""More products or countries than exist are refused (there are 249 countries)."""


class RequestError(ValueError):
    """The request is refused; ``reason`` (also the message) says why, for the 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EmailSignup:
    address: str
    """Normalised by email-validator; an internationalised domain in its ASCII form."""
    scope: Scope
    lang: str


@dataclass(frozen=True, slots=True)
class WebhookSignup:
    url: ParsedUrl
    format: WebhookFormat
    scope: Scope
    lang: str


def parse_subscription_request(
    body: bytes,
    *,
    allow_http: bool = False,
    countries: Collection[str] | None = None,
) -> EmailSignup | WebhookSignup:
    """The sign-up a body asks for; ``RequestError`` with the reason otherwise.
    ``countries`` are the known codes (default: every assigned ISO 3166-1 alpha-2 code)."""
    document = _json_object(body)
    has_email, has_webhook = "email" in document, "webhook" in document
    if has_email and has_webhook:
        raise RequestError("give either email or webhook, not both")
    if not has_email and not has_webhook:
        raise RequestError("email or webhook is required")
    allowed = EMAIL_KEYS if has_email else WEBHOOK_KEYS
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise RequestError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    scope = Scope(
        _names(document, "products", NOTIFY_PRODUCTS, "product"),
        _names(
            document, "countries", country_codes() if countries is None else countries, "country"
        ),
    )
    lang = _choice(document, "lang", LANGUAGES)
    if has_email:
        return EmailSignup(parse_email(document["email"]), scope, lang)
    try:
        url = parse_webhook_url(document["webhook"], allow_http=allow_http)
    except WebhookUrlError as error:
        raise RequestError(str(error)) from None
    return WebhookSignup(
        url, cast(WebhookFormat, _choice(document, "format", WEBHOOK_FORMATS)), scope, lang
    )


def parse_email(value: object) -> str:
    """The normalised address, or ``RequestError``: syntax only (no DNS lookup), no line
    breaks or control characters, an ASCII local part (any relay can deliver it)."""
    if not isinstance(value, str) or not value:
        raise RequestError("email must be an address like name@example.com")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise RequestError("email must not contain line breaks or control characters")
    if len(value) > MAX_EMAIL_LENGTH:
        raise RequestError(f"email is longer than {MAX_EMAIL_LENGTH} characters")
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise RequestError(f"email is not a valid address: {error}") from None
    return checked.ascii_email or checked.normalized


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise RequestError("body is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise RequestError(f"body is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(document, dict):
        raise RequestError("body must be a JSON object")
    return document


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise RequestError(f"key {key!r} is given twice")
        document[key] = value
    return document


def _names(document: dict[str, Any], key: str, known: Collection[str], what: str) -> frozenset[str]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RequestError(f"{key} must be a list of strings ([] means all)")
    if len(value) > MAX_LIST_ITEMS:
        raise RequestError(f"{key} has more than {MAX_LIST_ITEMS} items")
    for item in value:
        if item not in known:
            hint = "" if what == "product" else " (ISO 3166-1 alpha-2, upper case, e.g. DE)"
            shown = ", ".join(sorted(known)) if what == "product" else ""
            raise RequestError(
                f"unknown {what} {item!r}{hint}" + (f"; known: {shown}" if shown else "")
            )
    return frozenset(value)


def _choice(document: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = document.get(key, allowed[0])
    if value not in allowed:
        raise RequestError(f"{key} must be one of {', '.join(allowed)}")
    return str(value)
