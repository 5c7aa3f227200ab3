"""Seeded, pure generation of every data file and endpoint body the simulator serves.

A ``Plan`` fixes one generation (seed, generation number, countries, rows). Each output draws
from its own ``random.Random`` seeded by (seed, generation, output name), so the same plan
always gives the same bytes and the size of one output never shifts the values of another.
Large files come out as a stream of chunks so a million rows never sit in memory at once.

Values are chosen so that most rows are good and some bad under the verdict thresholds of
SPEC §7, and a few rows of every file and endpoint are broken in the ways statusd must skip.
The plan's ``Control`` (``simulator.control``) pins cells: a degraded cell's rows are all bad,
steady mode makes every other row good. A row draws the same number of random values whatever
its quality, so pinning one cell never shifts the values of another.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from simulator.control import BILLING_FUNCTIONS, Control, Quality
from simulator.corrupt import LINE_DAMAGE, damage_fields, drop_letter, with_wrong_type, without_key
from simulator.countries import DEFAULT_COUNTRIES, UNASSIGNED_CODES

SMS_PROVIDERS: Final = ("Topolo", "Rond", "Kildy")
VOICE_PROVIDERS: Final = ("TransparentCalls", "E-Voice", "JustPhone")
EMAIL_PROVIDERS: Final = (
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
)

FILE_NAMES: Final = ("sms.data", "voice.data", "email.data", "billing.data")
ENDPOINTS: Final = ("mms", "support", "accendent")

SUPPORT_TOPICS: Final = (
    "SMS",
    "MMS",
    "Voice calls",
    "Email",
    "Billing",
    "Payouts",
    "Checkout",
    "Fraud control",
    "Accounts",
)
HTML_INCIDENT_TOPIC: Final = '<b>Billing</b> & "checkout"'
"""Always among the incidents: the page must show it literally, never as markup."""
INCIDENT_TOPICS: Final = (
    "SMS delivery delays in Europe",
    "MMS gateway timeouts",
    "Voice call quality degraded",
    "Email delivery delays for Gmail",
    "Payout processing backlog",
    "Fraud control false positives",
    "Support portal login failures",
    "Recurring payments retried twice",
    "Scheduled maintenance: database upgrade",
)

MMS_MAX_ITEMS: Final = 100_000
"""``--rows`` caps the MMS body here (about 8 MB): far under statusd's 64 MiB body limit."""
CHUNK_ROWS: Final = 20_000
"""Rows per chunk of a streamed file: big enough to be fast, small enough to stay responsive."""
HEALTHY_SHARE: Final = 0.75
"""Share of rows drawn inside the good ranges; the rest span the whole range, good or bad."""

SUPPORT_LOAD_TOTALS: Final = {1: (0, 8), 2: (9, 16), 3: (17, 24)}
"""Ticket totals a pinned support load is drawn from (SPEC §2: < 9, 9–16, > 16)."""
MAX_TICKETS_PER_TOPIC: Final = 8

Rand = Callable[[], float]
RowFields = Callable[[Rand, str, str, Quality], list[str]]
JsonItem = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    """One generation of data: same plan, same bytes.

    ``rows`` None means one row per (country, provider) pair, as the original simulator wrote;
    a number means that many well-formed rows per file (pairs repeat), for load tests.
    """

    seed: int
    countries: tuple[str, ...] = DEFAULT_COUNTRIES
    rows: int | None = None
    generation: int = 0
    control: Control = field(default_factory=Control)

    def rng(self, output: str) -> random.Random:
        """The random stream of one output (a file name or an endpoint) in this generation."""
        return random.Random(f"statusd-sim/{self.seed}/{self.generation}/{output}")

    def next(self) -> Plan:
        """The plan of the following generation (what a regeneration writes); same control."""
        return replace(self, generation=self.generation + 1)


def _between(rand: Rand, low: int, high: int) -> int:
    """A uniform integer in [low, high], from one draw (much faster than ``randint``)."""
    return low + int(rand() * (high - low + 1))


