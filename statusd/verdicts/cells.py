"""Cells (SPEC §7): the verdicts, the products and their keys, and a computed set of verdicts.

A *cell* is (product, country) for ``sms``, ``mms``, ``voice`` and ``email``; (``billing``,
function) for the six billing functions; and the single cell (``support``, ``support``). Its
verdict is one of Statuspage's four component statuses or ``unknown`` (no fresh data: never
``operational`` for what statusd cannot see); during a planned maintenance window it is
Statuspage's fifth, ``under_maintenance``, whatever the data says (``maintenance.overlay``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from statusd.countries import country_name
from statusd.sources.records import IncidentRecord

OPERATIONAL = "operational"
DEGRADED = "degraded_performance"
PARTIAL = "partial_outage"
MAJOR = "major_outage"
UNKNOWN = "unknown"
UNDER_MAINTENANCE = "under_maintenance"
VERDICTS = (OPERATIONAL, DEGRADED, PARTIAL, MAJOR, UNKNOWN, UNDER_MAINTENANCE)
"""Every verdict, best first; then ``unknown`` and ``under_maintenance``, neither up nor down
(the order of the history's columns and the CSV's)."""

VERDICT_LABELS = {
    OPERATIONAL: "operational",
    DEGRADED: "degraded performance",
    PARTIAL: "partial outage",
    MAJOR: "major outage",
    UNKNOWN: "unknown",
    UNDER_MAINTENANCE: "under maintenance",
}
"""Verdicts in words (feed titles, badges)."""

SEVERITY = {OPERATIONAL: 0, UNDER_MAINTENANCE: 1, UNKNOWN: 2, DEGRADED: 3, PARTIAL: 4, MAJOR: 5}
"""Order used to pick the worst verdict of a group of cells (planned work is better news than
no data, so a group with a cell under maintenance and the rest operational is
``under_maintenance``)."""

INDICATORS = ("none", "minor", "major", "critical")
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}
"""Statuspage's descriptions of its overall indicator."""

COUNTRY_PRODUCTS = ("sms", "mms", "voice", "email")
PRODUCTS = (*COUNTRY_PRODUCTS, "billing", "support")
"""Products in the order of every listing (cells, groups, CSV rows)."""

PRODUCT_NAMES = {
    "sms": "SMS",
    "mms": "MMS",
    "voice": "Voice",
    "email": "Email",
    "billing": "Billing",
    "support": "Support",
}

PRODUCT_SOURCE = {
    "sms": "sms",
    "mms": "mms",
    "voice": "voice_call",
    "email": "email",
    "billing": "billing",
    "support": "support",
}
"""The source each product's cells come from (the /api source names)."""

BILLING_FUNCTIONS: Mapping[str, str] = {
    "create_customer": "create_customer",
    "purchase": "purchase",
    "payout": "payout",
    "recurring": "reccuring",
    "fraud_control": "fraud_control",
    "checkout_page": "checkout_page",
}
"""Billing cell key (SPEC §1 bit names) → field of ``BillingRecord`` (the /api spelling)."""

BILLING_NAMES = {
    "create_customer": "Create customer",
    "purchase": "Purchase",
    "payout": "Payout",
    "recurring": "Recurring",
    "fraud_control": "Fraud control",
    "checkout_page": "Checkout page",
}

SUPPORT_KEY = "support"


def cell_id(product: str, key: str) -> str:
    """The text id of a cell, ``product:key`` (``sms:DE``, ``billing:payout``)."""
    return f"{product}:{key}"


def split_cell_id(text: str) -> tuple[str, str]:
    """``sms:DE`` → (``sms``, ``DE``)."""
    product, _, key = text.partition(":")
    return product, key


def cell_name(product: str, key: str) -> str:
    """A cell's display name: the country's English short name, or the function's name."""
    if product in COUNTRY_PRODUCTS:
        try:
            return country_name(key)
        except KeyError:
            return key
    if product == "billing":
        return BILLING_NAMES.get(key, key)
    return PRODUCT_NAMES.get(product, product)


def cell_sort_key(product: str, key: str) -> tuple[int, str]:
    """Listing order of cells: product order, then key."""
    rank = PRODUCTS.index(product) if product in PRODUCTS else len(PRODUCTS)
    return rank, key


@dataclass(frozen=True, slots=True)
class Cell:
    """The verdict of one cell; provider counts only for country cells."""

    product: str
    key: str
    verdict: str
    source: str
    good_providers: tuple[str, ...] = ()
    providers: int = 0
    data_verdict: str | None = None
    """Under maintenance: the verdict its data gives (else None, the data gives ``verdict``)."""

    @property
    def id(self) -> str:
        return cell_id(self.product, self.key)


@dataclass(frozen=True, slots=True)
class VerdictSet:
    """Every cell's verdict, the overall indicator and the incidents it was computed from.

    ``cells`` is keyed by (product, key) and iterates in listing order.
    """

    cells: Mapping[tuple[str, str], Cell]
    indicator: str
    incidents: tuple[IncidentRecord, ...] | None = None
    """The incident records, or None when the incident source never had a good result."""

    @property
    def description(self) -> str:
        return INDICATOR_DESCRIPTIONS[self.indicator]

    def verdict_map(self) -> dict[str, str]:
        """``{"sms:DE": "operational", …}``: what the history stores."""
        return {cell.id: cell.verdict for cell in self.cells.values()}

    def get(self, product: str, key: str) -> Cell | None:
        return self.cells.get((product, key))
