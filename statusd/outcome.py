"""What a collector sends to the state holder after each collection of its source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GoodResult:
    """The valid records of one successful collection, prepared and encoded once.

    ``prepared_json`` is the JSON of the source's value in the /api ``data`` object, encoded
    in the collector's worker thread so the state holder only concatenates bytes.
    ``wall_time`` is when the collection finished (UNIX seconds; survives restarts).
    """

    source: str
    records: tuple[Any, ...]
    prepared_json: bytes
    skipped: Mapping[str, int]
    wall_time: float


@dataclass(frozen=True, slots=True)
class CollectionOutcome:
    """One finished collection: a good result or an error text, and when to expect the next.

    Times named ``*_at`` are on trio's clock (``trio.current_time()``); ``wall_time`` is UNIX.
    """

    source: str
    result: GoodResult | None
    error: str | None
    wall_time: float
    duration: float
    next_attempt_at: float