def _healthy(rand: Rand, quality: Quality) -> bool:
    """Whether a row is drawn inside the good ranges; one draw whatever the quality."""
    drawn = rand() < HEALTHY_SHARE
    return quality == "good" or (quality == "mixed" and drawn)


def sms_fields(rand: Rand, country: str, provider: str, quality: Quality = "mixed") -> list[str]:
    """country;bandwidth;response_time;provider — good when rt ≤ 1000 and bandwidth ≥ 20."""
    if _healthy(rand, quality):
        bandwidth, response_time = _between(rand, 20, 100), _between(rand, 30, 1000)
    elif quality == "bad":
        bandwidth, response_time = _between(rand, 0, 100), _between(rand, 1001, 3000)
    else:
        bandwidth, response_time = _between(rand, 0, 100), _between(rand, 30, 3000)
    return [country, str(bandwidth), str(response_time), provider]


def voice_fields(rand: Rand, country: str, provider: str, quality: Quality = "mixed") -> list[str]:
    """The eight voice fields; good when stability ≥ 0.8, purity ≥ 50, ttfb ≤ 500, load ≤ 90.

    A bad row (degraded cell) has a stability under 0.8, the rest over the whole range.
    """
    if _healthy(rand, quality):
        load = _between(rand, 0, 90)
        response_time = _between(rand, 30, 1000)
        stability = _between(rand, 80, 100)
        ttfb = _between(rand, 20, 500)
        purity = _between(rand, 50, 100)
    else:
        load = _between(rand, 0, 100)
        response_time = _between(rand, 30, 3000)
        stability = _between(rand, 30, 79 if quality == "bad" else 100)
        ttfb = _between(rand, 20, 1500)
        purity = _between(rand, 0, 100)
    median_minutes = _between(rand, 1, 60)
    return [
        country,
        str(load),
        str(response_time),
        provider,
        f"{stability // 100}.{stability % 100:02d}",
        str(ttfb),
        str(purity),
        str(median_minutes),
    ]


def email_fields(rand: Rand, country: str, provider: str, quality: Quality = "mixed") -> list[str]:
    """country;provider;delivery_time — good when delivery_time ≤ 300."""
    low, high = (20, 300) if _healthy(rand, quality) else (20, 1200)
    if quality == "bad":
        low = 301
    delivery_time = _between(rand, low, high)
    return [country, provider, str(delivery_time)]


@dataclass(frozen=True, slots=True)
class LineFile:
    """How the rows of one ``;``-separated data file are made."""

    product: str
    providers: tuple[str, ...]
    fields: RowFields
    provider_index: int


LINE_FILES: Final[dict[str, LineFile]] = {
    "sms.data": LineFile("sms", SMS_PROVIDERS, sms_fields, 3),
    "voice.data": LineFile("voice", VOICE_PROVIDERS, voice_fields, 3),
    "email.data": LineFile("email", EMAIL_PROVIDERS, email_fields, 1),
}

Cell = tuple[str, str, Quality]
"""(country, provider, quality) of the rows of one provider in one country."""


def _cells(plan: Plan, product: str, providers: Sequence[str]) -> list[Cell]:
    qualities = {country: plan.control.quality(product, country) for country in plan.countries}
    return [
        (country, provider, qualities[country])
        for country in plan.countries
        for provider in providers
    ]


def _damaged_lines(
    rng: random.Random, spec: LineFile, cells: Sequence[Cell], total: int
) -> list[tuple[int, str]]:
    """A few broken lines, each with the row index it goes before (``total`` = at the end).

    Every kind of damage occurs at least once, plus zero to two more of a random kind.
    """
    kinds = [*LINE_DAMAGE, *(rng.choice(LINE_DAMAGE) for _ in range(rng.randint(0, 2)))]
    damaged: list[tuple[int, str]] = []
    for kind in kinds:
        fields = spec.fields(rng.random, *cells[rng.randrange(len(cells))])
        broken = damage_fields(rng, fields, spec.provider_index, kind)
        damaged.append((rng.randint(0, total), ";".join(broken)))
    damaged.sort(key=lambda entry: entry[0])
    return damaged


