"""Maintenance windows (SPEC §9): the file's format, its validation, and which cells a window
puts ``under_maintenance`` when.

Pure: text in, frozen windows out; every question about time takes the instant as UNIX
seconds. A window is the half-open interval ``[start, end)``: at ``start`` its cells are under
maintenance, at ``end`` they are not any more.

The file (``maintenance_file``) is TOML with one array of tables and nothing else::

    [[maintenance]]
    id = "sms-de-2026-03"                    # a safe token: a-z 0-9 . _ -, at most 64
    title = "SMS to Germany: carrier upgrade"
    body = "Messages may be delayed."        # optional, may span lines
    start = 2026-03-01T02:00:00+01:00        # RFC 3339 with offset (TOML date-time or string)
    end = 2026-03-01T04:00:00+01:00          # after start
    products = ["sms", "billing"]            # sms mms voice email billing support; [] = all
    countries = ["DE"]                       # ISO 3166-1 alpha-2; [] = all
    functions = ["payout"]                   # optional: billing functions; absent or [] = all

Scope (as SPEC §8): each list narrows its own dimension and an empty list means all.
``countries`` narrows the country products (sms, mms, voice, email) only, ``functions`` the
billing cells only; billing functions and support have no country. A list that could narrow
nothing in scope (``functions`` while ``products`` leaves billing out, ``countries`` while it
names no country product) is refused as the mistake it most likely is.

Errors: ``MaintenanceFileError`` (a ``ValueError``), one per file, naming the window (1-based
index and id) and the key.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from statusd.countries import country_name, is_country
from statusd.verdicts.cells import (
    BILLING_FUNCTIONS,
    BILLING_NAMES,
    COUNTRY_PRODUCTS,
    PRODUCT_NAMES,
    PRODUCTS,
    split_cell_id,
)

TABLE: Final = "maintenance"
"""The only top-level key of the file: its array of tables."""

REQUIRED_KEYS: Final = ("id", "title", "start", "end", "products", "countries")
OPTIONAL_KEYS: Final = ("body", "functions")
WINDOW_KEYS: Final = (*REQUIRED_KEYS, *OPTIONAL_KEYS)

SCHEDULED: Final = "scheduled"
IN_PROGRESS: Final = "in_progress"
COMPLETED: Final = "completed"
"""A window's status at an instant, as Statuspage names them."""

MAX_TITLE: Final = 200
MAX_BODY: Final = 10_000
ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)


