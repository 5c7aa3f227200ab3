"""Billing: the six-bit mask of ``billing.data`` (SPEC §1), read right to left, and its value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources import billing
from statusd.sources.base import Limits, SourceError
from statusd.sources.records import BillingRecord
from tests.sources.source_rules import PROPERTY

FUNCTIONS = ("create_customer", "purchase", "payout", "reccuring", "fraud_control", "checkout_page")


def up(raw: bytes) -> list[str]:
    """The functions a file switches on, by name, through parse and prepare."""
    prepared = billing.prepare_billing(billing.parse_billing(raw, Limits()).records)
    return [name for name in FUNCTIONS if prepared[name]]


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ("010011", ["create_customer", "purchase", "fraud_control"]),  # SPEC's example, 19
        ("000001", ["create_customer"]),  # the rightmost character is bit 0
        ("100000", ["checkout_page"]),  # the leftmost is bit 5
        ("000010", ["purchase"]),
        ("000100", ["payout"]),
        ("001000", ["reccuring"]),
        ("010000", ["fraud_control"]),
        ("000000", []),
        ("111111", list(FUNCTIONS)),
    ],
)
def test_bit_order(mask: str, expected: list[str]) -> None:
    """Bit n of the mask, counted from the right, switches on function n of SPEC §1."""
    assert up(mask.encode()) == expected


def test_prepared_shape() -> None:
    """The value is the six booleans, in SPEC §3's key order with its spelling."""
    prepared = billing.prepare_billing(billing.parse_billing(b"010011", Limits()).records)
    assert prepared == {
        "create_customer": True,
        "purchase": True,
        "payout": False,
        "reccuring": False,
        "fraud_control": True,
        "checkout_page": False,
    }
    assert list(prepared) == list(FUNCTIONS)


@pytest.mark.parametrize(
    "raw",
    [
        b"010011\n",
        b"010011\r\n",
        b"  010011  ",
        b"\n010011\n\n",
        b"\t010011\t\n",
        b"\xef\xbb\xbf010011\n",
    ],
)
def test_accepted_surroundings(raw: bytes) -> None:
    """A trailing newline, surrounding whitespace and a leading BOM are fine."""
    assert up(raw) == ["create_customer", "purchase", "fraud_control"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n",
        b"01001",
        b"0100111",
        b"01001x",
        b"010 011",
        b"010011\n111111\n",
        b"0b0100",
        b"19",
        b"\xff\xff\xff\xff\xff\xff",
        "０１００１１".encode(),  # full-width digits
        "٠١٠٠١١".encode(),  # Arabic-Indic digits
        b"010011\x00",
    ],
)
def test_bad_file_fails_the_source(raw: bytes) -> None:
    """Anything but six 0/1 characters fails the whole source, never a guessed mask."""
    with pytest.raises(SourceError):
        billing.parse_billing(raw, Limits())


def test_parse_billing_mask() -> None:
    """The pure mask reader: a record for a mask, None otherwise."""
    assert billing.parse_billing_mask("000001") == BillingRecord(
        True, False, False, False, False, False
    )
    assert billing.parse_billing_mask("00001") is None
    assert billing.parse_billing_mask("00000２") is None


def test_prepare_needs_one_record() -> None:
    """Billing always has exactly one record; anything else is a programming error."""
    with pytest.raises(ValueError, match="exactly one record"):
        billing.prepare_billing([])


@PROPERTY
@given(st.integers(0, 63))
def test_mask_is_the_number_in_binary(value: int) -> None:
    """For every mask, function n is up exactly when bit n of its number is set."""
    prepared = billing.prepare_billing(
        billing.parse_billing(f"{value:06b}".encode(), Limits()).records
    )
    assert [prepared[name] for name in FUNCTIONS] == [bool(value >> n & 1) for n in range(6)]


@PROPERTY
@given(st.binary(max_size=20))
def test_never_raises_but_source_error(raw: bytes) -> None:
    """Arbitrary bytes give one record or ``SourceError``; a record only for six 0/1."""
    try:
        result = billing.parse_billing(raw, Limits())
    except SourceError:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").strip()
        assert not (len(text) == 6 and set(text) <= {"0", "1"})
        return
    assert len(result.records) == 1
    assert result.skipped == {}
