"""The generated data: reproducible, shaped like SPEC §1, with detectable damage."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pycountry
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

# The rules below are written from SPEC §1, independently of the generator's constants.
ASSIGNED = {country.alpha_2 for country in pycountry.countries}
SMS = {"Topolo", "Rond", "Kildy"}
VOICE = {"TransparentCalls", "E-Voice", "JustPhone"}
EMAIL = {
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
}
PROVIDERS = {"sms.data": SMS, "voice.data": VOICE, "email.data": EMAIL}
INTEGER = re.compile(r"[0-9]+")
DECIMAL_0_1 = re.compile(r"0(\.[0-9]+)?|1(\.0+)?")


def _int_in(text: str, low: int, high: int | None = None) -> bool:
    return (
        bool(INTEGER.fullmatch(text)) and low <= int(text) and (high is None or int(text) <= high)
    )


def line_problem(name: str, line: str) -> str | None:
    """Why statusd must skip this line of ``name`` under SPEC §1, or None if it is valid."""
    fields = [field.strip() for field in line.split(";")]
    expected = {"sms.data": 4, "voice.data": 8, "email.data": 3}[name]
    if len(fields) != expected:
        return "field_count"
    if fields[0] not in ASSIGNED:
        return "country"
    provider = fields[1] if name == "email.data" else fields[3]
    if provider not in PROVIDERS[name]:
        return "provider"
    if name == "email.data":
        return None if _int_in(fields[2], 0) else "delivery_time"
    if not _int_in(fields[1], 0, 100) or not _int_in(fields[2], 0):
        return "number"
    if name == "voice.data":
        stability, ttfb, purity, minutes = fields[4:]
        numbers_ok = _int_in(ttfb, 0) and _int_in(purity, 0, 100) and _int_in(minutes, 0)
        if not DECIMAL_0_1.fullmatch(stability) or not numbers_ok:
            return "number"
    return None


def item_problem(endpoint: str, item: Any) -> str | None:
    """Why statusd must skip this JSON item, or None if it is valid."""
    keys = {
        "mms": ("country", "provider", "bandwidth", "response_time"),
        "support": ("topic", "active_tickets"),
        "accendent": ("topic", "status"),
    }[endpoint]
    if not isinstance(item, dict):
        return "not_an_object"
    if any(key not in item for key in keys):
        return "missing_key"
    if endpoint == "mms":
        if not all(isinstance(item[key], str) for key in keys):
            return "wrong_type"
        sms_line = ";".join([item["country"], item["bandwidth"], item["response_time"]])
        return line_problem("sms.data", f"{sms_line};{item['provider']}")
    if endpoint == "support":
        count = item["active_tickets"]
        ok = isinstance(item["topic"], str) and type(count) is int and count >= 0
        return None if ok else "wrong_type"
    if not isinstance(item["topic"], str) or not isinstance(item["status"], str):
        return "wrong_type"
    return None if item["status"] in ("active", "closed") else "status"


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
            for line in lines_of(plan, name):
                if line_problem(name, line):
                    continue
                f = line.split(";")
                if name == "sms.data":
                    verdicts["sms"].add(int(f[2]) <= 1000 and int(f[1]) >= 20)
                elif name == "voice.data":
                    good = float(f[4]) >= 0.8 and int(f[6]) >= 50 and int(f[5]) <= 500
                    verdicts["voice"].add(good and int(f[1]) <= 90)
                else:
                    verdicts["email"].add(int(f[2]) <= 300)
        for item in endpoint_items(plan, "mms"):
            if item_problem("mms", item) is None:
                good = int(item["response_time"]) <= 1000 and int(item["bandwidth"]) >= 20
                verdicts["mms"].add(good)
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
