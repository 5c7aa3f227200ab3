"""Shared machinery of the file sources: lines, fields and plain decimal integers.

A file is UTF-8 text whose records are lines separated by ``\\n``. Decisions (SPEC §1):

- one leading UTF-8 byte order mark is ignored (editors on Windows write one);
- a trailing ``\\r`` of a line is stripped; no other character ends a line;
- a blank line (empty, or only what ``str.strip()`` strips) is ignored, whatever its length;
- a non-blank line longer than ``max_line_bytes`` bytes (measured without its ``\\n`` and
  trailing ``\\r``) is skipped as ``line_too_long``; that check comes before the UTF-8 check;
- a line that is not valid UTF-8 is skipped as ``invalid_utf8``; the other lines still count;
- every other line is handed to the source's line parser, which returns a record or the
  reason it skips the line (the first rule the line breaks, checked in field order).

The whole file is decoded once; only a file with an invalid byte sequence somewhere takes
the slower line-by-line path.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from statusd.sources.base import Limits, ParseResult, SkipCounter

R = TypeVar("R")
NT = TypeVar("NT", bound=tuple[Any, ...])

BOM = b"\xef\xbb\xbf"

LINE_TOO_LONG = "line_too_long"
INVALID_UTF8 = "invalid_utf8"
FIELD_COUNT = "field_count"


@dataclass(frozen=True, slots=True)
class PlainLines(Generic[R]):
    """A fast path for a source's lines in their plain, common form.

    ``pattern`` matches one line (``re.MULTILINE``: ``^…$``) in a conservative subset of
    the valid spellings — no surrounding spaces, short numbers — with one group per field,
    and cannot match a newline. ``build`` gets the matched fields (a tuple per line) and
    returns the records, or None when some value breaks a rule the pattern cannot check
    (an unassigned country code); those lines then take the exact path. ``max_length`` is
    the longest line the pattern matches.
    """

    pattern: re.Pattern[str]
    build: Callable[[list[tuple[str, ...]]], list[R] | None]
    max_length: int


def shared_columns(columns: Iterable[Iterable[str]]) -> list[list[str]]:
    """The columns with every value one shared string (``sys.intern``): a million records
    then hold a few thousand strings instead of millions of copies."""
    return [list(map(sys.intern, column)) for column in columns]


def converted(column: Iterable[str], convert: Callable[[str], Any]) -> list[Any]:
    """``[convert(text) for text in column]``, converting each distinct text once (numbers
    repeat: the same objects are shared, and ``convert`` runs a few hundred times)."""
    column = column if isinstance(column, list | tuple) else list(column)
    values = {text: convert(text) for text in set(column)}
    return list(map(values.__getitem__, column))


def records_of(record_type: type[NT], columns: Iterable[Iterable[Any]]) -> list[NT]:
    """Records of a named-tuple type from its columns, made in C (no ``__new__`` in Python)."""
    make = partial(tuple.__new__, record_type)
    return list(map(make, zip(*columns, strict=True)))


# The fast path works on pieces of about this many characters (cut at a newline). A piece
# with an odd line is cut in PLAIN_PIECE_SPLIT smaller ones, down to PLAIN_PIECE_MIN_CHARS,
# so a few odd lines send only a few hundred lines around them down the exact path.
PLAIN_PIECE_CHARS = 256 * 1024
PLAIN_PIECE_SPLIT = 8
PLAIN_PIECE_MIN_CHARS = 4 * 1024


def parse_lines(
    raw: bytes,
    limits: Limits,
    parse_line: Callable[[str], R | str],
    plain: PlainLines[R] | None = None,
) -> ParseResult[R]:
    """Run ``parse_line`` on every non-blank line; keep records, count the skip reasons.

    With ``plain``, a piece of the file whose every line matches ``plain.pattern`` is turned
    into records column by column by ``plain.build`` (regular expressions and C loops: several
    times faster for a million lines); any other piece goes line by line through
    ``parse_line``. The result is the same either way (property-tested).
    """
    skipped = SkipCounter()
    records: list[R] = []
    raw, text = _decoded(raw)
    if text is None or plain is None or plain.max_length > limits.max_line_bytes:
        lines = (
            _iter_lines_bytewise(raw, limits.max_line_bytes, skipped)
            if text is None
            else _iter_text_lines(text, limits.max_line_bytes, skipped)
        )
        _parse_each(lines, parse_line, records, skipped)
        return skipped.result(records)
    pending = list(_pieces(text, PLAIN_PIECE_CHARS))
    pending.reverse()
    while pending:  # a stack of pieces, the next one last
        piece = pending.pop()
        rows = plain.pattern.findall(piece)
        built = None
        if len(rows) == piece.count("\n") + (not piece.endswith("\n")):
            built = plain.build(rows) if rows else []
        if built is not None:
            records += built
            continue
        smaller = []
        if len(piece) > PLAIN_PIECE_MIN_CHARS:  # look closer: the odd lines are few
            smaller = list(_pieces(piece, len(piece) // PLAIN_PIECE_SPLIT))
        if len(smaller) > 1:
            pending += reversed(smaller)
        else:
            lines = _iter_text_lines(piece, limits.max_line_bytes, skipped)
            _parse_each(lines, parse_line, records, skipped)
    return skipped.result(records)


def _parse_each(
    lines: Iterable[str],
    parse_line: Callable[[str], R | str],
    records: list[R],
    skipped: SkipCounter,
) -> None:
    append = records.append
    skip = skipped.skip
    for line in lines:
        result = parse_line(line)
        if isinstance(result, str):
            skip(result)
        else:
            append(result)


def _pieces(text: str, size: int) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters, each ending after a newline (but
    the last); whole lines only, so every line is in exactly one piece."""
    start = 0
    while start < len(text):
        cut = text.find("\n", start + size)
        end = len(text) if cut < 0 else cut + 1
        yield text[start:end]
        start = end


