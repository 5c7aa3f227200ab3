"""Small stand-ins shared by the core tests: a fake source and outcome builders."""

from __future__ import annotations

import json
from collections.abc import Sequence

from statusd.body.jsonpieces import encode_json
from statusd.collect.outcome import CollectionOutcome, GoodResult
from statusd.sources.base import Limits, ParseResult, SourceError, SourceSpec


def parse_numbers(raw: bytes, limits: Limits) -> ParseResult[int]:
    """A JSON array of ints; anything else fails the source, non-ints are skipped."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise SourceError("invalid JSON") from None
    if not isinstance(value, list):
        raise SourceError("not a JSON array")
    kept = [v for v in value if isinstance(v, int)]
    skipped = len(value) - len(kept)
    return ParseResult(tuple(kept), {"wrong_type": skipped} if skipped else {})


def prepare_numbers(records: Sequence[int]) -> list[int]:
    return sorted(records)


FILE_SPEC = SourceSpec("numbers", "file", "numbers.data", int, parse_numbers, prepare_numbers)
HTTP_SPEC = SourceSpec("remote", "http", "/numbers", int, parse_numbers, prepare_numbers)


def good(source: str, value: object, wall: float = 1_800_000_000.0) -> GoodResult:
    return GoodResult(source, (), (encode_json(value),), {}, wall)


def outcome(
    source: str, value: object | None, *, error: str | None = None, next_at: float = 30.0
) -> CollectionOutcome:
    result = None if value is None else good(source, value)
    return CollectionOutcome(source, result, error, 1_800_000_000.0, 0.01, next_at)
