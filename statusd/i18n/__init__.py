"""The catalogs of every language statusd writes in (SPEC §10): one JSON file per language
under ``catalogs/``, shared by the page (its ``page.*`` keys, served by ``/i18n/page.json``)
and the server (``mail.*`` for the emails, ``subscribe.*`` for the confirm and unsubscribe
pages, ``feed.*`` for the Atom feed).

A value is a whole template with named fields in braces (``{count}``, ``{country}``), or, for
a text that depends on a number, an object of CLDR plural categories (``one``, ``few``,
``many``, ``other``) to templates, chosen by Babel's plural rules here and by
``Intl.PluralRules`` in the page. Adding a language is adding one file: the languages are
the files present. ``problems`` lists every way the catalogs disagree (a key one lacks and
another has, other fields, a plural form the language needs missing); ``tests/test_i18n.py``
runs it, and checks that every key the code uses is there. Pure apart from reading the
package's own files once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Final

from babel import Locale
from babel.numbers import format_decimal

Entry = str | Mapping[str, str]
Catalog = Mapping[str, Entry]

CATALOG_DIR: Final = Path(__file__).resolve().parent / "catalogs"
DEFAULT_LANGUAGE: Final = "en"


def _read(path: Path) -> dict[str, Entry]:
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: a catalog is one JSON object")
    for key, value in entries.items():
        plural = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        if not isinstance(value, str) and not plural:
            raise ValueError(f"{path}: {key!r} is neither a template nor plural forms")
    return entries


@cache
def catalogs() -> Mapping[str, Catalog]:
    """Language code → its catalog, one per ``catalogs/<lang>.json`` (English first)."""
    paths = sorted(CATALOG_DIR.glob("*.json"), key=lambda p: (p.stem != DEFAULT_LANGUAGE, p.stem))
    return {path.stem: _read(path) for path in paths}


def languages() -> tuple[str, ...]:
    """The languages there is a catalog for, English first."""
    return tuple(catalogs())


def language(lang: str | None) -> str:
    """``lang`` if there is a catalog for it, else English."""
    return lang if lang is not None and lang in catalogs() else DEFAULT_LANGUAGE


def section(prefix: str) -> dict[str, dict[str, Entry]]:
    """Language → the entries of one user (``mail``, ``subscribe``…), without the prefix."""
    start = prefix + "."
    return {
        lang: {key.removeprefix(start): v for key, v in entries.items() if key.startswith(start)}
        for lang, entries in catalogs().items()
    }


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def text(lang: str, key: str, /, **fields: object) -> str:
    """The template ``key`` (full key, ``feed.title``) in ``lang``, filled in."""
    template = catalogs()[language(lang)][key]
    if not isinstance(template, str):
        raise TypeError(f"{key!r} has plural forms: use plural()")
    return template.format(**fields)


def plural_form(lang: str, forms: Mapping[str, str], count: float) -> str:
    """The template of ``forms`` for ``count`` by ``lang``'s CLDR plural rules."""
    return forms.get(_locale(language(lang)).plural_form(count), forms["other"])


def plural(lang: str, key: str, count: int, /, **fields: object) -> str:
    """The form of ``key`` for ``count``, filled in (``count`` written the language's way)."""
    lang = language(lang)
    forms = catalogs()[lang][key]
    if isinstance(forms, str):
        raise TypeError(f"{key!r} has no plural forms: use text()")
    template = plural_form(lang, forms, count)
    return template.format(count=format_decimal(count, locale=lang), **fields)


def country_name(lang: str, code: str) -> str:
    """A country's CLDR name in ``lang`` (``DE`` → ``Germany``, ``Германия``); the code when
    CLDR has none."""
    return str(_locale(language(lang)).territories.get(code, code))


def best_language(candidates: Iterable[str]) -> str | None:
    """The first of ``candidates`` (language tags, best first: ``ru-RU``, ``en``) that has a
    catalog, by its exact code or its primary language; None when none has."""
    available = catalogs()
    for tag in candidates:
        code = tag.strip().replace("_", "-").lower()
        for option in (code, code.split("-")[0]):
            if option in available:
                return option
    return None


def accept_language(header: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, by quality (ties keep their order); tags
    with ``q=0`` and ``*`` are left out."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


MAX_WANTED = 16
"""At most this many language tags of ``?want=`` are looked at."""


@cache
def page_document(lang: str) -> bytes:
    """What the page loads for ``lang`` (``GET /i18n/page.json``), as UTF-8 JSON: its code,
    the languages there are, and its ``page.*`` entries (keys as the page's code writes
    them); the other users' entries stay on the server."""
    lang = language(lang)
    entries = {k: v for k, v in catalogs()[lang].items() if k.startswith("page.")}
    document = {"lang": lang, "languages": list(languages()), "entries": entries}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def page_language(want: str) -> str:
    """The language of the page for ``?want=`` (tags best first, comma-separated: ``?lang=``,
    the visitor's stored choice, the browser's languages): the first there is a catalog
    for, else English."""
    return best_language(want.split(",")[:MAX_WANTED]) or DEFAULT_LANGUAGE


def fields(entry: Entry) -> frozenset[str]:
    """The named fields of a template, or of all of a plural entry's templates."""
    templates = [entry] if isinstance(entry, str) else list(entry.values())
    return frozenset(
        name for template in templates for _, name, _, _ in Formatter().parse(template) if name
    )


def problems(every: Mapping[str, Catalog] | None = None) -> list[str]:
    """What makes the catalogs disagree, one line each (empty: they agree): a key one lacks
    and another has, an entry plural in one language only, a plural entry without a CLDR
    category its language uses, a template whose fields differ from the other languages'."""
    every = catalogs() if every is None else every
    found: list[str] = []
    for key in sorted({key for catalog in every.values() for key in catalog}):
        having = {lang: c[key] for lang, c in every.items() if key in c}
        found += [f"{lang}: lacks {key!r}" for lang in every if lang not in having]
        if len({isinstance(entry, str) for entry in having.values()}) > 1:
            found.append(f"{key!r}: plural in some languages only")
        if len({fields(entry) for entry in having.values()}) > 1:
            found.append(f"{key!r}: the fields differ between languages")
        for lang, entry in having.items():
            if isinstance(entry, str):
                continue
            needed = _locale(lang).plural_form.tags | {"other"}
            found += [f"{lang}: {key!r} lacks the {t!r} form" for t in sorted(needed - set(entry))]
    return found
