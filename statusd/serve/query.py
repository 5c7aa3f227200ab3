"""Query parameters of the public routes, checked: a ``QueryError`` is their 400 or 404."""

from __future__ import annotations

import time
from collections.abc import Mapping

from statusd.countries import is_country
from statusd.history.reader import month_range
from statusd.history.schema import MAX_DAYS
from statusd.verdicts.cells import BILLING_FUNCTIONS, COUNTRY_PRODUCTS, PRODUCTS, SUPPORT_KEY

DEFAULT_DAYS = 90


class QueryError(ValueError):
    """A request names something that does not exist (404) or a bad value (400).

    ``status`` is the HTTP status to answer and ``str(error)`` the reason for the JSON body.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


BILLING_ALIASES = {"reccuring": "recurring"}
"""The /api spelling of a billing function, accepted in queries and badge paths."""


def parse_cell(product: str | None, key: str | None) -> tuple[str, str]:
    """(product, key) of a query, or ``QueryError`` (400 bad value, 404 no such thing).

    ``key`` is the country code (upper-cased) for country products, the function for
    ``billing``; ignored for ``support``.
    """
    if not product:
        raise QueryError(400, "query parameter 'product' is required")
    if product not in PRODUCTS:
        raise QueryError(404, f"unknown product {product!r}")
    if product == "support":
        return product, SUPPORT_KEY
    if not key:
        name = "function" if product == "billing" else "country"
        raise QueryError(400, f"query parameter {name!r} is required for product {product!r}")
    if product == "billing":
        key = BILLING_ALIASES.get(key, key)
        if key not in BILLING_FUNCTIONS:
            raise QueryError(404, f"unknown billing function {key!r}")
        return product, key
    return product, parse_country(key)


def parse_country(text: str) -> str:
    """An assigned ISO 3166-1 alpha-2 code (any case), or ``QueryError``."""
    code = text.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise QueryError(400, f"country must be an ISO 3166-1 alpha-2 code, got {text!r}")
    if not is_country(code):
        raise QueryError(404, f"unknown country {code!r}")
    return code


def parse_days(text: str | None) -> int:
    """``days`` of ``/api/history``: 1–400, default 90."""
    if text is None or text == "":
        return DEFAULT_DAYS
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise QueryError(400, f"days must be a whole number from 1 to {MAX_DAYS}, got {text!r}")
    return int(text)


def parse_history_query(args: Mapping[str, str]) -> tuple[str, str, int]:
    """(product, key, days) of ``/api/history?product=P&country=CC&days=N``.

    For billing the function is ``function=`` (``country=`` and ``key=`` are accepted too).
    """
    key = args.get("country") or args.get("function") or args.get("key")
    product, key = parse_cell(args.get("product"), key)
    return product, key, parse_days(args.get("days"))


def parse_month(text: str | None, now: float) -> str:
    """``month`` of ``/api/history.csv``: ``YYYY-MM``, default the current UTC month."""
    if text is None or text == "":
        return time.strftime("%Y-%m", time.gmtime(now))
    try:
        month_range(text)
    except ValueError:
        raise QueryError(400, f"month must be YYYY-MM, got {text!r}") from None
    return text


def parse_calendar_query(args: Mapping[str, str]) -> dict[str, str]:
    """The filters of ``/maintenance.ics?country=CC&product=P`` (either, both or none).

    Raises ``QueryError``: 400 for a malformed country, 404 for an unknown product or
    country. Any product goes with a country (billing and support windows concern every
    country).
    """
    filters: dict[str, str] = {}
    country = args.get("country")
    if country:
        filters["country"] = parse_country(country)
    product = args.get("product")
    if product:
        if product not in PRODUCTS:
            raise QueryError(404, f"unknown product {product!r}")
        filters["product"] = product
    return filters


def parse_feed_query(args: Mapping[str, str]) -> dict[str, str]:
    """The filters of ``/feed.atom?country=CC&product=P`` (either, both or none).

    Raises ``QueryError``: 400 for a malformed country or a product without countries
    asked with a country, 404 for an unknown product or country.
    """
    filters = parse_calendar_query(args)
    product = filters.get("product")
    if "country" in filters and product is not None and product not in COUNTRY_PRODUCTS:
        raise QueryError(400, f"product {product!r} has no countries")
    return filters
