"""The shared line machinery of the file sources: lines, blank lines, limits, UTF-8, numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources._lines import (
    iter_lines,
    parse_lines,
    parse_percent,
    parse_uint,
    parse_unit_decimal,
)
from statusd.sources.base import Limits, SkipCounter
from tests.sources.source_rules import PROPERTY, file_lines, is_percent, is_uint, is_unit_decimal


def lines(raw: bytes, max_line_bytes: int = 4096) -> tuple[list[str], dict[str, int]]:
    skipped = SkipCounter()
    found = list(iter_lines(raw, max_line_bytes, skipped))
    return found, dict(skipped.counts)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b"a\nb", ["a", "b"]),
        (b"a\nb\n", ["a", "b"]),
        (b"a\r\nb\r\n", ["a", "b"]),
        (b"a\r\r\n", ["a\r"]),  # only one trailing \r is a line end
        (b"a\rb\n", ["a\rb"]),  # a lone \r does not end a line
        (b"a\x0bb\x0cc\x1cd\xc2\x85e\xe2\x80\xa8f", ["a\x0bb\x0cc\x1cd\x85e\u2028f"]),
        (b"\n\n \n\t\r\n\xc2\xa0\n\xe3\x80\x80\na", ["a"]),  # blank lines of any whitespace
        (b"\xef\xbb\xbfa\n", ["a"]),  # a leading BOM is ignored
        (b"\xef\xbb\xbf\n", []),
        (b"a\n\xef\xbb\xbfb", ["a", "\ufeffb"]),  # only at the very start
        (b" a ;b \n", [" a ;b "]),  # fields are stripped by the source, not here
    ],
)
def test_lines(raw: bytes, expected: list[str]) -> None:
    """Lines end at \\n, lose one trailing \\r; blank lines and a leading BOM disappear."""
    assert lines(raw) == (expected, {})


@pytest.mark.parametrize("broken", [False, True])
@pytest.mark.parametrize(
    ("line", "limit", "too_long"),
    [
        (b"x" * 10, 10, False),
        (b"x" * 11, 10, True),
        (b"x" * 10 + b"\r", 10, False),  # the \r of a CRLF end does not count
        ("é" * 5, 10, False),  # 10 bytes
        ("é" * 5 + "x", 10, True),  # 11 bytes, 6 characters
        ("€" * 3 + "x", 10, False),  # 10 bytes
        ("€" * 3 + "xy", 10, True),
        ("😀" * 3, 12, False),
        ("😀" * 3, 11, True),
        (b" " * 50, 10, None),  # blank: ignored whatever its length
    ],
)
def test_line_limit_in_bytes(
    line: bytes | str, limit: int, too_long: bool | None, broken: bool
) -> None:
    """The limit counts UTF-8 bytes of the line, on both the fast and the byte-wise path."""
    raw = line.encode() if isinstance(line, str) else line
    tail = b"\nbad\xff" if broken else b""  # an invalid line elsewhere forces the slow path
    found, skipped = lines(raw + tail, limit)
    skipped.pop("invalid_utf8", None)
    if too_long is None:
        assert (found, skipped) == ([], {})
    elif too_long:
        assert (found, skipped) == ([], {"line_too_long": 1})
    else:
        assert (found, skipped) == ([raw.decode().removesuffix("\r")], {})


def test_invalid_utf8_skips_only_its_line() -> None:
    """An undecodable line is counted; the lines around it still count."""
    raw = b"one\n\xff\xfe\ntwo\r\n\xc3\n\xed\xa0\x80\n \n" + b"x\xff" * 10 + b"\nthree"
    found, skipped = lines(raw, max_line_bytes=8)
    assert found == ["one", "two", "three"]
    assert skipped == {"invalid_utf8": 3, "line_too_long": 1}  # too long is checked first


def reason_only(line: str) -> int | str:
    """A line parser that skips every line, giving the line itself as the reason."""
    return line


def test_parse_lines_counts_reasons() -> None:
    """The generic loop keeps what the line parser returns and counts the reasons it gives."""
    result = parse_lines(b"a\nbad\nb\nworse\nbad", Limits(), reason_only)
    assert result.records == ()
    assert result.skipped == {"a": 1, "bad": 2, "b": 1, "worse": 1}
    kept = parse_lines(b"1\nx\n2", Limits(), lambda s: int(s) if s.isdigit() else "nan")
    assert kept.records == (1, 2)
    assert kept.skipped == {"nan": 1}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("7", 7),
        ("007", 7),
        ("1023", 1023),
        ("1024", 1024),
        ("18446744073709551616", 2**64),
        ("9" * 4300, int("9" * 4300)),
        ("9" * 4301, None),  # more digits than int() converts
        ("", None),
        (" 1", None),
        ("1 ", None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("1e3", None),
        ("1_000", None),
        ("0x1f", None),
        ("٣", None),  # Arabic-Indic three: str.isdigit() says yes
        ("²", None),  # superscript two: str.isdigit() says yes
        ("１", None),  # full-width one
        ("Ⅻ", None),
    ],
)
def test_parse_uint(text: str, value: int | None) -> None:
    """Only ``^[0-9]+$`` is an integer: ASCII digits, no sign, no spaces, no separators."""
    assert parse_uint(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("100", 100),
        ("0100", 100),
        ("000", 0),
        ("101", None),
        ("1000", None),
        ("-0", None),
    ],
)
def test_parse_percent(text: str, value: int | None) -> None:
    """0 to 100 inclusive, leading zeros allowed."""
    assert parse_percent(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("0.51", 0.51),
        ("1.00", 1.0),
        ("1.000000000", 1.0),
        ("00.5", 0.5),
        ("01", 1.0),
        ("0.000001", 0.000001),
        ("0.99999999999999999999", 0.99999999999999999999),
        ("1.01", None),
        ("1.0000000000000000001", None),  # rounds to 1.0 as a float, but is above 1
        ("2", None),
        ("10", None),
        (".5", None),
        ("5.", None),
        ("0,5", None),
        ("-0.1", None),
        ("+0.1", None),
        ("1e-1", None),
        ("0.5.1", None),
        ("0.٥", None),
        ("nan", None),
        ("", None),
    ],
)
def test_parse_unit_decimal(text: str, value: float | None) -> None:
    """``^[0-9]+(\\.[0-9]+)?$`` between 0 and 1, the range checked exactly on the digits."""
    assert parse_unit_decimal(text) == value


@PROPERTY
@given(st.one_of(st.text(max_size=8), st.integers(0, 10**30).map(str)))
def test_parse_uint_matches_regex(text: str) -> None:
    """``parse_uint`` accepts exactly what the regular expression accepts, with its value."""
    expected = int(text) if is_uint(text) else None
    assert parse_uint(text) == expected
    assert (parse_percent(text) is not None) == is_percent(text)


@PROPERTY
@given(
    st.one_of(
        st.text(alphabet="0123456789.", max_size=8),
        st.text(max_size=5),
        st.decimals(0, 2, places=4).map(str),
    )
)
def test_parse_unit_decimal_matches_decimal(text: str) -> None:
    """Accepts exactly the spelled decimals from 0 to 1; the value is ``float(text)``."""
    value = parse_unit_decimal(text)
    assert (value is not None) == is_unit_decimal(text)
    if value is not None:
        assert value == float(text)


@PROPERTY
@given(st.binary(max_size=200), st.integers(1, 40))
def test_lines_never_raise_and_all_lines_count(raw: bytes, limit: int) -> None:
    """Any bytes: every non-blank line is either yielded or counted, the same as the oracle."""
    found, skipped = lines(raw, limit)
    expected = list(file_lines(raw, limit))
    assert found == [line for line in expected if isinstance(line, str)]
    reasons = [line[0] for line in expected if isinstance(line, tuple)]
    assert skipped == {reason: reasons.count(reason) for reason in set(reasons)}


@PROPERTY
@given(st.lists(st.text(max_size=12), max_size=8), st.integers(1, 40), st.booleans())
def test_lines_of_text_match_oracle(parts: list[str], limit: int, crlf: bool) -> None:
    """Valid UTF-8 text (the fast path) splits exactly like the byte-wise oracle."""
    raw = ("\r\n" if crlf else "\n").join(parts).encode()
    found, skipped = lines(raw, limit)
    expected = list(file_lines(raw, limit))
    assert found == [line for line in expected if isinstance(line, str)]
    assert sum(skipped.values()) == sum(1 for line in expected if isinstance(line, tuple))
