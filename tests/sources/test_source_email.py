"""Email: every rule and skip reason of ``email.data`` (SPEC §1) and its preparation (SPEC §2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources import email
from statusd.sources.base import Limits
from statusd.sources.records import EmailRecord, record_json
from tests.sources.source_rules import (
    EMAIL_COLUMNS,
    EMAIL_PROVIDERS,
    PROPERTY,
    email_rule,
    expected_file,
    files,
    non_blank_lines,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("RU;Gmail;123", EmailRecord("RU", "Gmail", 123)),
        (" US\t; Mail.ru ;0\u00a0", EmailRecord("US", "Mail.ru", 0)),
        ("BL;RediffMail;007", EmailRecord("BL", "RediffMail", 7)),
        ("TR;Protonmail;" + "9" * 30, EmailRecord("TR", "Protonmail", int("9" * 30))),
        ("RU;Gmail", "field_count"),
        ("RU;Gmail;1;2", "field_count"),
        ("RU Gmail 1", "field_count"),
        ("ru;Gmail;1", "country"),
        ("GBR;Gmail;1", "country"),
        (";Gmail;1", "country"),
        ("RU;gmail;1", "provider"),
        ("RU;Mail.Ru;1", "provider"),
        ("RU;Rond;1", "provider"),
        ("RU;;1", "provider"),
        ("RU;Gmail;-1", "delivery_time"),
        ("RU;Gmail;1.5", "delivery_time"),
        ("RU;Gmail;", "delivery_time"),
        ("RU;Gmail;1ms", "delivery_time"),
        ("RU;Gmail;３", "delivery_time"),
        ("ru;gmail;x", "country"),
        ("RU;gmail;x", "provider"),
    ],
)
def test_parse_email_line(line: str, expected: EmailRecord | str) -> None:
    """A line becomes its record or the reason of the first rule it breaks."""
    assert email.parse_email_line(line) == expected


@pytest.mark.parametrize("provider", EMAIL_PROVIDERS)
def test_every_email_provider(provider: str) -> None:
    """The thirteen providers of SPEC §1 are accepted, spelled exactly."""
    assert email.parse_email_line(f"RU;{provider};1") == EmailRecord("RU", provider, 1)
    assert email.parse_email_line(f"RU;{provider.upper()}x;1") == "provider"


def test_parse_email_file() -> None:
    """Valid lines kept in order; the rest counted."""
    raw = b"RU;Gmail;1\r\n\r\nRU;AOL;x\nUS;AOL;2\nRU;AOL\n"
    result = email.parse_email(raw, Limits())
    assert result.records == (EmailRecord("RU", "Gmail", 1), EmailRecord("US", "AOL", 2))
    assert result.skipped == {"delivery_time": 1, "field_count": 1}


def rec(country: str, provider: str, delivery_time: int) -> EmailRecord:
    return EmailRecord(country, provider, delivery_time)


def shaped(*records: EmailRecord) -> list[dict[str, object]]:
    return [record_json(record) for record in records]


def test_prepare_email_fewer_than_three_rows() -> None:
    """A country with one or two rows has the same ascending list twice."""
    a, b = rec("RU", "Yahoo", 20), rec("RU", "AOL", 10)
    assert email.prepare_email([a, b]) == {"RU": [shaped(b, a), shaped(b, a)]}
    assert email.prepare_email([a]) == {"RU": [shaped(a), shaped(a)]}


def test_prepare_email_exactly_three_rows() -> None:
    """Three rows: fastest and slowest are the same three."""
    rows = [rec("US", "Gmail", 30), rec("US", "AOL", 10), rec("US", "GMX", 20)]
    expected = shaped(rows[1], rows[2], rows[0])
    assert email.prepare_email(rows) == {"US": [expected, expected]}


def test_prepare_email_many_rows() -> None:
    """Many rows: the first three and the last three of the (delivery_time, provider) order."""
    rows = [
        rec("RU", provider, time)
        for provider, time in zip(EMAIL_PROVIDERS, range(130, 0, -10), strict=True)
    ]
    ordered = sorted(rows, key=lambda r: r.delivery_time)
    assert email.prepare_email(rows) == {"RU": [shaped(*ordered[:3]), shaped(*ordered[-3:])]}


def test_prepare_email_provider_breaks_ties() -> None:
    """Equal delivery times order by provider name (code points: upper case first)."""
    rows = [rec("RU", "Yahoo", 5), rec("RU", "AOL", 5), rec("RU", "Gmail", 5), rec("RU", "MSN", 1)]
    fastest, slowest = email.prepare_email(rows)["RU"]
    assert [row["provider"] for row in fastest] == ["MSN", "AOL", "Gmail"]
    assert [row["provider"] for row in slowest] == ["AOL", "Gmail", "Yahoo"]


@pytest.mark.parametrize("count", [4, 5, 6, 7, 8, 20])
def test_prepare_email_full_ties_keep_source_order(count: int) -> None:
    """Of rows equal on both keys, the first three in source order are fastest, the last slowest."""
    ties = [rec("RU", "AOL", 5) for _ in range(count)]  # equal, but distinct objects
    fastest, slowest = email.fastest_and_slowest([rec("RU", "AOL", 9), *ties, rec("RU", "AOL", 1)])
    assert [id(r) for r in fastest[1:]] == [id(r) for r in ties[:2]]
    assert [id(r) for r in slowest[:2]] == [id(r) for r in ties[-2:]]
    assert (fastest[0].delivery_time, slowest[-1].delivery_time) == (1, 9)


def test_prepare_email_keys_sorted_by_code() -> None:
    """The object's keys are the country codes in ascending order, whatever the file order."""
    rows = [rec("US", "AOL", 1), rec("AT", "AOL", 1), rec("RU", "AOL", 1), rec("BL", "AOL", 1)]
    prepared = email.prepare_email(rows)
    assert list(prepared) == ["AT", "BL", "RU", "US"]
    assert prepared["RU"][0] == [{"country": "RU", "provider": "AOL", "delivery_time": 1}]
    assert email.prepare_email([]) == {}