class MaintenanceFileError(ValueError):
    """The text is not a valid maintenance file; the message says where and why."""


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One planned window: what (scope), when (``[start, end)``, aware datetimes) and why."""

    id: str
    title: str
    start: datetime
    end: datetime
    products: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    body: str = ""

    @property
    def start_at(self) -> float:
        """``start`` in UNIX seconds."""
        return self.start.timestamp()

    @property
    def end_at(self) -> float:
        """``end`` in UNIX seconds."""
        return self.end.timestamp()

    def status_at(self, at: float) -> str:
        """``scheduled`` before start, ``in_progress`` during, ``completed`` from end on."""
        if at < self.start_at:
            return SCHEDULED
        return IN_PROGRESS if at < self.end_at else COMPLETED

    def covers_cell(self, product: str, key: str) -> bool:
        """True when the cell (product, key) is in the window's scope (whatever the time)."""
        if product not in PRODUCTS or (self.products and product not in self.products):
            return False
        if product in COUNTRY_PRODUCTS:
            return not self.countries or key in self.countries
        if product == "billing":
            return key in BILLING_FUNCTIONS and (not self.functions or key in self.functions)
        return True

    def concerns(self, *, product: str | None = None, country: str | None = None) -> bool:
        """True when the window affects ``product`` and/or ``country`` (None = any).

        The filter of the calendar, the feed and the region view: a country is concerned by
        its own country cells and by every billing or support cell in scope (they have no
        country, so they concern every country).
        """
        products = [p for p in (self.products or PRODUCTS) if product is None or p == product]
        if country is None:
            return bool(products)
        return any(
            p not in COUNTRY_PRODUCTS or not self.countries or country in self.countries
            for p in products
        )

    @property
    def digest(self) -> str:
        """A fingerprint of everything the window says (instants, not their offsets)."""
        parts = (
            self.id,
            self.title,
            self.body,
            repr(self.start_at),
            repr(self.end_at),
            ",".join(self.products),
            ",".join(self.countries),
            ",".join(self.functions),
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


# --- parsing ------------------------------------------------------------------------------------


def parse_maintenance_toml(text: str) -> tuple[MaintenanceWindow, ...]:
    """Every window of the file, in file order; MaintenanceFileError for the first problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MaintenanceFileError(f"not valid TOML: {error}") from None
    unknown = sorted(set(document) - {TABLE})
    if unknown:
        raise MaintenanceFileError(
            f"unknown top-level key {unknown[0]!r} (the file holds only [[{TABLE}]] tables)"
        )
    tables = document.get(TABLE, [])
    if not isinstance(tables, list):
        raise MaintenanceFileError(f"{TABLE!r} must be an array of tables ([[{TABLE}]])")
    windows: list[MaintenanceWindow] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables, start=1):
        window = parse_window(table, index)
        if window.id in seen:
            raise MaintenanceFileError(
                f"window {index} ({window.id}): key 'id': {window.id!r} is already "
                f"the id of window {seen[window.id]}"
            )
        seen[window.id] = index
        windows.append(window)
    return tuple(windows)


def parse_window(table: object, index: int) -> MaintenanceWindow:
    """One ``[[maintenance]]`` table (``index`` 1-based, for the messages)."""
    if not isinstance(table, dict):
        raise MaintenanceFileError(f"window {index}: must be a table, not {_type(table)}")
    where = f"window {index}"
    raw_id = table.get("id")
    if isinstance(raw_id, str) and ID_PATTERN.fullmatch(raw_id):
        where = f"window {index} ({raw_id})"
    unknown = sorted(set(table) - set(WINDOW_KEYS))
    if unknown:
        raise MaintenanceFileError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(WINDOW_KEYS)})"
        )
    for key in REQUIRED_KEYS:
        if key not in table:
            raise MaintenanceFileError(f"{where}: missing key {key!r}")
    fields = _Fields(table, where)
    window = MaintenanceWindow(
        id=fields.text("id", pattern=ID_PATTERN),
        title=fields.text("title", limit=MAX_TITLE),
        body=fields.text("body", limit=MAX_BODY, multiline=True, default=""),
        start=fields.instant("start"),
        end=fields.instant("end"),
        products=fields.names("products", PRODUCTS, "product"),
        countries=fields.names("countries", None, "country"),
        functions=fields.names("functions", tuple(BILLING_FUNCTIONS), "billing function"),
    )
    if window.end_at <= window.start_at:
        raise MaintenanceFileError(
            f"{where}: key 'end': {iso(window.end)} is not after start {iso(window.start)}"
        )
    if window.functions and window.products and "billing" not in window.products:
        raise MaintenanceFileError(
            f"{where}: key 'functions': billing functions given but 'products' leaves out "
            "'billing' (add it, or use products = [] for all)"
        )
    if window.countries and window.products and not set(window.products) & set(COUNTRY_PRODUCTS):
        raise MaintenanceFileError(
            f"{where}: key 'countries': countries given but no product in 'products' has "
            f"countries ({', '.join(COUNTRY_PRODUCTS)}); billing and support have none"
        )
    return window


@dataclass(frozen=True, slots=True)
class _Fields:
    """Typed reads of one window's keys, each error naming the window and the key."""

    table: Mapping[str, Any]
    where: str

    def fail(self, key: str, problem: str) -> MaintenanceFileError:
        return MaintenanceFileError(f"{self.where}: key {key!r}: {problem}")

    def text(
        self,
        key: str,
        *,
        pattern: re.Pattern[str] | None = None,
        limit: int = 64,
        multiline: bool = False,
        default: str | None = None,
    ) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_type(value)}")
        if multiline:
            value = value.replace("\r\n", "\n")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(
                key,
                f"{value!r} is not a safe id: 1 to 64 of a-z 0-9 . _ - starting with a-z or 0-9",
            )
        if pattern is None and not multiline and not value.strip():
            raise self.fail(key, "must not be empty")
        if len(value) > limit:
            raise self.fail(key, f"longer than {limit} characters")
        allowed = {"\n", "\t"} if multiline else set()
        bad = next((c for c in value if c not in allowed and _is_control(c)), None)
        if bad is not None:
            raise self.fail(key, f"contains the control character U+{ord(bad):04X}")
        return value

    def instant(self, key: str) -> datetime:
        value = self.table[key]
        if isinstance(value, str):
            try:
                value = parse_rfc3339(value)
            except ValueError as error:
                raise self.fail(key, str(error)) from None
        if not isinstance(value, datetime):
            raise self.fail(key, f"must be an RFC 3339 date-time with offset, not {_type(value)}")
        if value.utcoffset() is None:
            raise self.fail(key, f"{value.isoformat()} has no UTC offset (add Z or +HH:MM)")
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise self.fail(key, f"{value.isoformat()} is out of range") from None
        return value

    def names(self, key: str, allowed: Sequence[str] | None, what: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, f"must be a list of strings, not {_type(value)}")
        seen: set[str] = set()
        for item in value:
            known = is_country(item) if allowed is None else item in allowed
            if not known:
                hint = (
                    "an upper-case ISO 3166-1 alpha-2 code"
                    if allowed is None
                    else f"one of {', '.join(allowed)}"
                )
                raise self.fail(key, f"unknown {what} {item!r} (expected {hint})")
            if item in seen:
                raise self.fail(key, f"{item!r} is listed twice")
            seen.add(item)
        return tuple(value)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with offset (``2026-03-01T02:00:00+01:00``, ``…Z``); ValueError
    with the reason otherwise (no offset, a date alone, another ISO 8601 form)."""
    if not RFC3339.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 3339 date-time with offset (like {EXAMPLE})")
    try:
        return datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date-time: {error}") from None


EXAMPLE: Final = "2026-03-01T02:00:00+01:00"


def iso(value: datetime) -> str:
    """A window time as written in the file (its own offset kept)."""
    return value.isoformat()


def _type(value: object) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cs"}


# --- scope and time -----------------------------------------------------------------------------


def cells_in_scope(window: MaintenanceWindow, cells: Iterable[str]) -> frozenset[str]:
    """The cell ids (``sms:DE``) among ``cells`` that the window covers."""
    return frozenset(cell for cell in cells if window.covers_cell(*split_cell_id(cell)))


def window_covers(window: MaintenanceWindow, cell: str, at: float) -> bool:
    """True when the window puts ``cell`` under maintenance at ``at``."""
    return window.status_at(at) == IN_PROGRESS and window.covers_cell(*split_cell_id(cell))


def active_windows(
    windows: Iterable[MaintenanceWindow], at: float
) -> tuple[MaintenanceWindow, ...]:
    """The windows in progress at ``at``, earliest start first."""
    running = (w for w in windows if w.status_at(at) == IN_PROGRESS)
    return tuple(sorted(running, key=_by_time))


def upcoming_windows(
    windows: Iterable[MaintenanceWindow], at: float
) -> tuple[MaintenanceWindow, ...]:
    """The windows not started yet at ``at``, soonest start first."""
    return tuple(sorted((w for w in windows if w.status_at(at) == SCHEDULED), key=_by_time))


def under_maintenance(
    windows: Iterable[MaintenanceWindow], at: float, cells: Iterable[str]
) -> frozenset[str]:
    """The cells among ``cells`` that some window in progress at ``at`` covers."""
    running = active_windows(windows, at)
    if not running:
        return frozenset()
    return frozenset(
        cell
        for cell in cells
        if any(window.covers_cell(*split_cell_id(cell)) for window in running)
    )


def next_transition(windows: Iterable[MaintenanceWindow], after: float) -> float | None:
    """The first start or end strictly after ``after`` (None if there is none).

    Every boundary counts, even one where the set of cells under maintenance stays the same
    (an overlapping window), because a window's Statuspage status and its events change
    there; between two transitions nothing maintenance-related changes, so a task can sleep
    until this instant instead of polling.
    """
    instants = (t for w in windows for t in (w.start_at, w.end_at) if t > after)
    return min(instants, default=None)


def _by_time(window: MaintenanceWindow) -> tuple[float, float, str]:
    return window.start_at, window.end_at, window.id


def scope_text(window: MaintenanceWindow) -> str:
    """The window's scope in one English line (``SMS, MMS in Germany (DE); Billing: Payout``)."""
    products = window.products or PRODUCTS
    parts = []
    country_products = [PRODUCT_NAMES[p] for p in products if p in COUNTRY_PRODUCTS]
    if country_products:
        where = (
            ", ".join(f"{country_name(code)} ({code})" for code in window.countries)
            if window.countries
            else "all countries"
        )
        parts.append(f"{', '.join(country_products)} in {where}")
    if "billing" in products:
        functions = window.functions or tuple(BILLING_FUNCTIONS)
        parts.append(f"Billing: {', '.join(BILLING_NAMES[f] for f in functions)}")
    if "support" in products:
        parts.append("Support")
    return "; ".join(parts)
