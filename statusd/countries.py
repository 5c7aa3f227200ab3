"""ISO 3166-1 alpha-2 country codes and their English short names, from ``pycountry``.

The table is built once, on first use, from pycountry's database (no hand-written list), so
the hot parsing loops test membership in a frozenset and preparation looks names up in a dict.
"""

from __future__ import annotations

from functools import cache

import pycountry


@cache
def _names() -> dict[str, str]:
    """Every assigned alpha-2 code (upper case) and its name, as pycountry gives them."""
    return {country.alpha_2: country.name for country in pycountry.countries}


@cache
def country_codes() -> frozenset[str]:
    """The assigned ISO 3166-1 alpha-2 codes, upper case (for fast membership tests)."""
    return frozenset(_names())


def is_country(code: str) -> bool:
    """True when ``code`` is an assigned alpha-2 code written in upper case (``RU``, not ``ru``)."""
    return code in country_codes()


def country_name(code: str) -> str:
    """The English short name of an assigned code (``RU`` → ``Russian Federation``).

    Same as ``pycountry.countries.get(alpha_2=code).name``, but exact-case and cached;
    raises ``KeyError`` for a code that is not assigned.
    """
    return _names()[code]