def line_file_chunks(plan: Plan, name: str) -> Iterator[bytes]:
    """The bytes of ``sms.data``, ``voice.data`` or ``email.data``, in chunks of lines."""
    spec = LINE_FILES[name]
    rng = plan.rng(name)
    cells = _cells(plan, spec.product, spec.providers)
    total = len(cells) if plan.rows is None else plan.rows
    damaged = _damaged_lines(rng, spec, cells, total)
    make, rand, count = spec.fields, rng.random, len(cells)
    for start in range(0, max(total, 1), CHUNK_ROWS):
        stop = min(total, start + CHUNK_ROWS)
        lines = [";".join(make(rand, *cells[index % count])) for index in range(start, stop)]
        last = stop == total
        here = [(at, line) for at, line in damaged if start <= at < stop or (last and at == stop)]
        for at, line in reversed(here):
            lines.insert(at - start, line)
        yield ("\n".join(lines) + "\n").encode()


def billing_bytes(plan: Plan) -> bytes:
    """Six ``0``/``1`` characters, no newline; each function is up four times out of five.

    Steady mode holds every function up; a function the control holds down is ``0``.
    """
    rng = plan.rng("billing.data")
    control = plan.control
    bits = []
    for name in reversed(BILLING_FUNCTIONS):  # written left to right: bit 5 first
        up = rng.random() < 0.8 or control.steady
        bits.append("1" if up and name not in control.billing_down else "0")
    return "".join(bits).encode()


def file_chunks(plan: Plan, name: str) -> Iterator[bytes]:
    """The bytes of any of the four data files, in chunks (billing is one chunk)."""
    if name == "billing.data":
        return iter((billing_bytes(plan),))
    if name not in LINE_FILES:
        raise ValueError(f"unknown data file {name!r}")
    return line_file_chunks(plan, name)


def file_bytes(plan: Plan, name: str) -> bytes:
    """The whole content of one data file (for tests and small data)."""
    return b"".join(file_chunks(plan, name))


def _insert_randomly(rng: random.Random, items: list[JsonItem], extra: Sequence[JsonItem]) -> None:
    for item in extra:
        items.insert(rng.randint(0, len(items)), item)


def mms_items(plan: Plan) -> list[JsonItem]:
    """The ``/mms`` array: one item per (country, provider) or ``rows`` items, plus four broken."""
    rng = plan.rng("mms")
    cells = _cells(plan, "mms", SMS_PROVIDERS)
    total = len(cells) if plan.rows is None else min(plan.rows, MMS_MAX_ITEMS)
    rand, count = rng.random, len(cells)
    items: list[JsonItem] = []
    for index in range(total):
        country, bandwidth, response_time, provider = sms_fields(rand, *cells[index % count])
        items.append(
            {
                "country": country,
                "provider": provider,
                "bandwidth": bandwidth,
                "response_time": response_time,
            }
        )
    samples = [items[rng.randrange(len(items))] for _ in range(4)] if items else []
    broken: list[JsonItem] = []
    if samples:
        missing, wrong, dropped, unknown = samples
        provider = dropped["provider"]
        broken = [
            without_key(missing, rng.choice(tuple(missing))),
            {**wrong, "bandwidth": with_wrong_type(wrong["bandwidth"])},
            {**dropped, "provider": drop_letter(provider, rng.randrange(len(provider)))},
            {**unknown, "country": rng.choice(UNASSIGNED_CODES)},
        ]
    _insert_randomly(rng, items, broken)
    return items