def iter_lines(raw: bytes, max_line_bytes: int, skipped: SkipCounter) -> Iterator[str]:
    """The non-blank lines of a file as text; too long and undecodable lines are counted."""
    raw, text = _decoded(raw)
    if text is None:
        return _iter_lines_bytewise(raw, max_line_bytes, skipped)
    return _iter_text_lines(text, max_line_bytes, skipped)


def _decoded(raw: bytes) -> tuple[bytes, str | None]:
    """``raw`` without a leading BOM, and its text (None if it is not valid UTF-8 as a whole)."""
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw, None


def _iter_text_lines(text: str, max_line_bytes: int, skipped: SkipCounter) -> Iterator[str]:
    """The fast path: ``text`` decoded fine, so only blank and too long lines need care."""
    strip_cr = "\r" in text
    # An ASCII line has as many bytes as characters; a UTF-8 character has at most 4 bytes.
    ascii_only = text.isascii()
    surely_short = max_line_bytes if ascii_only else max_line_bytes // 4
    for line in text.split("\n"):
        if strip_cr and line.endswith("\r"):
            line = line[:-1]
        if not line or line.isspace():
            continue
        if len(line) > surely_short and (
            ascii_only or len(line) > max_line_bytes or len(line.encode()) > max_line_bytes
        ):
            skipped.skip(LINE_TOO_LONG)
            continue
        yield line


def _iter_lines_bytewise(raw: bytes, max_line_bytes: int, skipped: SkipCounter) -> Iterator[str]:
    """The slow path for a file with invalid UTF-8 somewhere: decode each line on its own."""
    for chunk in raw.split(b"\n"):
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError:
            skipped.skip(LINE_TOO_LONG if len(chunk) > max_line_bytes else INVALID_UTF8)
            continue
        if not line or line.isspace():
            continue
        if len(chunk) > max_line_bytes:
            skipped.skip(LINE_TOO_LONG)
            continue
        yield line


# Canonical spellings of small numbers, looked up before the general rules run: most fields
# of a real file hit these tables, which hold exactly what the general rules return.
_SMALL_UINTS = {str(value): value for value in range(1024)}
_UNIT_DECIMALS = {
    text: float(text)
    for text in (
        ["0", "1", "1.0", "1.00"]
        + [f"0.{tenths}" for tenths in range(10)]
        + [f"0.{hundredths:02d}" for hundredths in range(100)]
    )
}
_PERCENTS = {text: value for text, value in _SMALL_UINTS.items() if value <= 100}


def parse_uint(text: str) -> int | None:
    """The value of a plain decimal integer (``^[0-9]+$``, ASCII digits only), else None.

    ``str.isdigit`` alone would accept other digits (``٣``, ``²``); ``isascii`` rules them
    out. A number with more digits than ``int()`` converts (4300) is refused as well.
    """
    value = _SMALL_UINTS.get(text)
    if value is not None:
        return value
    if text.isascii() and text.isdigit():
        try:
            return int(text)
        except ValueError:  # beyond sys.int_info.default_max_str_digits
            return None
    return None


def parse_percent(text: str) -> int | None:
    """A plain decimal integer from 0 to 100 (leading zeros allowed), else None."""
    value = _PERCENTS.get(text)
    if value is not None:
        return value
    value = parse_uint(text)
    return None if value is None or value > 100 else value


def parse_unit_decimal(text: str) -> float | None:
    """A decimal between 0 and 1 written ``^[0-9]+(\\.[0-9]+)?$`` (``0.51``, ``1``, ``1.00``).

    The range is checked on the digits, not on the float, so ``1.0000000000000000001``
    (which rounds to 1.0) is refused.
    """
    value = _UNIT_DECIMALS.get(text)
    if value is not None:
        return value
    if not text.isascii():
        return None
    whole, dot, fraction = text.partition(".")
    if not whole.isdigit() or (dot and not fraction.isdigit()):
        return None
    significant = whole.lstrip("0")
    if significant and (significant != "1" or fraction.strip("0")):
        return None
    return float(text)
