"""Voice call: every rule and skip reason of ``voice.data`` (SPEC §1) and its preparation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources import voice_call
from statusd.sources.base import Limits
from statusd.sources.records import VoiceRecord
from tests.sources.source_rules import (
    PROPERTY,
    VOICE_COLUMNS,
    expected_file,
    files,
    non_blank_lines,
    voice_rule,
)

GOOD = "RU;55;123;E-Voice;0.51;120;50;4"


def with_field(index: int, value: str) -> str:
    fields = GOOD.split(";")
    fields[index] = value
    return ";".join(fields)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (GOOD, VoiceRecord("RU", "55", "123", "E-Voice", 0.51, 120, 50, 4)),
        (
            " US ; 0 ; 0 ; TransparentCalls ; 1 ; 0 ; 0 ; 0 ",
            VoiceRecord("US", "0", "0", "TransparentCalls", 1.0, 0, 0, 0),
        ),
        (
            "BL;100;0010;JustPhone;1.00;99999;100;007\r",
            VoiceRecord("BL", "100", "0010", "JustPhone", 1.0, 99999, 100, 7),
        ),
        (with_field(4, "0"), VoiceRecord("RU", "55", "123", "E-Voice", 0.0, 120, 50, 4)),
        (with_field(4, "00.5"), VoiceRecord("RU", "55", "123", "E-Voice", 0.5, 120, 50, 4)),
        ("RU;55;123;E-Voice;0.51;120;50", "field_count"),
        (GOOD + ";", "field_count"),
        ("", "field_count"),
        (with_field(0, "ru"), "country"),
        (with_field(0, "XK"), "country"),
        (with_field(1, "101"), "bandwidth"),
        (with_field(1, "-5"), "bandwidth"),
        (with_field(2, "1.5"), "response_time"),
        (with_field(2, ""), "response_time"),
        (with_field(3, "e-voice"), "provider"),
        (with_field(3, "E-Voice2"), "provider"),
        (with_field(3, "Rond"), "provider"),
        (with_field(4, "1.01"), "connection_stability"),
        (with_field(4, "1.0000000000000000001"), "connection_stability"),
        (with_field(4, "2"), "connection_stability"),
        (with_field(4, ".5"), "connection_stability"),
        (with_field(4, "0,5"), "connection_stability"),
        (with_field(4, "-0.5"), "connection_stability"),
        (with_field(4, "5e-1"), "connection_stability"),
        (with_field(4, ""), "connection_stability"),
        (with_field(5, "-1"), "ttfb"),
        (with_field(5, "12.5"), "ttfb"),
        (with_field(6, "101"), "voice_purity"),
        (with_field(6, "٥٠"), "voice_purity"),
        (with_field(7, "1 0"), "median_of_calls_time"),
        (with_field(7, "ten"), "median_of_calls_time"),
        ("ru;555;x;y;z;w;v;u", "country"),  # the first rule broken names the reason
        ("RU;55;123;E-Voice;2;-1;500;x", "connection_stability"),
    ],
)
def test_parse_voice_call_line(line: str, expected: VoiceRecord | str) -> None:
    """A line becomes its record (numbers typed as SPEC §3 shows them) or a skip reason."""
    assert voice_call.parse_voice_call_line(line) == expected


def test_parse_voice_call_file() -> None:
    """Valid lines in file order; blank, broken and invalid lines counted, not fatal."""
    raw = f"{GOOD}\n\n{with_field(4, '1.5')}\r\n{with_field(0, 'DE')}\n\xff\n".encode("latin-1")
    result = voice_call.parse_voice_call(raw, Limits())
    assert [record.country for record in result.records] == ["RU", "DE"]
    assert result.skipped == {"connection_stability": 1, "invalid_utf8": 1}


def test_prepare_voice_call_keeps_source_order_and_codes() -> None:
    """The prepared value is every record in source order, with SPEC §3's keys and types."""
    records = [
        VoiceRecord("US", "1", "2", "JustPhone", 0.9, 10, 60, 3),
        VoiceRecord("AT", "3", "4", "E-Voice", 1.0, 20, 70, 4),
    ]
    prepared = voice_call.prepare_voice_call(records)
    assert prepared == [
        {
            "country": "US",
            "bandwidth": "1",
            "response_time": "2",
            "provider": "JustPhone",
            "connection_stability": 0.9,
            "ttfb": 10,
            "voice_purity": 60,
            "median_of_calls_time": 3,
        },
        {
            "country": "AT",
            "bandwidth": "3",
            "response_time": "4",
            "provider": "E-Voice",
            "connection_stability": 1.0,
            "ttfb": 20,
            "voice_purity": 70,
            "median_of_calls_time": 4,
        },
    ]
    assert list(prepared[0]) == [
        "country",
        "bandwidth",
        "response_time",
        "provider",
        "connection_stability",
        "ttfb",
        "voice_purity",
        "median_of_calls_time",
    ]
    assert voice_call.prepare_voice_call([]) == []


def as_tuple(record: VoiceRecord) -> tuple[object, ...]:
    return (
        record.country,
        record.bandwidth,
        record.response_time,
        record.provider,
        record.connection_stability,
        record.ttfb,
        record.voice_purity,
        record.median_of_calls_time,
    )


@PROPERTY
@given(files(VOICE_COLUMNS), st.sampled_from([50, 90, 4096]))
def test_parse_voice_call_matches_the_rules(raw: bytes, max_line: int) -> None:
    """On plausible files the parser agrees with the oracle, record for record and reason."""
    result = voice_call.parse_voice_call(raw, Limits(max_line_bytes=max_line))
    kept, skipped = expected_file(raw, max_line, voice_rule)
    assert [as_tuple(record) for record in result.records] == kept
    assert result.skipped == skipped
    for record in result.records:  # re-check each kept record against the rules
        assert voice_rule([str(value) for value in as_tuple(record)]) == as_tuple(record)


@PROPERTY
@given(st.binary(max_size=300), st.integers(1, 64))
def test_parse_voice_call_never_raises(raw: bytes, max_line: int) -> None:
    """Arbitrary bytes give a result; kept plus skipped equals the non-blank lines."""
    result = voice_call.parse_voice_call(raw, Limits(max_line_bytes=max_line))
    assert len(result.records) + sum(result.skipped.values()) == non_blank_lines(raw)
