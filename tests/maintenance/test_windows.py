"""The maintenance file's format, its validation, and the scope and time logic of windows."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.maintenance.render import render_file
from statusd.maintenance.windows import (
    COMPLETED,
    IN_PROGRESS,
    SCHEDULED,
    MaintenanceFileError,
    MaintenanceWindow,
    active_windows,
    cells_in_scope,
    next_transition,
    parse_maintenance_toml,
    under_maintenance,
    upcoming_windows,
    window_covers,
)
from tests.maintenance.strategies import CELLS, T0, window_sets, windows

GOOD = """
# planned work
[[maintenance]]
id = "sms-de"
title = "SMS to Germany: carrier upgrade"
body = \"\"\"Messages may be delayed.
Nothing is lost.\"\"\"
start = 2026-03-01T02:00:00+01:00
end = "2026-03-01T04:00:00+01:00"
products = ["sms", "billing"]
countries = ["DE"]
functions = ["payout"]

[[maintenance]]
id = "all.2026"
title = "Everything"
start = "2026-03-02T00:00:00Z"
end = 2026-03-02T01:30:00.5-05:30
products = []
countries = []
"""


def window(text: str) -> str:
    """A file of one window whose keys are ``text`` (TOML lines)."""
    return f"[[maintenance]]\n{text}\n"


BASE = {
    "id": '"w1"',
    "title": '"Planned work"',
    "start": "2026-03-01T02:00:00+01:00",
    "end": "2026-03-01T04:00:00+01:00",
    "products": '["sms"]',
    "countries": '["DE"]',
}


def with_keys(**changes: str | None) -> str:
    """The base window with keys replaced (a value None removes the key)."""
    keys = {**BASE, **changes}
    return window("\n".join(f"{k} = {v}" for k, v in keys.items() if v is not None))


BAD_FILES: list[tuple[str, str, list[str]]] = [
    ("not TOML", "[[maintenance]\nid = 1", ["not valid TOML"]),
    ("unknown top-level key", "maintnance = 1\n", ["unknown top-level key 'maintnance'"]),
    ("table, not array", '[maintenance]\nid = "x"\n', ["array of tables"]),
    (
        "unknown window key",
        with_keys(contries='["DE"]'),
        ["window 1 (w1)", "unknown key 'contries'"],
    ),
    ("missing id", with_keys(id=None), ["window 1:", "missing key 'id'"]),
    ("missing title", with_keys(title=None), ["window 1 (w1)", "missing key 'title'"]),
    ("missing start", with_keys(start=None), ["missing key 'start'"]),
    ("missing end", with_keys(end=None), ["missing key 'end'"]),
    ("missing products", with_keys(products=None), ["missing key 'products'"]),
    ("missing countries", with_keys(countries=None), ["missing key 'countries'"]),
    ("id not a string", with_keys(id="7"), ["window 1:", "key 'id'", "must be a string"]),
    ("id not safe", with_keys(id='"../etc"'), ["key 'id'", "not a safe id"]),
    ("id upper case", with_keys(id='"SMS"'), ["key 'id'", "not a safe id"]),
    ("id too long", with_keys(id='"' + "a" * 65 + '"'), ["key 'id'", "not a safe id"]),
    ("empty title", with_keys(title='"  "'), ["key 'title'", "must not be empty"]),
    ("title control", with_keys(title='"a\\u0007b"'), ["key 'title'", "U+0007"]),
    ("title newline", with_keys(title='"a\\nb"'), ["key 'title'", "U+000A"]),
    ("title too long", with_keys(title='"' + "t" * 201 + '"'), ["key 'title'", "longer than 200"]),
    ("body not string", with_keys(body="[1]"), ["key 'body'", "must be a string, not an array"]),
    ("start local time", with_keys(start="2026-03-01T02:00:00"), ["key 'start'", "no UTC offset"]),
    ("start date only", with_keys(start="2026-03-01"), ["key 'start'", "not date"]),
    (
        "start string no offset",
        with_keys(start='"2026-03-01T02:00:00"'),
        ["key 'start'", "RFC 3339"],
    ),
    ("start ISO week", with_keys(start='"2026-W09-7T02:00:00Z"'), ["key 'start'", "RFC 3339"]),
    ("start bad day", with_keys(start='"2026-02-30T02:00:00Z"'), ["key 'start'", "not a valid"]),
    ("start integer", with_keys(start="1772326800"), ["key 'start'", "not int"]),
    ("end out of range", with_keys(end="9999-12-31T23:00:00-02:00"), ["key 'end'", "out of range"]),
    (
        "end before start",
        with_keys(end="2026-03-01T01:00:00+01:00"),
        ["key 'end'", "not after start"],
    ),
    ("end equals start", with_keys(end='"2026-03-01T01:00:00Z"'), ["key 'end'", "not after start"]),
    ("unknown product", with_keys(products='["sms", "fax"]'), ["key 'products'", "'fax'"]),
    ("incidents no cell", with_keys(products='["incidents"]'), ["key 'products'", "'incidents'"]),
    ("products not list", with_keys(products='"sms"'), ["key 'products'", "list of strings"]),
    ("products number", with_keys(products="[1]"), ["key 'products'", "list of strings"]),
    ("duplicate product", with_keys(products='["sms", "sms"]'), ["'sms' is listed twice"]),
    ("unknown country", with_keys(countries='["XX"]'), ["key 'countries'", "'XX'"]),
    ("lower-case country", with_keys(countries='["de"]'), ["key 'countries'", "upper-case"]),
    (
        "unknown function",
        with_keys(products='["billing"]', countries="[]", functions='["refund"]'),
        ["key 'functions'", "'refund'"],
    ),
    ("function, no billing", with_keys(functions='["payout"]'), ["key 'functions'", "leaves out"]),
    (
        "country, no country product",
        with_keys(products='["support"]'),
        ["key 'countries'", "billing and support have none"],
    ),
    (
        "second window bad",
        GOOD + with_keys(id='"w2"', end="2026-03-01T00:00:00Z"),
        ["window 3 (w2)", "key 'end'"],
    ),
    (
        "duplicate id",
        GOOD + with_keys(id='"sms-de"'),
        ["window 3 (sms-de)", "already the id of window 1"],
    ),
    ("window not a table", "maintenance = [1]\n", ["window 1: must be a table"]),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BAD_FILES], ids=[name for name, _, _ in BAD_FILES]
)
def test_bad_files_are_refused_naming_window_and_key(text: str, expected: list[str]) -> None:
    """Each bad file raises one MaintenanceFileError whose message names where and why."""
    with pytest.raises(MaintenanceFileError) as caught:
        parse_maintenance_toml(text)
    for part in expected:
        assert part in str(caught.value)


def test_good_file_parses_in_file_order() -> None:
    """Both forms of date-time, multi-line bodies and empty lists (= all) are read."""
    first, second = parse_maintenance_toml(GOOD)
    assert first.id == "sms-de"
    assert first.body == "Messages may be delayed.\nNothing is lost."
    assert first.start == datetime(2026, 3, 1, 1, tzinfo=UTC)
    assert first.start.utcoffset() == timedelta(hours=1)  # the written offset is kept
    assert first.end_at - first.start_at == 7200
    assert (first.products, first.countries, first.functions) == (
        ("sms", "billing"),
        ("DE",),
        ("payout",),
    )
    assert second.end == datetime(2026, 3, 2, 7, 0, 0, 500000, tzinfo=UTC)
    assert (second.products, second.countries, second.functions) == ((), (), ())


def test_empty_file_has_no_windows() -> None:
    assert parse_maintenance_toml("# nothing planned\n") == ()


@given(window_sets())
def test_rendered_file_parses_back_to_the_same_windows(ws: tuple[MaintenanceWindow, ...]) -> None:
    """Any valid windows survive the canonical writer and the validating reader unchanged."""
    assert parse_maintenance_toml(render_file(ws)) == ws


@given(st.text(max_size=200))
def test_any_text_is_windows_or_one_file_error(text: str) -> None:
    """The validator never fails with anything but MaintenanceFileError."""
    with contextlib.suppress(MaintenanceFileError):
        parse_maintenance_toml(text)


@given(
    st.dictionaries(
        st.sampled_from(
            ["id", "title", "start", "end", "products", "countries", "functions", "body", "extra"]
        ),
        st.none()
        | st.integers()
        | st.text(max_size=8)
        | st.lists(st.text(max_size=3))
        | st.datetimes(timezones=st.none() | st.just(UTC)),
        max_size=9,
    )
)
def test_any_window_table_is_a_window_or_an_error_naming_it(table: dict[str, object]) -> None:
    """Random window tables give a window or an error that names window 1 and, if it is about a
    key, that key."""
    from statusd.maintenance.windows import parse_window

    try:
        parse_window({k: v for k, v in table.items() if v is not None}, 1)
    except MaintenanceFileError as error:
        message = str(error)
    else:
        return
    assert message.startswith("window 1")


# --- scope and time ---------------------------------------------------------------------------


def brute_covers(w: MaintenanceWindow, cell: str, at: float) -> bool:
    """The scope rules of SPEC §8/§9 restated directly."""
    product, key = cell.split(":")
    if not w.start_at <= at < w.end_at:
        return False
    if w.products and product not in w.products:
        return False
    if product in {"sms", "mms", "voice", "email"}:
        return not w.countries or key in w.countries
    if product == "billing":
        return not w.functions or key in w.functions
    return product == "support"


at_instants = st.integers(-3600, 40 * 600 + 7200).map(lambda s: float(T0 + s))


@given(window_sets(), at_instants)
def test_under_maintenance_is_the_brute_force_set(
    ws: tuple[MaintenanceWindow, ...], at: float
) -> None:
    expected = {cell for cell in CELLS if any(brute_covers(w, cell, at) for w in ws)}
    assert under_maintenance(ws, at, CELLS) == expected
    for w in ws:
        for cell in CELLS:
            assert window_covers(w, cell, at) == brute_covers(w, cell, at)


@given(window_sets(), at_instants)
def test_active_and_upcoming_partition_the_unfinished_windows(
    ws: tuple[MaintenanceWindow, ...], at: float
) -> None:
    active = active_windows(ws, at)
    upcoming = upcoming_windows(ws, at)
    assert {w.id for w in active} == {w.id for w in ws if w.start_at <= at < w.end_at}
    assert {w.id for w in upcoming} == {w.id for w in ws if at < w.start_at}
    assert [w.start_at for w in upcoming] == sorted(w.start_at for w in upcoming)
    assert all(w.status_at(at) == IN_PROGRESS for w in active)
    assert all(w.status_at(at) == SCHEDULED for w in upcoming)


@given(window_sets(), at_instants, st.floats(0, 1))
def test_nothing_changes_before_the_next_transition(
    ws: tuple[MaintenanceWindow, ...], at: float, fraction: float
) -> None:
    """Between ``at`` and the next transition, the set and every status stay as at ``at``;
    at the transition something does change (a status at least)."""
    following = next_transition(ws, at)
    if following is None:
        assert all(w.status_at(at) == COMPLETED for w in ws)
        return
    assert following > at
    between = at + (following - at) * fraction
    if between < following:
        assert under_maintenance(ws, between, CELLS) == under_maintenance(ws, at, CELLS)
        assert [w.status_at(between) for w in ws] == [w.status_at(at) for w in ws]
    assert [w.status_at(following) for w in ws] != [w.status_at(at) for w in ws]


def make(**overrides: object) -> MaintenanceWindow:
    start = datetime(2026, 3, 1, 2, tzinfo=timezone(timedelta(hours=1)))
    fields: dict[str, object] = {
        "id": "w",
        "title": "t",
        "start": start,
        "end": start + timedelta(hours=2),
    }
    fields.update(overrides)
    return MaintenanceWindow(**fields)  # type: ignore[arg-type]


def test_window_is_half_open() -> None:
    """At start the cells are under maintenance, at end they are not any more."""
    w = make(products=("sms",), countries=("DE",))
    assert w.status_at(w.start_at - 1) == SCHEDULED
    assert w.status_at(w.start_at) == IN_PROGRESS
    assert w.status_at(w.end_at) == COMPLETED
    assert under_maintenance([w], w.start_at, ["sms:DE"]) == {"sms:DE"}
    assert under_maintenance([w], w.end_at, ["sms:DE"]) == frozenset()


def test_overlapping_windows_union_and_every_boundary_is_a_transition() -> None:
    """Two overlapping windows: the union is under maintenance; the inner boundaries are
    transitions too (statuses change there even when the set does not)."""
    outer = make(id="outer", products=("sms",))
    inner = make(
        id="inner",
        start=outer.start + timedelta(minutes=30),
        end=outer.end - timedelta(minutes=30),
        products=("sms", "billing"),
        countries=("DE",),
        functions=("payout",),
    )
    cells = ["sms:DE", "sms:FR", "billing:payout", "billing:purchase", "support:support"]
    mid = inner.start_at + 1
    assert under_maintenance([outer, inner], mid, cells) == {"sms:DE", "sms:FR", "billing:payout"}
    assert next_transition([outer, inner], outer.start_at) == inner.start_at
    assert next_transition([outer, inner], mid) == inner.end_at
    assert next_transition([outer, inner], inner.end_at) == outer.end_at
    assert next_transition([outer, inner], outer.end_at) is None


def test_cell_with_no_data_and_past_windows() -> None:
    """A window covering a cell the page does not have marks nothing; a window in the past
    marks nothing now."""
    w = make(products=("voice",), countries=("JP",))
    assert under_maintenance([w], w.start_at, ["sms:JP", "voice:DE"]) == frozenset()
    assert cells_in_scope(w, ["voice:JP", "voice:DE"]) == {"voice:JP"}
    assert under_maintenance([w], w.end_at + 86400, ["voice:JP"]) == frozenset()


def test_countries_do_not_narrow_billing_or_support() -> None:
    """Billing functions and support have no country (SPEC §8)."""
    w = make(products=(), countries=("DE",), functions=("payout",))
    assert cells_in_scope(w, CELLS) == {
        "sms:DE",
        "mms:DE",
        "voice:DE",
        "email:DE",
        "billing:payout",
        "support:support",
    }


CONCERNS = [
    ({"products": ("sms",), "countries": ("DE",)}, "sms", "DE", True),
    ({"products": ("sms",), "countries": ("DE",)}, None, "FR", False),
    ({"products": ("sms",), "countries": ("DE",)}, "mms", None, False),
    ({"products": ("billing",)}, None, "FR", True),  # billing concerns every country
    ({"products": ("billing",)}, "sms", None, False),
    ({"products": ("support",)}, "support", "JP", True),
    ({"products": (), "countries": ("DE",)}, "voice", "FR", False),
    ({"products": (), "countries": ("DE",)}, None, "FR", True),  # through billing/support
    ({"products": (), "countries": ()}, "email", "US", True),
]


@pytest.mark.parametrize(("scope", "product", "country", "expected"), CONCERNS)
def test_concerns_filters_as_the_calendar_and_region_view_need(
    scope: dict[str, tuple[str, ...]], product: str | None, country: str | None, expected: bool
) -> None:
    assert make(**scope).concerns(product=product, country=country) is expected


@given(windows(), st.sampled_from(CELLS))
def test_concerns_agrees_with_the_cells_in_scope(w: MaintenanceWindow, cell: str) -> None:
    """A window covering a cell concerns that cell's product and (for country cells) country."""
    product, key = cell.split(":")
    if w.covers_cell(product, key):
        country = key if product in {"sms", "mms", "voice", "email"} else "DE"
        assert w.concerns(product=product, country=country)


def test_the_documented_example_is_a_valid_file() -> None:
    """docs/maintenance.md's example parses and covers what the text says it covers."""
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "maintenance.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    (w,) = parse_maintenance_toml(example)
    assert cells_in_scope(w, CELLS) == {"sms:DE", "billing:payout"}
