"""Shared machinery of the HTTP sources: a JSON array body and its items.

Decisions (SPEC §1):

- the body must be UTF-8 (one leading byte order mark is ignored) holding one JSON array;
  anything else — invalid UTF-8, invalid JSON (``NaN`` and ``Infinity`` included, as they
  are not JSON), JSON nested too deep or a number too long (over 4300 digits) for Python
  to decode, a value that is not an array — fails the whole source with ``SourceError``;
- each item is checked on its own: not an object → ``not_an_object``; a required key
  absent → ``missing_key`` (checked for every key before any type); a value of the wrong
  JSON type → ``wrong_type``; then the source's own value rules, in key order;
- string values are stripped like file fields (``str.strip()``) before their rules apply;
- unknown extra keys are ignored.

Size caps of the body are applied by the fetcher before parsing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from statusd.sources.base import ParseResult, SkipCounter, SourceError

R = TypeVar("R")

BOM = b"\xef\xbb\xbf"

NOT_AN_OBJECT = "not_an_object"
MISSING_KEY = "missing_key"
WRONG_TYPE = "wrong_type"


def _refuse_constant(name: str) -> NoReturn:
    """``json`` hook for ``NaN``/``Infinity``/``-Infinity``, which are not JSON."""
    raise ValueError(f"{name} is not JSON")


def decode_array(raw: bytes) -> list[Any]:
    """The items of a body that must be one JSON array; ``SourceError`` when it is not."""
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise SourceError("body is not valid JSON") from None
    if not isinstance(value, list):
        raise SourceError("body is not a JSON array")
    return value


def parse_items(raw: bytes, parse_item: Callable[[Any], R | str]) -> ParseResult[R]:
    """Run ``parse_item`` on every item of a JSON array body; keep records, count reasons."""
    skipped = SkipCounter()
    records: list[R] = []
    for item in decode_array(raw):
        result = parse_item(item)
        if isinstance(result, str):
            skipped.skip(result)
        else:
            records.append(result)
    return skipped.result(records)


def object_values(item: Any, keys: tuple[str, ...]) -> list[Any] | str:
    """The values of ``keys`` in a JSON object item, or the reason the item is skipped."""
    if not isinstance(item, dict):
        return NOT_AN_OBJECT
    try:
        return [item[key] for key in keys]
    except KeyError:
        return MISSING_KEY


INVALID_STRING = "invalid_string"


def is_encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: JSON's ``\\ud800`` escapes decode to lone
    surrogates, which no UTF-8 document (and so no /api answer) can carry."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def string_values(item: Any, keys: tuple[str, ...]) -> list[str] | str:
    """The stripped string values of ``keys`` in an item, or the reason it is skipped."""
    values = object_values(item, keys)
    if isinstance(values, str):
        return values
    for value in values:
        if not isinstance(value, str):
            return WRONG_TYPE
        if not is_encodable(value):
            return INVALID_STRING
    return [value.strip() for value in values]
