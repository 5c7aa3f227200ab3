"""SMS: every rule and skip reason of ``sms.data`` (SPEC §1) and its preparation (SPEC §2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.countries import country_name
from statusd.sources import sms
from statusd.sources.base import Limits
from statusd.sources.records import SmsRecord
from tests.sources.source_rules import (
    PROPERTY,
    SMS_COLUMNS,
    SMS_PROVIDERS,
    expected_file,
    files,
    non_blank_lines,
    sms_rule,
)

LIMITS = Limits()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("RU;55;123;Rond", SmsRecord("RU", "55", "123", "Rond")),
        ("BL;0;0;Topolo", SmsRecord("BL", "0", "0", "Topolo")),
        (
            "TR;100;99999999999999999999;Kildy",
            SmsRecord("TR", "100", "99999999999999999999", "Kildy"),
        ),
        ("  US ;\t7 ;  12\u00a0; Kildy \u3000", SmsRecord("US", "7", "12", "Kildy")),
        ("GB;007;0010;Rond", SmsRecord("GB", "007", "0010", "Rond")),  # kept as written
        ("RU;55;123", "field_count"),
        ("RU;55;123;Rond;", "field_count"),
        ("RU;55;123;Rond;extra", "field_count"),
        ("RU,55,123,Rond", "field_count"),
        ("ru;55;123;Rond", "country"),
        ("UK;55;123;Rond", "country"),
        ("EU;55;123;Rond", "country"),
        ("RUS;55;123;Rond", "country"),
        (";55;123;Rond", "country"),
        ("R U;55;123;Rond", "country"),
        ("RU;101;123;Rond", "bandwidth"),
        ("RU;-1;123;Rond", "bandwidth"),
        ("RU;+5;123;Rond", "bandwidth"),
        ("RU;5.0;123;Rond", "bandwidth"),
        ("RU;;123;Rond", "bandwidth"),
        ("RU;5 5;123;Rond", "bandwidth"),
        ("RU;٥;123;Rond", "bandwidth"),  # an Arabic-Indic five: isdigit() but not [0-9]
        ("RU;²;123;Rond", "bandwidth"),
        ("RU;55;-1;Rond", "response_time"),
        ("RU;55;1e3;Rond", "response_time"),
        ("RU;55;;Rond", "response_time"),
        ("RU;55;12ms;Rond", "response_time"),
        ("RU;55;１２;Rond", "response_time"),  # full-width digits
        ("RU;55;" + "9" * 4301 + ";Rond", "response_time"),  # more digits than int() converts
        ("RU;55;123;rond", "provider"),
        ("RU;55;123;ROND", "provider"),
        ("RU;55;123;Gmail", "provider"),
        ("RU;55;123;", "provider"),
        ("ru;101;-1;rond", "country"),  # the first broken rule, in field order, names it
        ("RU;101;-1;rond", "bandwidth"),
        ("RU;55;-1;rond", "response_time"),
    ],
)
def test_parse_sms_line(line: str, expected: SmsRecord | str) -> None:
    """A line becomes its record with stripped fields, or the reason of the first rule it breaks."""
    assert sms.parse_sms_line(line) == expected


def test_parse_sms_counts_and_order() -> None:
    """Valid lines are kept in file order; blank lines are ignored; the rest are counted."""
    raw = (
        b"RU;55;123;Rond\r\n"
        b"\n"
        b"   \t\r\n"
        b"\xef\xbb\xbfRU;1;1;Rond\n"  # a BOM after the start is not stripped: bad country
        b"US;1;2;Kildy\n"
        b"xx;1;2;Kildy\n"
        b"RU;1;2\n"
        b"RU;1;2;Kildy\xff\n"
        b"US;2;3;Topolo"
    )
    result = sms.parse_sms(raw, LIMITS)
    assert result.records == (
        SmsRecord("RU", "55", "123", "Rond"),
        SmsRecord("US", "1", "2", "Kildy"),
        SmsRecord("US", "2", "3", "Topolo"),
    )
    assert result.skipped == {"country": 2, "field_count": 1, "invalid_utf8": 1}


def test_parse_sms_empty_file() -> None:
    """An empty file is a good result with no records (it is readable)."""
    assert sms.parse_sms(b"", LIMITS).records == ()
    assert sms.parse_sms(b"\n\n", LIMITS).skipped == {}


def test_line_limit_applies_per_line() -> None:
    """A line over the limit is skipped; a line exactly at the limit is parsed."""
    limits = Limits(max_line_bytes=20)
    at_limit = b"RU;55;123;Rond" + b" " * 6
    over = b"RU;55;123;Rond" + b" " * 7
    result = sms.parse_sms(at_limit + b"\n" + over, limits)
    assert len(result.records) == 1
    assert result.skipped == {"line_too_long": 1}


@pytest.mark.parametrize(
    "country",
    ["RU", "US", "BL", "TR", "DE", "AQ", "SS", "CW", "SX", "BQ"],
)
def test_countries_from_pycountry(country: str) -> None:
    """Any assigned ISO 3166-1 alpha-2 code is a country, not only the simulator's."""
    assert isinstance(sms.parse_sms_line(f"{country};1;1;Rond"), SmsRecord)


