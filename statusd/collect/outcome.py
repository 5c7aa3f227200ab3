"""What a collector sends to the state holder after each collection of its source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from statusd.body.spill import Body, Part
from statusd.verdicts.rules import CountrySummary


@dataclass(frozen=True, slots=True)
class GoodResult:
    """The valid records of one successful collection, prepared and encoded once.

    ``prepared_json`` is the JSON of the source's value in the /api ``data`` object, encoded
    in the collector's worker thread (in pieces: see ``body.jsonpieces.JsonPieces``), so the state
    holder only lines pieces up.
    ``wall_time`` is when the collection finished (UNIX seconds; survives restarts).
    ``raw`` is the input the parser read (the source's bytes, kept as they are): the state
    file stores it and parses it again at start. A result without it (``b""``: restored
    from a format-1 state file, or built by hand in tests) has its records stored instead.

    A result made by a worker process (a big input: ``worker``) keeps no records: its
    value, deflate segment and input are ``FileSpan``s of one spill file, ``records`` is
    empty, ``summary`` holds what the verdicts need and ``counted`` how many records there
    were.
    """

    source: str
    records: tuple[Any, ...]
    prepared_json: Body
    skipped: Mapping[str, int]
    wall_time: float
    raw: Part = field(default=b"", repr=False)  # megabytes: kept out of reprs
    prepared_deflate: Part = field(default=b"", repr=False)
    """``document.deflate_segment(prepared_json)`` for a big value (else ``b""``): compressed
    once by the collector, reused by every /api document it is part of."""
    summary: CountrySummary | None = None
    counted: int | None = None

    @property
    def record_count(self) -> int:
        """How many valid records the input held (kept or not)."""
        return len(self.records) if self.counted is None else self.counted

    @property
    def verdict_rows(self) -> tuple[Any, ...] | CountrySummary:
        """What the verdicts are computed from: the summary when the records are not kept."""
        return self.records if self.summary is None else self.summary


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
