"""Words in the subscriber's language (SPEC §10): catalog lookups, CLDR plurals, country
names, lists and dates (Babel), and the one-line cleaning of outside text. Pure."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime

from babel.dates import format_date, format_time, get_datetime_format
from babel.lists import format_list

from statusd import i18n
from statusd.notify.catalog import CATALOGS, DEFAULT_LANGUAGE
from statusd.subscriptions.model import NOTIFY_PRODUCTS


def language(lang: str) -> str:
    """``lang`` if there is a catalog for it, else English."""
    return lang if lang in CATALOGS else DEFAULT_LANGUAGE


def text(lang: str, key: str, **fields: object) -> str:
    """The catalog's template ``mail.<key>`` in ``lang``, filled in."""
    return i18n.text(lang, "mail." + key, **fields)


def plural(lang: str, key: str, count: int, **fields: object) -> str:
    """The form of ``mail.<key>`` for ``count`` by the language's CLDR plural rules."""
    return i18n.plural(lang, "mail." + key, count, **fields)


def name_of(lang: str, prefix: str, key: str) -> str:
    """A product's or billing function's name; the key itself if the catalog has none."""
    entry = CATALOGS[language(lang)].get(f"{prefix}.{key}")
    return entry if isinstance(entry, str) else key


def country_label(code: str, lang: str) -> str:
    """The country's CLDR name in ``lang`` (``DE`` → ``Germany``, ``Германия``)."""
    return i18n.country_name(lang, code)


def format_instant(at: float, lang: str) -> str:
    """``March 1, 2026, 2:05 PM UTC`` / ``1 марта 2026 г., 14:05 UTC``."""
    lang = language(lang)
    moment = datetime.fromtimestamp(at, UTC)
    date_text = format_date(moment, "long", locale=lang)
    time_text = format_time(moment, "short", tzinfo=UTC, locale=lang) + " UTC"
    pattern = str(get_datetime_format("long", locale=lang)).replace("'", "")
    return pattern.replace("{1}", date_text).replace("{0}", time_text)


def one_line(value: str) -> str:
    """``value`` with line breaks and other control characters as single spaces."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value
    )
    return " ".join(cleaned.split())


def scope_text(
    lang: str,
    products: Iterable[str],
    countries: Iterable[str],
    functions: Iterable[str] = (),
) -> str:
    """``products: SMS, Voice; countries: Germany, France`` (empty lists: all)."""
    lang = language(lang)
    chosen = [p for p in NOTIFY_PRODUCTS if p in set(products)]
    parts = [
        text(
            lang,
            "scope.products",
            products=_list(lang, (name_of(lang, "product", p) for p in chosen)),
        )
        if chosen
        else text(lang, "scope.all_products")
    ]
    codes = sorted(countries)
    parts.append(
        text(
            lang, "scope.countries", countries=_list(lang, (country_label(c, lang) for c in codes))
        )
        if codes
        else text(lang, "scope.all_countries")
    )
    names = [name_of(lang, "function", f) for f in functions]
    if names:
        parts.append(text(lang, "scope.functions", functions=_list(lang, names)))
    return "; ".join(parts)


def _list(lang: str, items: Iterable[str]) -> str:
    return format_list(list(items), locale=lang)
