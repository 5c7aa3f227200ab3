"""Country codes the simulator writes: the original fifteen, every ISO 3166-1 code, or a list.

The list of assigned codes comes from ``pycountry`` (SPEC §1: no hand-written list), so the
simulator and statusd agree on what a valid country is.
"""

from __future__ import annotations

from functools import cache

import pycountry

DEFAULT_COUNTRIES: tuple[str, ...] = (
    "RU",
    "US",
    "GB",
    "FR",
    "BL",
    "AT",
    "BG",
    "DK",
    "CA",
    "ES",
    "CH",
    "TR",
    "PE",
    "NZ",
    "MC",
)
"""The countries of the original simulator (SPEC §6), in its order."""

UNASSIGNED_CODES: tuple[str, ...] = ("XX", "ZZ", "QQ", "AA")
"""Two-letter codes ISO 3166-1 leaves unassigned: the "unknown country" corruption uses them."""


@cache
def all_countries() -> tuple[str, ...]:
    """Every assigned ISO 3166-1 alpha-2 code, sorted."""
    return tuple(sorted(country.alpha_2 for country in pycountry.countries))


def is_assigned(code: str) -> bool:
    """True when ``code`` is an assigned alpha-2 code, upper case."""
    return code in _assigned_set()


@cache
def _assigned_set() -> frozenset[str]:
    return frozenset(all_countries())


def parse_countries(text: str) -> tuple[str, ...]:
    """``all`` or ``CODE,CODE,…`` (any case) as codes in the given order, duplicates dropped.

    Raises ``ValueError`` naming the first code that is not an assigned alpha-2 code.
    """
    if text.strip().lower() == "all":
        return all_countries()
    codes: list[str] = []
    for part in text.split(","):
        code = part.strip().upper()
        if not code:
            raise ValueError(f"empty country code in {text!r}")
        if not is_assigned(code):
            raise ValueError(f"{part.strip()!r} is not an ISO 3166-1 alpha-2 country code")
        if code not in codes:
            codes.append(code)
    return tuple(codes)
