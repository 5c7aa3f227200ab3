"""The damage the simulator does to a few records, as pure functions.

Every kind produces a record statusd must skip under SPEC §1: merged fields change the field
count, a dropped letter makes the provider unknown, an unassigned code makes the country
unknown. For the JSON endpoints a missing key or a wrong type breaks an item.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final

from simulator.countries import UNASSIGNED_CODES

LINE_DAMAGE: Final = ("merged_fields", "dropped_letter", "unknown_country")
"""Kinds of damage to a line of a data file; every file gets each kind at least once."""


def merge_fields(fields: Sequence[str], index: int) -> list[str]:
    """Fields ``index`` and ``index + 1`` glued together, as if a ``;`` was lost."""
    if not 0 <= index < len(fields) - 1:
        raise ValueError(f"cannot merge field {index} of {len(fields)}")
    return [*fields[:index], fields[index] + fields[index + 1], *fields[index + 2 :]]


def drop_letter(word: str, index: int) -> str:
    """``word`` without its letter at ``index`` (``Topolo`` → ``Topol``)."""
    if not 0 <= index < len(word):
        raise ValueError(f"no letter {index} in {word!r}")
    return word[:index] + word[index + 1 :]


def damage_fields(
    rng: random.Random, fields: Sequence[str], provider_index: int, kind: str
) -> list[str]:
    """One line's fields damaged by ``kind`` (one of ``LINE_DAMAGE``); field 0 is the country."""
    if kind == "merged_fields":
        return merge_fields(fields, rng.randrange(len(fields) - 1))
    damaged = list(fields)
    if kind == "dropped_letter":
        provider = damaged[provider_index]
        damaged[provider_index] = drop_letter(provider, rng.randrange(len(provider)))
    elif kind == "unknown_country":
        damaged[0] = rng.choice(UNASSIGNED_CODES)
    else:
        raise ValueError(f"unknown damage kind {kind!r}")
    return damaged


def without_key(item: dict[str, Any], key: str) -> dict[str, Any]:
    """A JSON item with ``key`` left out."""
    return {name: value for name, value in item.items() if name != key}


def with_wrong_type(value: Any) -> Any:
    """A JSON value of the wrong type for its key: strings become numbers or null, numbers strings.

    Used for the ``wrong_types`` fault and for the odd broken item in a good body.
    """
    if isinstance(value, str):
        return int(value) if value.isdigit() else None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return None
