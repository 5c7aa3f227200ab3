"""Verdicts (SPEC §7): one set of rules from the collected records to a verdict per cell.

Pure: the page, the Statuspage-compatible API, the feed, the badges and the history all read
the verdicts computed here, never their own (the cells and their names are in ``cells``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from statusd.sources.records import (
    BillingRecord,
    EmailRecord,
    MmsRecord,
    SmsRecord,
    SupportTopic,
    VoiceRecord,
)
from statusd.verdicts.cells import (
    BILLING_FUNCTIONS,
    COUNTRY_PRODUCTS,
    DEGRADED,
    MAJOR,
    OPERATIONAL,
    PARTIAL,
    PRODUCT_SOURCE,
    SEVERITY,
    SUPPORT_KEY,
    UNKNOWN,
    Cell,
    VerdictSet,
    cell_sort_key,
)


@dataclass(frozen=True, slots=True)
class VerdictThresholds:
    """The limits of a good provider row (TOML table ``[verdicts]``); defaults of SPEC §7."""

    sms_max_response_time: int = 1000
    sms_min_bandwidth: int = 20
    mms_max_response_time: int = 1000
    mms_min_bandwidth: int = 20
    voice_min_connection_stability: float = 0.8
    voice_min_voice_purity: int = 50
    voice_max_ttfb: int = 500
    voice_max_bandwidth: int = 90
    email_max_delivery_time: int = 300

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> VerdictThresholds:
        """Thresholds from the ``[verdicts]`` table; a ValueError names a bad or unknown key."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise ValueError(f"[verdicts]: unknown key {key!r}")
            values[key] = _threshold(key, value)
        return cls(**values)


def _threshold(key: str, value: object) -> int | float:
    """One checked threshold: the type of its default, in the range its rule allows."""
    if key == "voice_min_connection_stability":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"[verdicts] {key}: expected a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or not 0.0 <= number <= 1.0:
            raise ValueError(f"[verdicts] {key}: must be between 0 and 1, got {value!r}")
        return number
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"[verdicts] {key}: expected a whole number, got {value!r}")
    percent = key.endswith(("_bandwidth", "_voice_purity"))
    if value < 0 or (percent and value > 100):
        bounds = "between 0 and 100" if percent else ">= 0"
        raise ValueError(f"[verdicts] {key}: must be {bounds}, got {value!r}")
    return value


# --- row rules --------------------------------------------------------------------------------


def is_good_sms_row(row: SmsRecord, thresholds: VerdictThresholds) -> bool:
    """An SMS row is good when it answers fast enough with enough bandwidth (limits included)."""
    return (
        int(row.response_time) <= thresholds.sms_max_response_time
        and int(row.bandwidth) >= thresholds.sms_min_bandwidth
    )


def is_good_mms_row(row: MmsRecord, thresholds: VerdictThresholds) -> bool:
    """An MMS row is good by the SMS rule with the MMS limits."""
    return (
        int(row.response_time) <= thresholds.mms_max_response_time
        and int(row.bandwidth) >= thresholds.mms_min_bandwidth
    )


def is_good_voice_row(row: VoiceRecord, thresholds: VerdictThresholds) -> bool:
    """A voice row is good when stable, clear, quick to answer and not overloaded."""
    return (
        row.connection_stability >= thresholds.voice_min_connection_stability
        and row.voice_purity >= thresholds.voice_min_voice_purity
        and row.ttfb <= thresholds.voice_max_ttfb
        and int(row.bandwidth) <= thresholds.voice_max_bandwidth
    )


def is_good_email_row(row: EmailRecord, thresholds: VerdictThresholds) -> bool:
    """An email row is good when mail is delivered within the limit."""
    return row.delivery_time <= thresholds.email_max_delivery_time


def support_load(total_tickets: int) -> int:
    """Support load 1, 2 or 3 from the open tickets of every topic (SPEC §2)."""
    if total_tickets < 9:
        return 1
    return 2 if total_tickets <= 16 else 3


SUPPORT_VERDICTS = {1: OPERATIONAL, 2: DEGRADED, 3: PARTIAL}


