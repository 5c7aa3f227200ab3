"""An independent restatement of SPEC §1 for the source tests: the oracle they compare with.

Written differently from ``statusd.sources`` on purpose (regular expressions, ``Decimal``,
the country list straight from pycountry, a byte-wise line splitter), so a shared mistake is
unlikely. Also the hypothesis strategies that build nearly-valid source files.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pycountry
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""Settings of every property test here: no deadline, no flakiness on a loaded machine."""

UINT = re.compile(r"[0-9]+")
DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)
SMS_PROVIDERS = ("Topolo", "Rond", "Kildy")
VOICE_PROVIDERS = ("TransparentCalls", "E-Voice", "JustPhone")
EMAIL_PROVIDERS = (
    "Gmail",
    "Yahoo",
    "Hotmail",
    "MSN",
    "Orange",
    "Comcast",
    "AOL",
    "Live",
    "RediffMail",
    "GMX",
    "Protonmail",
    "Yandex",
    "Mail.ru",
)
MAX_INT_DIGITS = 4300  # what int() converts by default; longer numbers are refused

# Whitespace that str.strip() removes, beyond the ASCII space.
ODD_SPACES = ("\t", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "\r")


def is_uint(text: str) -> bool:
    """``^[0-9]+$`` and convertible by ``int()``."""
    return UINT.fullmatch(text) is not None and len(text) <= MAX_INT_DIGITS


def is_percent(text: str) -> bool:
    return is_uint(text) and int(text) <= 100


def is_unit_decimal(text: str) -> bool:
    return DECIMAL.fullmatch(text) is not None and Decimal(text) <= 1


def file_lines(raw: bytes, max_line_bytes: int) -> Iterator[str | tuple[str]]:
    """Each non-blank line: its text, or ``(reason,)`` for a line skipped before parsing."""
    if raw[:3] == b"\xef\xbb\xbf":
        raw = raw[3:]
    for chunk in raw.split(b"\n"):
        if chunk[-1:] == b"\r":
            chunk = chunk[:-1]
        try:
            text: str | None = chunk.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and text.strip() == "":
            continue
        if len(chunk) > max_line_bytes:
            yield ("line_too_long",)
        elif text is None:
            yield ("invalid_utf8",)
        else:
            yield text


def expected_file(
    raw: bytes, max_line_bytes: int, line_rule: Callable[[list[str]], Any]
) -> tuple[list[Any], dict[str, int]]:
    """What a file source must return: kept record tuples and the skip counts."""
    kept: list[Any] = []
    skipped: Counter[str] = Counter()
    for line in file_lines(raw, max_line_bytes):
        if isinstance(line, tuple):
            skipped[line[0]] += 1
            continue
        result = line_rule([field.strip() for field in line.split(";")])
        if isinstance(result, str):
            skipped[result] += 1
        else:
            kept.append(result)
    return kept, dict(skipped)


def non_blank_lines(raw: bytes) -> int:
    return sum(1 for _ in file_lines(raw, 1 << 30))


def sms_rule(fields: list[str]) -> tuple[str, ...] | str:
    if len(fields) != 4:
        return "field_count"
    country, bandwidth, response_time, provider = fields
    if country not in COUNTRIES:
        return "country"
    if not is_percent(bandwidth):
        return "bandwidth"
    if not is_uint(response_time):
        return "response_time"
    if provider not in SMS_PROVIDERS:
        return "provider"
    return (country, bandwidth, response_time, provider)


def voice_rule(fields: list[str]) -> tuple[Any, ...] | str:
    if len(fields) != 8:
        return "field_count"
    country, bandwidth, response_time, provider, stability, ttfb, purity, median = fields
    checks = (
        (country in COUNTRIES, "country"),
        (is_percent(bandwidth), "bandwidth"),
        (is_uint(response_time), "response_time"),
        (provider in VOICE_PROVIDERS, "provider"),
        (is_unit_decimal(stability), "connection_stability"),
        (is_uint(ttfb), "ttfb"),
        (is_percent(purity), "voice_purity"),
        (is_uint(median), "median_of_calls_time"),
    )
    for ok, reason in checks:
        if not ok:
            return reason
    return (
        country,
        bandwidth,
        response_time,
        provider,
        float(Decimal(stability)),
        int(ttfb),
        int(purity),
        int(median),
    )


def email_rule(fields: list[str]) -> tuple[Any, ...] | str:
    if len(fields) != 3:
        return "field_count"
    country, provider, delivery_time = fields
    if country not in COUNTRIES:
        return "country"
    if provider not in EMAIL_PROVIDERS:
        return "provider"
    if not is_uint(delivery_time):
        return "delivery_time"
    return (country, provider, int(delivery_time))


# --- strategies -------------------------------------------------------------------------

