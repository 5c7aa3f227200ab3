"""Reading the JSON bodies of the control API: one object, known keys, a clear reason otherwise.

Errors::

    BodyError (ValueError)    a control request that cannot be applied; the message is the
                              reason sent back in the 400 body (or shown on stderr for a flag)
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any


class BodyError(ValueError):
    """A control request body that cannot be applied; the message says why."""


def json_object(body: bytes, shape: str) -> dict[str, Any]:
    """``body`` parsed as a JSON object; ``shape`` (e.g. ``{"endpoint": ...}``) goes in errors."""
    try:
        value: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BodyError(f"body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise BodyError(f"body must be a JSON object {shape}")
    return value


def check_keys(
    value: dict[str, Any], required: Collection[str], optional: Collection[str] = ()
) -> None:
    """Refuse a key outside ``required`` and ``optional``, or a missing required key."""
    allowed = [*required, *optional]
    extra = sorted(set(value) - set(allowed))
    if extra:
        raise BodyError(f"unknown key {extra[0]!r} (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in value:
            raise BodyError(f"missing key {key!r}")


def string_field(value: dict[str, Any], key: str) -> str:
    """``value[key]``, which must be a string."""
    field = value[key]
    if not isinstance(field, str):
        raise BodyError(f"{key!r} must be a string")
    return field