def rule_texts(thresholds: VerdictThresholds) -> dict[str, dict[str, Any]]:
    """The rules in words and numbers, for the page's tooltips (``/api/verdicts`` ``rules``)."""
    t = thresholds
    return {
        "sms": {
            "text": f"good when response_time ≤ {t.sms_max_response_time} ms "
            f"and bandwidth ≥ {t.sms_min_bandwidth} %",
            "max_response_time": t.sms_max_response_time,
            "min_bandwidth": t.sms_min_bandwidth,
        },
        "mms": {
            "text": f"good when response_time ≤ {t.mms_max_response_time} ms "
            f"and bandwidth ≥ {t.mms_min_bandwidth} %",
            "max_response_time": t.mms_max_response_time,
            "min_bandwidth": t.mms_min_bandwidth,
        },
        "voice": {
            "text": f"good when connection_stability ≥ {t.voice_min_connection_stability:g}, "
            f"voice_purity ≥ {t.voice_min_voice_purity}, ttfb ≤ {t.voice_max_ttfb} ms "
            f"and bandwidth (load) ≤ {t.voice_max_bandwidth} %",
            "min_connection_stability": t.voice_min_connection_stability,
            "min_voice_purity": t.voice_min_voice_purity,
            "max_ttfb": t.voice_max_ttfb,
            "max_bandwidth": t.voice_max_bandwidth,
        },
        "email": {
            "text": f"good when delivery_time ≤ {t.email_max_delivery_time} ms",
            "max_delivery_time": t.email_max_delivery_time,
        },
        "country": {
            "text": "operational when at least one provider row of the country is good, "
            "degraded_performance when it has rows but none is good",
        },
        "billing": {"text": "operational when the function is up, major_outage when down"},
        "support": {
            "text": "load 1 (< 9 open tickets) operational, 2 (9–16) degraded_performance, "
            "3 (> 16) partial_outage",
        },
        "unknown": {"text": "unknown when the source has no good result younger than stale_after"},
    }


RowRule = Callable[[Any, VerdictThresholds], bool]
"""``is_good_<product>_row``: whether one provider row of that product is good."""


@dataclass(frozen=True, slots=True)
class CountryProviders:
    """The providers one country's rows name, and those with at least one good row."""

    providers: frozenset[str]
    good: frozenset[str]


@dataclass(frozen=True, slots=True)
class CountrySummary:
    """What a product's country cells need of its rows, under the thresholds given.

    A worker process that parses a million rows sends this instead of the rows
    (``collect.bigparse``): a few hundred countries, whatever the size of the input.
    """

    product: str
    thresholds: VerdictThresholds
    countries: Mapping[str, CountryProviders]


SUMMARY_CHUNK_ROWS = 4096


def summarize_countries(
    product: str, rows: Iterable[Any], thresholds: VerdictThresholds
) -> CountrySummary:
    """Each country's providers and good providers (by ``ROW_RULES[product]``).

    Only whether *some* row of a (country, provider) pair is good matters, so rows are
    taken ``SUMMARY_CHUNK_ROWS`` at a time: a chunk whose pairs (found in C loops) are all
    known good already is not looked at row by row (property-tested against the plain loop;
    docs/bench.md, "figures behind the code").
    """
    is_good = ROW_RULES[product]
    rows = rows if isinstance(rows, Sequence) else list(rows)
    country_of, provider_of = attrgetter("country"), attrgetter("provider")
    pairs: set[tuple[str, str]] = set()
    good_pairs: set[tuple[str, str]] = set()
    for start in range(0, len(rows), SUMMARY_CHUNK_ROWS):
        chunk = rows[start : start + SUMMARY_CHUNK_ROWS]
        found = set(zip(map(country_of, chunk), map(provider_of, chunk), strict=True))
        pairs |= found
        if found <= good_pairs:
            continue
        for row in chunk:
            pair = (row.country, row.provider)
            if pair not in good_pairs and is_good(row, thresholds):
                good_pairs.add(pair)
    providers: dict[str, set[str]] = {}
    good: dict[str, set[str]] = {}
    for country, provider in pairs:
        providers.setdefault(country, set()).add(provider)
    for country, provider in good_pairs:
        good.setdefault(country, set()).add(provider)
    countries = {
        country: CountryProviders(frozenset(names), frozenset(good.get(country, ())))
        for country, names in sorted(providers.items())
    }
    return CountrySummary(product, thresholds, countries)


def _country_cells(summary: CountrySummary, stale: bool) -> list[Cell]:
    """One cell per country with rows: good if any provider row is good."""
    product = summary.product
    cells = []
    for country, named in summary.countries.items():
        good_names = tuple(sorted(named.good))
        if stale:
            verdict, good_names = UNKNOWN, ()
        else:
            verdict = OPERATIONAL if good_names else DEGRADED
        cells.append(
            Cell(
                product, country, verdict, PRODUCT_SOURCE[product], good_names, len(named.providers)
            )
        )
    return cells


def _billing_cells(rows: Sequence[BillingRecord] | None, stale: bool) -> list[Cell]:
    """The six billing functions; ``unknown`` without a fresh billing record."""
    record = rows[0] if rows else None
    cells = []
    for key, attribute in BILLING_FUNCTIONS.items():
        if record is None or stale:
            verdict = UNKNOWN
        else:
            verdict = OPERATIONAL if getattr(record, attribute) else MAJOR
        cells.append(Cell("billing", key, verdict, "billing"))
    return cells


