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

from collections.abc import Callable, Iterator
from typing import TypeVar

from statusd.sources.base import Limits, ParseResult, SkipCounter

R = TypeVar("R")

BOM = b"\xef\xbb\xbf"

LINE_TOO_LONG = "line_too_long"
INVALID_UTF8 = "invalid_utf8"
FIELD_COUNT = "field_count"


def parse_lines(raw: bytes, limits: Limits, parse_line: Callable[[str], R | str]) -> ParseResult[R]:
    """Run ``parse_line`` on every non-blank line; keep records, count the skip reasons."""
    skipped = SkipCounter()
    records: list[R] = []
    append = records.append
    skip = skipped.skip
    for line in iter_lines(raw, limits.max_line_bytes, skipped):
        result = parse_line(line)
        if isinstance(result, str):
            skip(result)
        else:
            append(result)
    return skipped.result(records)


def iter_lines(raw: bytes, max_line_bytes: int, skipped: SkipCounter) -> Iterator[str]:
    """The non-blank lines of a file as text; too long and undecodable lines are counted."""
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _iter_lines_bytewise(raw, max_line_bytes, skipped)
    return _iter_text_lines(text, max_line_bytes, skipped)


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
