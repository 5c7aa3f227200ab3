"""The control of the simulator's data: degraded cells, steady mode, billing, support, incidents.

Rows are judged with ``tests.simulator.spec_rules`` (SPEC §1 and §7 written out independently
of the generator), so "bad" and "good" here mean what statusd's default thresholds say.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.bodies import BodyError
from simulator.control import (
    MAX_INCIDENTS,
    Control,
    ControlError,
    Target,
    parse_incident,
    parse_target,
)
from simulator.countries import DEFAULT_COUNTRIES
from simulator.generate import (
    ENDPOINTS,
    FILE_NAMES,
    Plan,
    endpoint_body,
    endpoint_items,
    file_bytes,
)
from tests.simulator.spec_rules import (
    BILLING_BITS,
    file_cells,
    item_problem,
    line_problem,
    mms_cells,
    support_load,
)

COUNTRY_PRODUCTS = ("sms", "mms", "voice", "email")
LINE_FILES = {"sms": "sms.data", "voice": "voice.data", "email": "email.data"}
COUNTRIES = ("RU", "DE", "FR", "US", "BL", "NZ")


def cells_of(plan: Plan) -> dict[tuple[str, str], list[bool]]:
    """(product, country) → goodness of every row statusd keeps, for the four country products."""
    cells: dict[tuple[str, str], list[bool]] = {}
    per_product = {
        product: file_cells(name, file_bytes(plan, name)) for product, name in LINE_FILES.items()
    }
    per_product["mms"] = mms_cells(endpoint_items(plan, "mms"))
    for product, countries in per_product.items():
        for country, rows in countries.items():
            cells[product, country] = rows
    return cells


def support_total(plan: Plan) -> tuple[int, list[int]]:
    """The ticket total statusd computes from ``/support`` and the counts of the valid items."""
    items = endpoint_items(plan, "support")
    counts = [item["active_tickets"] for item in items if item_problem("support", item) is None]
    return sum(counts), counts


def valid_incidents(plan: Plan) -> list[tuple[str, str]]:
    items = endpoint_items(plan, "accendent")
    return [(i["topic"], i["status"]) for i in items if item_problem("accendent", i) is None]


plans = st.builds(
    Plan,
    seed=st.integers(min_value=0, max_value=2**40),
    countries=st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=4, unique=True).map(tuple),
    rows=st.none() | st.integers(min_value=1, max_value=200),
    generation=st.integers(min_value=0, max_value=3),
)


@settings(max_examples=60, deadline=None)
@given(plan=plans, steady=st.booleans(), data=st.data())
def test_degraded_cells_have_no_good_row_and_steady_cells_only_good_ones(
    plan: Plan, steady: bool, data: st.DataObject
) -> None:
    """Degraded cells: every kept row bad; with steady, every other cell's rows all good."""
    cell = st.tuples(st.sampled_from(COUNTRY_PRODUCTS), st.sampled_from(plan.countries))
    degraded = frozenset(data.draw(st.lists(cell, max_size=6)))
    plan = replace(plan, control=Control(steady=steady, degraded=degraded))
    cells = cells_of(plan)
    for key, rows in cells.items():
        if key in degraded:
            assert not any(rows), key
        elif steady:
            assert all(rows), key
    if plan.rows is None:  # one row per (country, provider): every degraded cell has rows
        assert degraded <= set(cells)


@settings(max_examples=40, deadline=None)
@given(plan=plans, data=st.data())
def test_degrading_a_cell_leaves_every_other_cell_and_output_as_it_was(
    plan: Plan, data: st.DataObject
) -> None:
    """Pinning one cell draws no extra random values: every other row and output is unchanged."""
    product = data.draw(st.sampled_from(COUNTRY_PRODUCTS))
    country = data.draw(st.sampled_from(plan.countries))
    degraded = replace(plan, control=Control(degraded=frozenset({(product, country)})))
    before, after = cells_of(plan), cells_of(degraded)
    assert {k: v for k, v in before.items() if k != (product, country)} == {
        k: v for k, v in after.items() if k != (product, country)
    }
    changed = LINE_FILES.get(product, product)
    for name in (*FILE_NAMES, *ENDPOINTS):
        if name != changed:
            same = file_bytes if name in FILE_NAMES else endpoint_body
            assert same(plan, name) == same(degraded, name), name