def record(country: str, provider: str, bandwidth: str = "1") -> SmsRecord:
    return SmsRecord(country, bandwidth, "10", provider)


def test_prepare_sms_names_and_orders() -> None:
    """Codes become names; one list sorted by (provider, name), one by (name, provider)."""
    records = [
        record("TR", "Rond"),
        record("RU", "Kildy"),
        record("BL", "Topolo"),
        record("RU", "Rond"),
        record("US", "Kildy"),
    ]
    by_provider, by_country = sms.prepare_sms(records)
    assert [(row["provider"], row["country"]) for row in by_provider] == [
        ("Kildy", "Russian Federation"),
        ("Kildy", "United States"),
        ("Rond", "Russian Federation"),
        ("Rond", "Türkiye"),
        ("Topolo", "Saint Barthélemy"),
    ]
    assert [(row["country"], row["provider"]) for row in by_country] == [
        ("Russian Federation", "Kildy"),
        ("Russian Federation", "Rond"),
        ("Saint Barthélemy", "Topolo"),
        ("Türkiye", "Rond"),
        ("United States", "Kildy"),
    ]


def test_prepare_sms_record_shape() -> None:
    """Each row has SPEC §3's keys in order, every value a string as validated."""
    (by_provider, by_country) = sms.prepare_sms([SmsRecord("RU", "007", "0010", "Rond")])
    expected = {
        "country": "Russian Federation",
        "bandwidth": "007",
        "response_time": "0010",
        "provider": "Rond",
    }
    assert by_provider == by_country == [expected]
    assert list(by_provider[0]) == ["country", "bandwidth", "response_time", "provider"]


def test_prepare_sms_full_ties_keep_source_order() -> None:
    """Rows equal on both sort keys stay in source order, in both lists."""
    records = [record("RU", "Rond", str(n)) for n in range(5)] + [record("AT", "Rond", "9")]
    by_provider, by_country = sms.prepare_sms(records)
    assert [row["bandwidth"] for row in by_provider] == ["9", "0", "1", "2", "3", "4"]
    assert [row["bandwidth"] for row in by_country] == ["9", "0", "1", "2", "3", "4"]


def test_prepare_sms_sorts_by_code_point() -> None:
    """Names compare as Python strings: 'Åland Islands' sorts after 'Zimbabwe'."""
    by_provider, by_country = sms.prepare_sms([record("AX", "Rond"), record("ZW", "Rond")])
    assert [row["country"] for row in by_country] == ["Zimbabwe", "Åland Islands"]
    assert [row["country"] for row in by_provider] == ["Zimbabwe", "Åland Islands"]


def test_prepare_sms_empty() -> None:
    """No records: two empty lists."""
    assert sms.prepare_sms([]) == [[], []]


@PROPERTY
@given(st.binary(max_size=300), st.integers(1, 64))
def test_parse_sms_never_raises_on_bytes(raw: bytes, max_line: int) -> None:
    """Arbitrary bytes give a result; kept plus skipped equals the non-blank lines."""
    result = sms.parse_sms(raw, Limits(max_line_bytes=max_line))
    assert len(result.records) + sum(result.skipped.values()) == non_blank_lines(raw)


@PROPERTY
@given(files(SMS_COLUMNS), st.sampled_from([24, 40, 4096]))
def test_parse_sms_matches_the_rules(raw: bytes, max_line: int) -> None:
    """On plausible files the parser agrees with the oracle, record for record and reason."""
    result = sms.parse_sms(raw, Limits(max_line_bytes=max_line))
    kept, skipped = expected_file(raw, max_line, sms_rule)
    assert [tuple(vars_of(r)) for r in result.records] == kept
    assert result.skipped == skipped
    for kept_record in result.records:  # re-check each kept record against the rules
        assert sms_rule(list(vars_of(kept_record))) == tuple(vars_of(kept_record))


def vars_of(r: SmsRecord) -> tuple[str, str, str, str]:
    return (r.country, r.bandwidth, r.response_time, r.provider)


sms_records = st.builds(
    SmsRecord,
    st.sampled_from(["RU", "US", "BL", "TR", "AX", "ZW", "GB"]),
    st.sampled_from(["1", "2"]),
    st.sampled_from(["10", "20"]),
    st.sampled_from(SMS_PROVIDERS),
)


@PROPERTY
@given(st.lists(sms_records, max_size=30))
def test_prepare_sms_is_two_stable_sorts(records: list[SmsRecord]) -> None:
    """Both lists are permutations of the input, equal to Python's stable sorts on the keys."""
    by_provider, by_country = sms.prepare_sms(records)
    shaped = [
        {
            "country": country_name(r.country),
            "bandwidth": r.bandwidth,
            "response_time": r.response_time,
            "provider": r.provider,
        }
        for r in records
    ]
    assert by_provider == sorted(shaped, key=lambda row: (row["provider"], row["country"]))
    assert by_country == sorted(shaped, key=lambda row: (row["country"], row["provider"]))
