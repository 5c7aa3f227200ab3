"""The notifications' strings (SPEC §10): the ``mail.*`` entries of the catalogs of
``statusd.i18n`` (one JSON file per language), keyed here without the ``mail.`` prefix.

A value is a whole template (``str.format`` fields in braces), or, for a text that depends
on a number, a dict of CLDR plural categories to templates, chosen with Babel's plural
rules. Templates are whole sentences per message shape, never assembled from fragments, so
each language keeps its own word order. Country names are not here: they come from CLDR
(``babel.Locale(lang).territories``), in the nominative, so the Russian templates put the
country where the nominative reads right.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from statusd import i18n
from statusd.i18n import DEFAULT_LANGUAGE, Entry

CATALOGS: Final[Mapping[str, Mapping[str, Entry]]] = i18n.section("mail")
"""Language (``Subscription.lang``) → its catalog."""

__all__ = ["CATALOGS", "DEFAULT_LANGUAGE", "Entry", "catalog_problems"]


def catalog_problems(catalogs: Mapping[str, Mapping[str, Entry]] = CATALOGS) -> list[str]:
    """What makes the catalogs disagree, one line each (see ``statusd.i18n.problems``)."""
    return i18n.problems(catalogs)