BAD_COUNTRIES = ("ru", "Ru", "UK", "EU", "XK", "XX", "RUS", "", "R U", "1")
BAD_INTS = ("-1", "+1", "1.0", "1e3", "0x10", "1_000", "", "١٢", "²", "٣", "12a", " 1 2", "Ⅻ")
NUMBERS = [str(n) for n in range(131)] + [
    "00",
    "007",
    "0100",
    "000101",
    "1000",
    "65535",
    "4294967296",
    "9" * 25,
    "9" * 4301,
]
DECIMALS = (
    *("0", "1", "0.0", "1.0", "1.00", "0.51", "00.5", "0.999", "1.000000", "000.0001", "01.0"),
    *("1.01", "2", ".5", "5.", "0,5", "-0.1", "1.0000000000000000001", "0.99999999999999999"),
    *("0.5.1", "1e-1", "0.٥", "10.0"),
)
PADDINGS = ("", "", "", "", " ", "  ", *ODD_SPACES)
PADDING_PAIRS = [(left, right) for left in PADDINGS for right in PADDINGS]

# Per-column pools: mostly valid values, some just outside the rules.
COUNTRY_POOL = ("RU", "US", "GB", "FR", "BL", "AT", "TR", "DE", "NZ", "MC", "AX", "ZW", "ru", "UK")
PERCENT_POOL = (*(str(n) for n in range(0, 101, 7)), "0", "100", "007", "101", "-1", "٣")
UINT_POOL = ("0", "1", "12", "250", "999", "1000", "1024", "65535", "0010", "9" * 25, "1.5", "")
DECIMAL_POOL = ("0", "1", "0.0", "0.51", "0.8", "1.00", "00.5", "0.999", "1.01", ".5", "2")
SMS_COLUMNS = (COUNTRY_POOL, PERCENT_POOL, UINT_POOL, (*SMS_PROVIDERS, "rond"))
VOICE_COLUMNS = (
    COUNTRY_POOL,
    PERCENT_POOL,
    UINT_POOL,
    (*VOICE_PROVIDERS, "e-voice"),
    DECIMAL_POOL,
    UINT_POOL,
    PERCENT_POOL,
    UINT_POOL,
)
EMAIL_COLUMNS = (COUNTRY_POOL, (*EMAIL_PROVIDERS, "gmail", "Mail.Ru"), UINT_POOL)

ANY_VALUE = sorted(
    set(COUNTRIES)
    | set(BAD_COUNTRIES)
    | set(BAD_INTS)
    | set(NUMBERS)
    | set(DECIMALS)
    | set(SMS_PROVIDERS)
    | set(VOICE_PROVIDERS)
    | set(EMAIL_PROVIDERS)
)


@st.composite
def lines_of(draw: st.DrawFn, columns: tuple[tuple[str, ...], ...]) -> str:
    """A line for a source with these columns: plausible values, odd padding, bad counts."""
    mode = draw(st.sampled_from(["plausible", "plausible", "plausible", "mixed", "count"]))
    width = len(columns)
    if mode == "count":
        width = draw(st.sampled_from([0, max(0, width - 1), width + 1]))
    values: list[str] = []
    for index in range(width):
        pool = columns[index % len(columns)]
        if mode == "plausible":
            value = draw(st.sampled_from(pool))
        else:
            value = draw(
                st.one_of(st.sampled_from(pool), st.sampled_from(ANY_VALUE), st.text(max_size=4))
            )
        left, right = draw(st.sampled_from(PADDING_PAIRS))
        values.append(left + value + right)
    return ";".join(values)


@st.composite
def files(draw: st.DrawFn, columns: tuple[tuple[str, ...], ...]) -> bytes:
    """A whole file of plausible lines, blank lines, CRLF ends and a few broken bytes."""
    chunks: list[bytes] = []
    if draw(st.booleans()):
        chunks.append(b"\xef\xbb\xbf")
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["line"] * 6 + ["blank", "invalid", "long", "garbage"]))
        if kind == "line":
            line = draw(lines_of(columns)).encode()
        elif kind == "blank":
            line = draw(st.sampled_from(PADDINGS)).encode()
        elif kind == "invalid":
            line = draw(lines_of(columns)).encode() + draw(
                st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
            )
        elif kind == "long":
            line = draw(lines_of(columns)).encode() + b" " * draw(st.integers(0, 80))
        else:
            line = draw(st.binary(max_size=20))
        end = draw(st.sampled_from([b"\n", b"\r\n", b"\n", b"\r\r\n"]))
        chunks.append(line + end)
    unterminated = draw(st.booleans())
    if chunks and unterminated:
        chunks[-1] = chunks[-1].rstrip(b"\r\n")
    return b"".join(chunks)