def pinned_tickets(topics: list[str], drawn: list[int], load: int) -> list[tuple[str, int]]:
    """Topics with 0–8 tickets each whose total gives ``load``, derived from the drawn counts.

    Topics are added from ``SUPPORT_TOPICS`` when the drawn ones cannot hold the total.
    """
    low, high = SUPPORT_LOAD_TOTALS[load]
    total = low + sum(drawn) % (high - low + 1)
    needed = -(-total // MAX_TICKETS_PER_TOPIC)
    topics = [*topics, *(topic for topic in SUPPORT_TOPICS if topic not in topics)][
        : max(len(topics), needed)
    ]
    share, extra = divmod(total, len(topics))
    return [(topic, share + (index < extra)) for index, topic in enumerate(topics)]


def support_items(plan: Plan) -> list[JsonItem]:
    """The ``/support`` array: two to six topics with 0–8 tickets, plus two broken items.

    A pinned load (or load 1 in steady mode) sets the ticket total; topics stay 0–8 tickets.
    """
    rng = plan.rng("support")
    topics = rng.sample(SUPPORT_TOPICS, rng.randint(2, 6))
    counts = [rng.randint(0, 8) for _ in topics]
    load = plan.control.support_load or (1 if plan.control.steady else None)
    pairs = list(zip(topics, counts, strict=True))
    if load is not None:
        pairs = pinned_tickets(topics, counts, load)
    items: list[JsonItem] = [{"topic": topic, "active_tickets": count} for topic, count in pairs]
    broken: list[JsonItem] = [
        {"topic": rng.choice(SUPPORT_TOPICS)},
        {"topic": rng.choice(SUPPORT_TOPICS), "active_tickets": str(rng.randint(0, 8))},
    ]
    _insert_randomly(rng, items, broken)
    return items


def incident_items(plan: Plan) -> list[JsonItem]:
    """The ``/accendent`` array: three to seven incidents, both statuses present, two broken."""
    rng = plan.rng("accendent")
    topics = [*rng.sample(INCIDENT_TOPICS, rng.randint(2, 6)), HTML_INCIDENT_TOPIC]
    rng.shuffle(topics)
    statuses = [rng.choice(("active", "closed")) for _ in topics]
    if len(set(statuses)) == 1:
        flip = rng.randrange(len(statuses))
        statuses[flip] = "closed" if statuses[flip] == "active" else "active"
    items: list[JsonItem] = [
        {"topic": topic, "status": status} for topic, status in zip(topics, statuses, strict=True)
    ]
    broken: list[JsonItem] = [
        {"topic": rng.choice(INCIDENT_TOPICS)},
        {"topic": rng.choice(INCIDENT_TOPICS), "status": 1},
    ]
    _insert_randomly(rng, items, broken)
    return _controlled_incidents(plan.control, items)


def _controlled_incidents(control: Control, items: list[JsonItem]) -> list[JsonItem]:
    """Steady mode keeps only the HTML-looking incident, closed; named incidents come last.

    A named incident replaces a generated one of the same topic (broken items stay).
    """
    named = dict(control.incidents)
    kept: list[JsonItem] = []
    for item in items:
        well_formed = item.get("status") in ("active", "closed")
        if well_formed and (item["topic"] in named or control.steady):
            if item["topic"] == HTML_INCIDENT_TOPIC and item["topic"] not in named:
                kept.append({**item, "status": "closed"})
            continue
        kept.append(item)
    kept.extend({"topic": topic, "status": status} for topic, status in control.incidents)
    return kept


ENDPOINT_ITEMS: Final[dict[str, Callable[[Plan], list[JsonItem]]]] = {
    "mms": mms_items,
    "support": support_items,
    "accendent": incident_items,
}


def endpoint_items(plan: Plan, endpoint: str) -> list[JsonItem]:
    """The JSON-able body of ``/mms``, ``/support`` or ``/accendent``."""
    try:
        make = ENDPOINT_ITEMS[endpoint]
    except KeyError:
        raise ValueError(f"unknown endpoint {endpoint!r}") from None
    return make(plan)


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the way the original simulator sent it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def endpoint_body(plan: Plan, endpoint: str) -> bytes:
    """The bytes the endpoint sends when it has no fault."""
    return encode_json(endpoint_items(plan, endpoint))