@PROPERTY
@given(files(EMAIL_COLUMNS), st.sampled_from([20, 4096]))
def test_parse_email_matches_the_rules(raw: bytes, max_line: int) -> None:
    """On plausible files the parser agrees with the oracle, record for record and reason."""
    result = email.parse_email(raw, Limits(max_line_bytes=max_line))
    kept, skipped = expected_file(raw, max_line, email_rule)
    assert [(r.country, r.provider, r.delivery_time) for r in result.records] == kept
    assert result.skipped == skipped
    for r in result.records:  # re-check each kept record against the rules
        assert email_rule([r.country, r.provider, str(r.delivery_time)]) == (
            r.country,
            r.provider,
            r.delivery_time,
        )


@PROPERTY
@given(st.binary(max_size=300), st.integers(1, 64))
def test_parse_email_never_raises(raw: bytes, max_line: int) -> None:
    """Arbitrary bytes give a result; kept plus skipped equals the non-blank lines."""
    result = email.parse_email(raw, Limits(max_line_bytes=max_line))
    assert len(result.records) + sum(result.skipped.values()) == non_blank_lines(raw)


email_records = st.builds(
    EmailRecord,
    st.sampled_from(["RU", "US", "AT"]),
    st.sampled_from(["AOL", "Gmail", "Yahoo", "MSN"]),
    st.integers(0, 6),
)


@PROPERTY
@given(st.lists(email_records, max_size=40))
def test_prepare_email_matches_full_sort(records: list[EmailRecord]) -> None:
    """Per country, exactly the ends of a full stable sort by (delivery_time, provider)."""
    prepared = email.prepare_email(records)
    assert list(prepared) == sorted({r.country for r in records})
    for code, (fastest, slowest) in prepared.items():
        ordered = sorted(
            (r for r in records if r.country == code), key=lambda r: (r.delivery_time, r.provider)
        )
        assert fastest == shaped(*ordered[:3])
        assert slowest == shaped(*ordered[-3:])


@PROPERTY
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["AOL", "MSN"])), max_size=30))
def test_fastest_and_slowest_keep_identity_of_ties(keys: list[tuple[int, str]]) -> None:
    """Which of several equal rows are shown is decided by source order, as a stable sort does."""
    rows = [EmailRecord("RU", provider, time) for time, provider in keys]
    fastest, slowest = email.fastest_and_slowest(rows)
    ordered = sorted(range(len(rows)), key=lambda i: (rows[i].delivery_time, rows[i].provider))
    assert [id(r) for r in fastest] == [id(rows[i]) for i in ordered[:3]]
    assert [id(r) for r in slowest] == [id(rows[i]) for i in ordered[-3:]]