def test_degraded_rows_are_written_where_the_undegraded_ones_were() -> None:
    """Only the degraded country's lines change, each in place (same provider, same position)."""
    plan = Plan(seed=4, countries=("RU", "DE", "FR"))
    degraded = replace(plan, control=Control(degraded=frozenset({("voice", "DE")})))
    old = file_bytes(plan, "voice.data").decode().splitlines()
    new = file_bytes(degraded, "voice.data").decode().splitlines()
    assert len(old) == len(new)
    differing = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert differing
    for a, b in differing:
        assert a.split(";")[0] == b.split(";")[0] == "DE"
        assert a.split(";")[3] == b.split(";")[3]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**40),
    steady=st.booleans(),
    down=st.frozensets(st.sampled_from(BILLING_BITS)),
)
def test_billing_functions_held_down(seed: int, steady: bool, down: frozenset[str]) -> None:
    """A function held down is 0; the others are up in steady mode, or as generated otherwise."""
    plan = Plan(seed=seed, control=Control(steady=steady, billing_down=down))
    text = file_bytes(plan, "billing.data").decode()
    generated = file_bytes(Plan(seed=seed), "billing.data").decode()
    for bit, name in enumerate(BILLING_BITS):
        at = len(text) - 1 - bit  # SPEC §1: read right to left
        if name in down:
            assert text[at] == "0", name
        else:
            assert text[at] == ("1" if steady else generated[at]), name


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**40),
    steady=st.booleans(),
    load=st.none() | st.sampled_from((1, 2, 3)),
)
def test_support_load(seed: int, steady: bool, load: int | None) -> None:
    """A pinned load gives that load (SPEC §2); steady gives 1; topics keep 0–8 tickets."""
    plan = Plan(seed=seed, control=Control(steady=steady, support_load=load))
    total, counts = support_total(plan)
    assert all(0 <= count <= 8 for count in counts)
    expected = load if load is not None else 1 if steady else None
    if expected is None:
        assert support_total(Plan(seed=seed)) == (total, counts)
    else:
        assert support_load(total) == expected


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**40),
    steady=st.booleans(),
    named=st.dictionaries(
        st.sampled_from(("SMS delivery delays in Europe", "Outage", "<i>x</i>", "Ünïcode")),
        st.sampled_from(("active", "closed")),
        max_size=3,
    ),
)
def test_named_incidents(seed: int, steady: bool, named: dict[str, str]) -> None:
    """Named incidents appear once each with their status; steady adds no other active one."""
    plan = Plan(seed=seed, control=Control(steady=steady, incidents=tuple(named.items())))
    incidents = valid_incidents(plan)
    for topic, status in named.items():
        assert [entry for entry in incidents if entry[0] == topic] == [(topic, status)]
    if steady:
        active = {topic for topic, status in incidents if status == "active"}
        assert active == {topic for topic, status in named.items() if status == "active"}


def test_steady_keeps_the_html_incident_closed() -> None:
    """Steady mode still serves the HTML-looking topic (closed), and the broken items."""
    incidents = valid_incidents(Plan(seed=2, control=Control(steady=True)))
    assert incidents == [('<b>Billing</b> & "checkout"', "closed")]
    items = endpoint_items(Plan(seed=2, control=Control(steady=True)), "accendent")
    assert sum(1 for item in items if item_problem("accendent", item)) == 2


def test_steady_is_reproducible_and_keeps_the_damage() -> None:
    """Steady data is the same for the same seed, and still has the broken rows statusd skips."""
    steady = Plan(seed=9, control=Control(steady=True))
    assert file_bytes(steady, "sms.data") == file_bytes(replace(steady), "sms.data")
    assert file_bytes(steady, "sms.data") != file_bytes(steady.next(), "sms.data")
    lines = file_bytes(steady, "email.data").decode().splitlines()
    assert {"field_count", "country", "provider"} <= {line_problem("email.data", x) for x in lines}


def test_next_generation_keeps_the_control() -> None:
    """A regeneration's plan carries the same control."""
    control = Control(steady=True, degraded=frozenset({("sms", "RU")}), support_load=2)
    assert Plan(seed=1, control=control).next().control == control


def test_control_changes() -> None:
    """Degrade and restore are inverse; named incidents keep their first position."""
    control = Control()
    sms = Target("sms", country="RU")
    payout = Target("billing", function="payout")
    pinned = control.degrade(sms).degrade(payout).degrade(Target("support", load=3))
    assert pinned.to_json() == {
        "steady": False,
        "degraded": [{"product": "sms", "country": "RU"}],
        "billing_down": ["payout"],
        "support_load": 3,
        "incidents": [],
    }
    assert pinned.restore(sms).restore(payout).restore(Target("support")) == control
    named = control.with_incident("a", "active").with_incident("b", "active")
    named = named.with_incident("a", "closed")
    assert named.incidents == (("a", "closed"), ("b", "active"))
    assert named.with_incident("a", None).with_incident("zzz", None).incidents == (("b", "active"),)


def test_incident_limit() -> None:
    """At most ``MAX_INCIDENTS`` named incidents; updating one of them is still allowed."""
    control = Control()
    for index in range(MAX_INCIDENTS):
        control = control.with_incident(f"topic {index}", "active")
    with pytest.raises(ControlError, match="at most"):
        control.with_incident("one more", "active")
    assert control.with_incident("topic 0", "closed").incidents[0] == ("topic 0", "closed")


