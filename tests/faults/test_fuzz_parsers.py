"""Property-based fuzzing of the seven parsers (hypothesis): whatever bytes a source sends,
everything statusd does with them (``bench.fuzz_parsers.exercise``: parse, prepare, encode,
state file round trip, verdicts) either works or raises ``SourceError``; nothing else may
escape, since anything else ends the collector and the daemon with it.

The coverage-guided counterpart, run for a bounded time by ``make bench``, is
``bench/fuzz_parsers.py`` (atheris).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_parsers import SEEDS, exercise

SOURCES = sorted(SEEDS)
HTTP_SOURCES = ("mms", "support", "incident")
LINE_SOURCES = ("sms", "voice_call", "email")
KEYS = ("country", "provider", "bandwidth", "response_time", "topic", "active_tickets", "status")
FIELDS = [
    "RU", "US", "BL", "XX", "ru", "Topolo", "Rond", "Kildy", "E-Voice", "JustPhone",
    "TransparentCalls", "Gmail", "Mail.ru", "0", "1", "01", "100", "101", "-1", "+1", " 7 ",
    "0.5", "1.0", "1.00000000000000000001", ".5", "1e3", "٣", "²", "", " ", "active",
    "closed", "Active",
]  # fmt: skip

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text without lone surrogates and integers that JSON can encode again: the two known bugs
# (test_known_parser_bugs below) are kept out of the general strategies, so these tests
# keep finding new problems rather than the same two.
safe_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text
    | st.sampled_from(FIELDS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_text, inner, max_size=4),
    max_leaves=20,
)
items = st.dictionaries(st.sampled_from(KEYS), json_values | st.sampled_from(FIELDS), max_size=7)


@FUZZ
@given(source=st.sampled_from(SOURCES), raw=st.binary(max_size=2048))
def test_any_bytes(source: str, raw: bytes) -> None:
    exercise(source, raw)


@FUZZ
@given(
    source=st.sampled_from(SOURCES),
    value=json_values | st.lists(items | json_values, max_size=8),
    ascii_only=st.booleans(),
    bom=st.booleans(),
)
def test_json_bodies(source: str, value: Any, ascii_only: bool, bom: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    exercise(source, (b"\xef\xbb\xbf" if bom else b"") + raw)


line = st.lists(st.sampled_from(FIELDS) | safe_text, max_size=9).map(";".join)


@FUZZ
@given(
    source=st.sampled_from((*LINE_SOURCES, "billing")),
    lines=st.lists(line, max_size=10),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    noise=st.lists(st.tuples(st.integers(0, 4096), st.binary(min_size=1, max_size=3)), max_size=3),
)
def test_line_files(
    source: str, lines: list[str], ending: str, noise: list[tuple[int, bytes]]
) -> None:
    raw = bytearray(ending.join(lines).encode())
    for position, junk in noise:  # invalid UTF-8 and stray bytes in places
        raw[position:position] = junk
    exercise(source, bytes(raw))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("seed", [0, 1])
def test_seeds_are_read(source: str, seed: int) -> None:
    """The fuzzers' seeds pass (they are the starting points of the atheris run)."""
    exercise(source, SEEDS[source][seed])


FORMERLY_CRASHING = {
    "incident_topic_lone_surrogate": ("incident", b'[{"topic":"\\ud800","status":"active"}]'),
    "support_topic_lone_surrogate": ("support", b'[{"topic":"\\udfff","active_tickets":1}]'),
    "support_ticket_count_4300_digits": (
        "support",
        b'[{"topic":"t","active_tickets":' + b"9" * 4300 + b"}]",
    ),
}


@pytest.mark.parametrize("case", list(FORMERLY_CRASHING))
def test_formerly_crashing_inputs_are_handled(case: str) -> None:
    """Inputs the fuzzer once found crashing the encoder are now skipped records."""
    source, raw = FORMERLY_CRASHING[case]
    exercise(source, raw)
