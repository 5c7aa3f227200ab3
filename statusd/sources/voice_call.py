"""Voice call: the file ``voice.data`` (SPEC §1) and its /api value (SPEC §2).

A line has exactly 8 fields, each stripped, checked in this order (the reason of a skipped
line is the first rule it breaks; another number of fields is ``field_count``):

1. ``country``: an assigned ISO 3166-1 alpha-2 code, upper case;
2. ``bandwidth``: a plain decimal integer 0–100 (the current load, %), kept as the string;
3. ``response_time``: a plain decimal integer ≥ 0 (ms), kept as the string;
4. ``provider``: ``TransparentCalls``, ``E-Voice`` or ``JustPhone``, case-sensitive;
5. ``connection_stability``: a decimal 0–1 written ``^[0-9]+(\\.[0-9]+)?$``, stored as float;
6. ``ttfb``: a plain decimal integer ≥ 0 (ms);
7. ``voice_purity``: a plain decimal integer 0–100;
8. ``median_of_calls_time``: a plain decimal integer ≥ 0 (minutes).

/api value: the valid records in source order, the country left as the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from statusd.body.jsonpieces import JsonStrings, json_list_pieces, json_rows_pieces
from statusd.countries import country_codes
from statusd.sources._lines import (
    FIELD_COUNT,
    PlainLines,
    converted,
    parse_lines,
    parse_percent,
    parse_uint,
    parse_unit_decimal,
    records_of,
    shared_columns,
)
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec
from statusd.sources.records import VoiceRecord, record_json

VOICE_PROVIDERS = frozenset({"TransparentCalls", "E-Voice", "JustPhone"})

_COUNTRIES = country_codes()


def parse_voice_call_line(line: str) -> VoiceRecord | str:
    """One line of ``voice.data`` → its record, or the reason it is skipped."""
    fields = line.split(";")
    if len(fields) != 8:
        return FIELD_COUNT
    country, bandwidth, response_time, provider, stability, ttfb, purity, median = fields
    country = country.strip()
    if country not in _COUNTRIES:
        return "country"
    bandwidth = bandwidth.strip()
    if parse_percent(bandwidth) is None:
        return "bandwidth"
    response_time = response_time.strip()
    if parse_uint(response_time) is None:
        return "response_time"
    provider = provider.strip()
    if provider not in VOICE_PROVIDERS:
        return "provider"
    connection_stability = parse_unit_decimal(stability.strip())
    if connection_stability is None:
        return "connection_stability"
    ttfb_ms = parse_uint(ttfb.strip())
    if ttfb_ms is None:
        return "ttfb"
    voice_purity = parse_percent(purity.strip())
    if voice_purity is None:
        return "voice_purity"
    median_minutes = parse_uint(median.strip())
    if median_minutes is None:
        return "median_of_calls_time"
    return VoiceRecord(
        country,
        bandwidth,
        response_time,
        provider,
        connection_stability,
        ttfb_ms,
        voice_purity,
        median_minutes,
    )


def _plain_voice_call(rows: list[tuple[str, ...]]) -> list[VoiceRecord] | None:
    """Records of lines that match ``PLAIN_VOICE_CALL``, or None if a country is not assigned."""
    columns = list(zip(*rows, strict=True))  # transposed once, in C
    if not _COUNTRIES.issuperset(columns[0]):
        return None
    strings = shared_columns(columns[:4])
    stability, ttfb, purity, median = columns[4:]
    numbers = (
        converted(stability, float),
        converted(ttfb, int),
        converted(purity, int),
        converted(median, int),
    )
    return records_of(VoiceRecord, (*strings, *numbers))


PLAIN_VOICE_CALL = PlainLines(
    re.compile(
        r"^([A-Z]{2});(100|[1-9]?[0-9]);([0-9]{1,9});(TransparentCalls|E-Voice|JustPhone);"
        r"(0(?:\.[0-9]{1,2})?|1(?:\.00?)?);([0-9]{1,9});(100|[1-9]?[0-9]);([0-9]{1,9})$",
        re.MULTILINE,
    ),
    _plain_voice_call,
    max_length=2 + 1 + 3 + 1 + 9 + 1 + len("TransparentCalls") + 1 + 4 + 1 + 9 + 1 + 3 + 1 + 9,
)
"""The plain form of a voice line (``RU;68;226;E-Voice;0.91;267;56;31``): whole numbers
without leading zeros, a stability of at most two decimals."""


def parse_voice_call(raw: bytes, limits: Limits) -> ParseResult[VoiceRecord]:
    """Every line of ``voice.data``: the valid records in file order, the rest counted."""
    return parse_lines(raw, limits, parse_voice_call_line, PLAIN_VOICE_CALL)


def prepare_voice_call(records: Sequence[VoiceRecord]) -> JsonValue:
    """The /api value of voice calls: every valid record, in source order."""
    return [record_json(record) for record in records]


def encode_voice_call(records: Sequence[VoiceRecord]) -> Iterator[bytes]:
    """``encode_json(prepare_voice_call(records))`` in pieces, written directly: strings
    through ``JsonStrings``, the float as ``repr`` and the integers as ``str`` (what
    ``json.dumps`` writes for them), each distinct number formatted once. Property-tested
    against the slow path."""
    quoted = JsonStrings()
    # Two tables: 1 and 1.0 are equal keys, but their JSON differs. (0.0 and -0.0 would be
    # too, but a validated stability has no sign.)
    floats = NumberTexts(repr)
    ints = NumberTexts(str)
    rows = (
        f'{{"country":{quoted[country]},"bandwidth":{quoted[bandwidth]},'
        f'"response_time":{quoted[response_time]},"provider":{quoted[provider]},'
        f'"connection_stability":{floats[stability]},"ttfb":{ints[ttfb]},'
        f'"voice_purity":{ints[purity]},"median_of_calls_time":{ints[median]}}}'
        for country, bandwidth, response_time, provider, stability, ttfb, purity, median in records
    )
    return json_list_pieces([json_rows_pieces(rows)])


class NumberTexts(dict[float, str]):
    """The JSON text of numbers of one type, each formatted once by ``write``."""

    def __init__(self, write: Callable[[float], str]) -> None:
        super().__init__()
        self._write = write

    def __missing__(self, number: float) -> str:
        text = self[number] = self._write(number)
        return text


SPEC: SourceSpec[VoiceRecord] = SourceSpec(
    name="voice_call",
    kind="file",
    location="voice.data",
    record_type=VoiceRecord,
    parse=parse_voice_call,
    prepare=prepare_voice_call,
    encode_prepared=encode_voice_call,
)