@pytest.mark.parametrize(
    ("body", "restore", "expected"),
    [
        ({"product": "sms", "country": "DE"}, False, Target("sms", country="DE")),
        ({"product": "email", "country": " de "}, False, Target("email", country="DE")),
        ({"product": "billing", "function": "payout"}, False, Target("billing", function="payout")),
        ({"product": "support", "load": 3}, False, Target("support", load=3)),
        ({"product": "support", "load": 3}, True, Target("support")),
        ({"product": "support"}, True, Target("support")),
        ({"product": "voice", "country": "RU"}, True, Target("voice", country="RU")),
    ],
)
def test_parse_target(body: object, restore: bool, expected: Target) -> None:
    """Valid degrade and restore bodies; country codes are case-insensitive."""
    countries = (*DEFAULT_COUNTRIES, "DE")
    assert parse_target(json.dumps(body).encode(), countries, restore=restore) == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff", "body is not JSON"),
        (b"[]", "must be a JSON object"),
        (b"{}", "missing key 'product'"),
        (b'{"product": 1}', "'product' must be a string"),
        (b'{"product": "fax", "country": "RU"}', "unknown product 'fax'"),
        (b'{"product": "incidents"}', "POST /_control/incident"),
        (b'{"product": "sms"}', "missing key 'country'"),
        (b'{"product": "sms", "country": "RU", "x": 1}', "unknown key 'x'"),
        (b'{"product": "sms", "function": "payout"}', "unknown key 'function'"),
        (b'{"product": "sms", "country": "DE"}', "country 'DE' is not one the simulator"),
        (b'{"product": "sms", "country": "XX"}', "country 'XX' is not one"),
        (b'{"product": "sms", "country": 7}', "'country' must be a string"),
        (b'{"product": "billing", "function": "refund"}', "unknown billing function 'refund'"),
        (b'{"product": "billing", "function": "reccuring"}', "unknown billing function"),
        (b'{"product": "billing", "country": "RU"}', "unknown key 'country'"),
        (b'{"product": "support", "load": 4}', "'load' must be one of 1, 2, 3"),
        (b'{"product": "support", "load": "3"}', "'load' must be one of"),
        (b'{"product": "support", "load": true}', "'load' must be one of"),
        (b'{"product": "support", "load": 2.0}', "'load' must be one of"),
        (b'{"product": "support"}', "missing key 'load'"),
    ],
)
def test_parse_target_rejects(body: bytes, reason: str) -> None:
    """Every malformed degrade body is refused with a reason naming the problem."""
    with pytest.raises(BodyError, match=reason):
        parse_target(body, DEFAULT_COUNTRIES)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"product": "support", "load": 0}', "'load' must be one of"),
        (b'{"product": "support", "load": 1, "x": 1}', "unknown key 'x'"),
    ],
)
def test_parse_restore_rejects(body: bytes, reason: str) -> None:
    """A restore body is validated like a degrade's."""
    with pytest.raises(BodyError, match=reason):
        parse_target(body, DEFAULT_COUNTRIES, restore=True)


def test_parse_target_lists_few_countries_only() -> None:
    """The error names the generated countries when there are few, not all 249."""
    with pytest.raises(ControlError, match=r"see --countries: RU, FR\)"):
        parse_target(b'{"product": "sms", "country": "DE"}', ("RU", "FR"))
    with pytest.raises(ControlError, match=r"\(249 countries, see --countries\)$"):
        parse_target(b'{"product": "sms", "country": "XX"}', tuple(f"{n}" for n in range(249)))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"topic": "SMS down", "status": "active"}', ("SMS down", "active")),
        (b'{"topic": "SMS down", "status": "closed"}', ("SMS down", "closed")),
        (b'{"topic": "SMS down", "status": null}', ("SMS down", None)),
    ],
)
def test_parse_incident(body: bytes, expected: tuple[str, str | None]) -> None:
    """Add, close, remove."""
    assert parse_incident(body) == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nope", "body is not JSON"),
        (b'"x"', "must be a JSON object"),
        (b'{"topic": "x"}', "missing key 'status'"),
        (b'{"status": "active"}', "missing key 'topic'"),
        (b'{"topic": "x", "status": "open"}', "'status' must be"),
        (b'{"topic": "x", "status": 1}', "'status' must be"),
        (b'{"topic": "  ", "status": "active"}', "must not be empty"),
        (b'{"topic": 3, "status": "active"}', "'topic' must be a string"),
        (b'{"topic": "x", "status": "active", "id": 1}', "unknown key 'id'"),
        (json.dumps({"topic": "x" * 201, "status": "active"}).encode(), "longer than 200"),
    ],
)
def test_parse_incident_rejects(body: bytes, reason: str) -> None:
    """Every malformed incident body is refused with a reason."""
    with pytest.raises(BodyError, match=reason):
        parse_incident(body)
