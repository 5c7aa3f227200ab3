"""The fast paths of the big file sources give exactly what the line-by-line rules give.

``parse_lines`` with a ``PlainLines`` shape turns pieces whose every line is in the plain
form into records column by column; every other line goes through the source's line
parser. The properties compare both against the line parser alone, on files mixing plain
lines, valid lines in other spellings (spaces, leading zeros) and broken ones, cut into
small pieces so that the splitting of pieces with odd lines is exercised too. The fast
encoders are compared byte for byte with ``encode_json(prepare(records))``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statusd.body.jsonpieces import encode_json
from statusd.sources import _lines, email, mms, sms, voice_call
from statusd.sources._lines import parse_lines
from statusd.sources.base import Limits
from statusd.sources.records import EmailRecord, MmsRecord, SmsRecord, VoiceRecord

LIMITS = Limits()


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a few lines, so that every example cuts and re-cuts pieces."""
    monkeypatch.setattr(_lines, "PLAIN_PIECE_CHARS", 64)
    monkeypatch.setattr(_lines, "PLAIN_PIECE_MIN_CHARS", 16)
    monkeypatch.setattr(_lines, "PLAIN_PIECE_SPLIT", 2)


def number(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def odd(field: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A field in a spelling the plain form does not cover, or broken."""
    return st.one_of(
        field.map(lambda text: f" {text}\t"),
        field.map(lambda text: "00" + text),
        st.sampled_from(["", "-1", "1e3", "٣", "101", "ru", "XX", "0.999", "1.5", "Topolo "]),
        st.text(alphabet="0123456789 .;\r", max_size=6),
    )


def lines_of(fields: list[st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    plain = st.tuples(*fields).map(";".join)
    spelled = st.tuples(*(st.one_of(field, odd(field)) for field in fields)).map(";".join)
    other = st.sampled_from(["", "   ", "a;b", ";;;;;;;;", "RU;65;758;Topolo\r", "\ufeffRU"])
    return st.one_of(plain, plain, plain, spelled, other)


COUNTRY = st.sampled_from(["RU", "DE", "US", "TR", "XK", "ZZ", "BL"])  # ZZ, XK: unassigned
PERCENT = number(0, 100)
UINT = number(0, 10**10)
SMS_LINE = lines_of([COUNTRY, PERCENT, UINT, st.sampled_from(["Topolo", "Rond", "Kildy", "x"])])
VOICE_LINE = lines_of(
    [
        COUNTRY,
        PERCENT,
        UINT,
        st.sampled_from(["TransparentCalls", "E-Voice", "JustPhone", "Voice"]),
        st.sampled_from(["0", "1", "0.5", "0.50", "0.05", "1.0", "1.00", "0.999", "1.01"]),
        UINT,
        PERCENT,
        UINT,
    ]
)
EMAIL_LINE = lines_of([COUNTRY, st.sampled_from([*sorted(email.EMAIL_PROVIDERS), "Mailru"]), UINT])


def files(line: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    return st.tuples(st.lists(line, max_size=40), st.sampled_from(["", "\n", "\r\n"])).map(
        lambda parts: ("\n".join(parts[0]) + parts[1]).encode()
    )


CASES: list[tuple[str, Any, Callable[[str], Any], st.SearchStrategy[str]]] = [
    ("sms", sms.PLAIN_SMS, sms.parse_sms_line, SMS_LINE),
    ("voice_call", voice_call.PLAIN_VOICE_CALL, voice_call.parse_voice_call_line, VOICE_LINE),
    ("email", email.PLAIN_EMAIL, email.parse_email_line, EMAIL_LINE),
]


@pytest.mark.parametrize(("name", "plain", "parse_line", "line"), CASES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_plain_path_equals_the_line_rules(
    name: str, plain: Any, parse_line: Callable[[str], Any], line: st.SearchStrategy[str], data: Any
) -> None:
    raw = data.draw(files(line))
    fast = parse_lines(raw, LIMITS, parse_line, plain)
    exact = parse_lines(raw, LIMITS, parse_line)
    assert fast == exact
    assert [type(record) for record in fast.records] == [type(r) for r in exact.records]


def test_plain_lines_are_shared_strings_and_numbers() -> None:
    raw = b"RU;65;758;TransparentCalls;0.91;267;56;31\n" * 3
    records = voice_call.parse_voice_call(raw, LIMITS).records
    assert len(records) == 3
    assert records[0] == VoiceRecord("RU", "65", "758", "TransparentCalls", 0.91, 267, 56, 31)
    assert records[0].country is records[2].country
    assert records[0].ttfb is records[1].ttfb  # 267 is not one of CPython's cached ints


def test_plain_path_is_off_when_lines_may_be_longer_than_the_limit() -> None:
    """A max_line_bytes below the plain form's longest line: every line takes the exact
    path, which counts the too-long ones."""
    raw = b"RU;65;758;Topolo\n"
    result = sms.parse_sms(raw, Limits(max_line_bytes=10))
    assert result.records == ()
    assert result.skipped == {"line_too_long": 1}


NAMES = st.text(max_size=8)  # any string: the fast encoders must escape as json.dumps does
SMS_RECORDS = st.lists(
    st.builds(
        SmsRecord,
        COUNTRY.filter(lambda c: c not in ("ZZ", "XK")),
        NAMES,
        NAMES,
        st.sampled_from(["Topolo", "Rond", 'a"b']),
    )
)
MMS_RECORDS = st.lists(
    st.builds(
        MmsRecord,
        COUNTRY.filter(lambda c: c not in ("ZZ", "XK")),
        st.sampled_from(["Topolo", "Rond", "\\"]),
        NAMES,
        NAMES,
    )
)
VOICE_RECORDS = st.lists(
    st.builds(
        VoiceRecord,
        NAMES,
        NAMES,
        NAMES,
        NAMES,
        st.floats(0, 1),
        st.integers(0, 2**70),
        st.integers(0, 100),
        st.integers(0, 2**70),
    )
)


@settings(max_examples=300, deadline=None)
@given(SMS_RECORDS)
def test_sms_encoder_writes_the_prepared_value(records: list[SmsRecord]) -> None:
    assert b"".join(sms.encode_provider_lists(records)) == encode_json(sms.prepare_sms(records))


@settings(max_examples=300, deadline=None)
@given(MMS_RECORDS)
def test_mms_encoder_writes_the_prepared_value(records: list[MmsRecord]) -> None:
    assert b"".join(mms.SPEC.prepared_json(records)) == encode_json(mms.prepare_mms(records))


@settings(max_examples=300, deadline=None)
@given(VOICE_RECORDS)
def test_voice_encoder_writes_the_prepared_value(records: list[VoiceRecord]) -> None:
    assert b"".join(voice_call.encode_voice_call(records)) == encode_json(
        voice_call.prepare_voice_call(records)
    )


def test_email_has_no_fast_encoder_and_keeps_the_prepared_value() -> None:
    records = [EmailRecord("RU", "Gmail", 5)]
    assert b"".join(email.SPEC.prepared_json(records)) == encode_json(email.prepare_email(records))