def _support_cell(rows: Sequence[SupportTopic] | None, stale: bool) -> Cell:
    """The support cell from the load of all open tickets."""
    if rows is None or stale:
        verdict = UNKNOWN
    else:
        verdict = SUPPORT_VERDICTS[support_load(sum(row.active_tickets for row in rows))]
    return Cell("support", SUPPORT_KEY, verdict, "support")


ROW_RULES: Mapping[str, RowRule] = {
    "sms": is_good_sms_row,
    "mms": is_good_mms_row,
    "voice": is_good_voice_row,
    "email": is_good_email_row,
}


class CountryCellCache:
    """The country cells of each product, kept while its records and staleness stay the same.

    A collection whose input did not change hands over the very same records object
    (``collect.supervisor.collect_once``), so most rebuilds find every product here and only the
    billing, support and incident parts are computed again.
    """

    def __init__(self) -> None:
        self._entries: dict[
            str, tuple[Sequence[Any] | CountrySummary, bool, VerdictThresholds, list[Cell]]
        ] = {}

    def cells(
        self,
        product: str,
        rows: Sequence[Any] | CountrySummary,
        thresholds: VerdictThresholds,
        stale: bool,
    ) -> list[Cell]:
        entry = self._entries.get(product)
        # Identity, not equality: the cache keeps ``rows`` alive, so the id cannot be reused.
        if entry is not None and entry[0] is rows and entry[1] == stale and entry[2] == thresholds:
            return entry[3]
        if isinstance(rows, CountrySummary):
            if rows.product != product or rows.thresholds != thresholds:
                raise ValueError(f"{product}: rows summarized for other thresholds or product")
            summary = rows
        else:
            summary = summarize_countries(product, rows, thresholds)
        cells = _country_cells(summary, stale)
        self._entries[product] = (rows, stale, thresholds, cells)
        return cells


def compute_verdicts(
    records_by_source: Mapping[str, Sequence[Any] | CountrySummary | None],
    thresholds: VerdictThresholds,
    *,
    stale: Set[str] = frozenset(),
    document_ok: bool = True,
    cache: CountryCellCache | None = None,
) -> VerdictSet:
    """The verdict of every cell and the overall indicator.

    ``records_by_source`` maps the /api source names (``sms``, ``mms``, ``voice_call``,
    ``email``, ``billing``, ``support``, ``incident``) to the records of the last good result,
    even an old one, or for a country source a ``CountrySummary`` of them made under these
    thresholds (a worker process's result); a missing key or ``None`` means no result at
    all (no country cells; billing and support cells ``unknown``). Sources named in
    ``stale`` have no good result younger than ``stale_after``: their cells are ``unknown``.
    ``document_ok`` is False when ``/api`` serves the error document (indicator
    ``critical``). ``cache`` keeps country cells between calls (see ``CountryCellCache``).
    """
    cache = cache or CountryCellCache()
    cells: list[Cell] = []
    for product in COUNTRY_PRODUCTS:
        source = PRODUCT_SOURCE[product]
        rows = records_by_source.get(source)
        if rows is not None:
            cells += cache.cells(product, rows, thresholds, source in stale)
    cells += _billing_cells(_rows(records_by_source, "billing"), "billing" in stale)
    cells.append(_support_cell(_rows(records_by_source, "support"), "support" in stale))
    cells.sort(key=lambda cell: cell_sort_key(cell.product, cell.key))
    incident_rows = _rows(records_by_source, "incident")
    incidents = None if incident_rows is None else tuple(incident_rows)
    return VerdictSet(
        cells={(cell.product, cell.key): cell for cell in cells},
        indicator=overall_indicator(
            (cell.verdict for cell in cells),
            any(incident.status == "active" for incident in incidents or ()),
            document_ok=document_ok,
        ),
        incidents=incidents,
    )


def _rows(
    records_by_source: Mapping[str, Sequence[Any] | CountrySummary | None], source: str
) -> Sequence[Any] | None:
    """The records of a source that is not summarized (billing, support, incident)."""
    rows = records_by_source.get(source)
    if isinstance(rows, CountrySummary):
        raise ValueError(f"{source}: only country sources are summarized")
    return rows


def overall_indicator(
    verdicts: Iterable[str], incident_active: bool, *, document_ok: bool = True
) -> str:
    """Statuspage's indicator: critical > major > minor > none (SPEC §7)."""
    if not document_ok:
        return "critical"
    seen = set(verdicts)
    if seen & {MAJOR, PARTIAL}:
        return "major"
    if seen & {DEGRADED, UNKNOWN} or incident_active:
        return "minor"
    return "none"


def worst_verdict(verdicts: Iterable[str]) -> str:
    """The most severe verdict (``unknown`` ranks between operational and degraded)."""
    return max(verdicts, key=SEVERITY.__getitem__, default=UNKNOWN)
