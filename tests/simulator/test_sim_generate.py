"""The generated data: reproducible, shaped like SPEC §1, with detectable damage."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.corrupt import LINE_DAMAGE, drop_letter, merge_fields
from simulator.countries import DEFAULT_COUNTRIES, all_countries, parse_countries
from simulator.generate import (
    CHUNK_ROWS,
    ENDPOINTS,
    FILE_NAMES,
    HTML_INCIDENT_TOPIC,
    MMS_MAX_ITEMS,
    Plan,
    endpoint_body,
    endpoint_items,
    file_bytes,
    file_chunks,
)
from tests.simulator.spec_rules import (
    ASSIGNED,
    EMAIL,
    PROVIDERS,
    SMS,
    VOICE,
    file_cells,
    item_problem,
    line_problem,
    mms_cells,
)


def lines_of(plan: Plan, name: str) -> list[str]:
    data = file_bytes(plan, name)
    assert data.endswith(b"\n")
    lines = data.decode().split("\n")[:-1]
    assert all(lines), "no blank lines"
    return lines


def everything(plan: Plan) -> dict[str, bytes]:
    outputs = {name: file_bytes(plan, name) for name in FILE_NAMES}
    outputs.update({endpoint: endpoint_body(plan, endpoint) for endpoint in ENDPOINTS})
    return outputs


def test_same_seed_gives_identical_bytes_everywhere() -> None:
    """Two plans with the same seed produce every file and body byte for byte."""
    assert everything(Plan(seed=7)) == everything(Plan(seed=7))


def test_other_seed_or_generation_gives_other_data() -> None:
    """Another seed, or the next generation, changes every line file and endpoint."""
    base = everything(Plan(seed=7))
    for other in (everything(Plan(seed=8)), everything(Plan(seed=7).next())):
        for name in ("sms.data", "voice.data", "email.data", *ENDPOINTS):
            assert other[name] != base[name], name


def test_next_generation_is_reproducible() -> None:
    """Same seed and same number of regenerations give the same bytes."""
    assert everything(Plan(seed=3).next().next()) == everything(Plan(seed=3, generation=2))


@pytest.mark.parametrize("name", ["sms.data", "voice.data", "email.data"])
def test_default_file_has_every_pair_once_and_every_kind_of_damage(name: str) -> None:
    """Each country × provider appears once as a valid row; 3–5 damaged rows cover every kind."""
    lines = lines_of(Plan(seed=11), name)
    problems = [line_problem(name, line) for line in lines]
    valid = [line.split(";") for line, problem in zip(lines, problems, strict=True) if not problem]
    provider_at = 1 if name == "email.data" else 3
    pairs = [(fields[0], fields[provider_at]) for fields in valid]
    assert sorted(pairs) == sorted((c, p) for c in DEFAULT_COUNTRIES for p in PROVIDERS[name])
    reasons = Counter(problem for problem in problems if problem)
    assert 3 <= sum(reasons.values()) <= 5
    assert {"field_count", "country", "provider"} <= set(reasons)


def test_billing_is_six_bits_without_newline() -> None:
    """billing.data is exactly six 0/1 characters."""
    for seed in range(20):
        assert re.fullmatch(rb"[01]{6}", file_bytes(Plan(seed=seed), "billing.data"))


def test_default_endpoints_have_valid_and_broken_items() -> None:
    """Every endpoint body is a JSON array with valid items and a few broken ones."""
    plan = Plan(seed=5)
    for endpoint, broken_count in (("mms", 4), ("support", 2), ("accendent", 2)):
        items = json.loads(endpoint_body(plan, endpoint))
        problems = [item_problem(endpoint, item) for item in items]
        assert sum(1 for problem in problems if problem) == broken_count, endpoint
        assert {"missing_key", "wrong_type"} <= set(problems), endpoint
    mms_problems = {item_problem("mms", item) for item in endpoint_items(plan, "mms")}
    assert {"provider", "country"} <= mms_problems


@pytest.mark.parametrize("seed", range(10))
def test_incidents_have_both_statuses_and_the_html_topic(seed: int) -> None:
    """Both statuses occur and the HTML-looking topic is always there, unescaped."""
    items = endpoint_items(Plan(seed=seed), "accendent")
    valid = [item for item in items if item_problem("accendent", item) is None]
    assert {item["status"] for item in valid} == {"active", "closed"}
    assert HTML_INCIDENT_TOPIC in {item["topic"] for item in valid}
    assert '<b>Billing</b> & \\"checkout\\"' in endpoint_body(Plan(seed=seed), "accendent").decode()


@pytest.mark.parametrize("seed", range(10))
def test_support_tickets_are_0_to_8(seed: int) -> None:
    """Valid support topics have 0–8 tickets."""
    items = endpoint_items(Plan(seed=seed), "support")
    counts = [item["active_tickets"] for item in items if item_problem("support", item) is None]
    assert counts
    assert all(0 <= count <= 8 for count in counts)


def test_rows_are_good_and_bad_under_the_verdict_thresholds() -> None:
    """Across a few seeds, every product has rows on both sides of the SPEC §7 thresholds."""
    verdicts: dict[str, set[bool]] = {"sms": set(), "voice": set(), "email": set(), "mms": set()}
    for seed in range(5):
        plan = Plan(seed=seed)
        for name in ("sms.data", "voice.data", "email.data"):
            for rows in file_cells(name, file_bytes(plan, name)).values():
                verdicts[name.removesuffix(".data")].update(rows)
        for rows in mms_cells(endpoint_items(plan, "mms")).values():
            verdicts["mms"].update(rows)
    assert verdicts == {key: {True, False} for key in verdicts}


def test_rows_gives_that_many_valid_rows_across_chunks() -> None:
    """``rows`` is the number of valid rows per file, even across chunk boundaries."""
    rows = 2 * CHUNK_ROWS + 7
    plan = Plan(seed=2, rows=rows)
    assert len(list(file_chunks(plan, "sms.data"))) == 3
    for name in ("sms.data", "voice.data", "email.data"):
        problems = [line_problem(name, line) for line in lines_of(plan, name)]
        assert problems.count(None) == rows
        assert 3 <= len(problems) - rows <= 5


def test_mms_items_are_capped() -> None:
    """A huge ``rows`` caps the MMS body (four broken items come on top)."""
    items = endpoint_items(Plan(seed=1, rows=MMS_MAX_ITEMS + 10), "mms")
    assert len(items) == MMS_MAX_ITEMS + 4


def test_all_countries_cover_iso_3166() -> None:
    """``all`` is every assigned alpha-2 code, and email covers each with every provider."""
    countries = parse_countries("all")
    assert set(countries) == ASSIGNED
    lines = lines_of(Plan(seed=1, countries=countries), "email.data")
    valid = [line for line in lines if line_problem("email.data", line) is None]
    assert len(valid) == len(ASSIGNED) * len(EMAIL)
    assert {line.split(";")[0] for line in valid} == ASSIGNED


@pytest.mark.parametrize(
    ("text", "expected"),
    [("RU", ("RU",)), ("ru, us,RU", ("RU", "US")), ("ALL", all_countries())],
)
def test_parse_countries(text: str, expected: tuple[str, ...]) -> None:
    """Codes are upper-cased and de-duplicated in order."""
    assert parse_countries(text) == expected


@pytest.mark.parametrize("text", ["", "RU,", "XX", "RUS", "RU,ZZ"])
def test_parse_countries_rejects(text: str) -> None:
    """An empty or unassigned code is refused."""
    with pytest.raises(ValueError, match="country code"):
        parse_countries(text)


def test_dropping_a_letter_never_makes_a_valid_provider() -> None:
    """Every dropped-letter variant of every provider is unknown to statusd."""
    for provider in SMS | VOICE | EMAIL:
        for index in range(len(provider)):
            assert drop_letter(provider, index) not in SMS | VOICE | EMAIL


def test_merge_fields() -> None:
    """Merging loses exactly one separator."""
    assert merge_fields(["RU", "34", "1256", "Topolo"], 0) == ["RU34", "1256", "Topolo"]
    with pytest.raises(ValueError, match="cannot merge"):
        merge_fields(["RU"], 0)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**40),
    generation=st.integers(min_value=0, max_value=5),
    rows=st.none() | st.integers(min_value=1, max_value=300),
    countries=st.lists(st.sampled_from(sorted(ASSIGNED)), min_size=1, max_size=6, unique=True),
    name=st.sampled_from(["sms.data", "voice.data", "email.data"]),
)
def test_any_plan_has_expected_valid_rows_and_every_damage(
    seed: int, generation: int, rows: int | None, countries: list[str], name: str
) -> None:
    """For any plan: the expected number of valid rows, plus at least one of each damage kind."""
    plan = Plan(seed=seed, countries=tuple(countries), rows=rows, generation=generation)
    problems = [line_problem(name, line) for line in lines_of(plan, name)]
    expected = len(countries) * len(PROVIDERS[name]) if rows is None else rows
    assert problems.count(None) == expected
    assert {"field_count", "country", "provider"} <= set(problems)
    assert len(problems) - expected <= len(LINE_DAMAGE) + 2


@pytest.mark.parametrize(
    ("plan", "digest"),
    [
        (Plan(seed=7), "aab4d68583175ff9ea15417d8b6cf3fcd3ddd4541648a4d72c8eeebb8253da5c"),
        (
            Plan(seed=7, rows=1000, generation=2),
            "d3b6f058d87143f0cc904ffbc2d8e83bb8fb4c3950ed6d0547a77dc7908325db",
        ),
    ],
)
def test_data_of_a_seed_never_changes(plan: Plan, digest: str) -> None:
    """The bytes of a seed are those recorded before degradation and steady mode existed."""
    outputs = everything(plan)
    combined = hashlib.sha256()
    for name in (*FILE_NAMES, *ENDPOINTS):
        combined.update(outputs[name])
    assert combined.hexdigest() == digest
