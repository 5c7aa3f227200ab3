"""Hypothesis strategies for maintenance windows that a valid file can hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from statusd.maintenance.windows import MaintenanceWindow
from statusd.verdicts.cells import BILLING_FUNCTIONS, COUNTRY_PRODUCTS, PRODUCTS

T0 = 1_772_326_800  # 2026-03-01T01:00:00Z
COUNTRIES = ("DE", "FR", "US", "GB")
FUNCTIONS = tuple(BILLING_FUNCTIONS)
CELLS = (
    *(f"{product}:{country}" for product in COUNTRY_PRODUCTS for country in COUNTRIES),
    *(f"billing:{function}" for function in FUNCTIONS),
    "support:support",
)
"""The cells of a small page (every product, four countries)."""

OFFSETS = (UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5, minutes=30)))

ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True)
plain_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(str.strip)
body_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t"), max_size=60
)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """A whole-second instant near T0, written in one of a few offsets."""
    seconds = draw(st.integers(0, 40))
    return datetime.fromtimestamp(T0 + 600 * seconds, draw(st.sampled_from(OFFSETS)))


def _subset(items: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(items), unique=True, max_size=len(items)).map(tuple)


@st.composite
def windows(draw: st.DrawFn, window_id: str | None = None) -> MaintenanceWindow:
    """A window a file may hold (the cross-key rules of the scope respected)."""
    start = draw(instants())
    end = start + timedelta(minutes=10 * draw(st.integers(1, 12)))
    products = draw(_subset(PRODUCTS))
    country_scope = not products or bool(set(products) & set(COUNTRY_PRODUCTS))
    countries = draw(_subset(COUNTRIES)) if country_scope else ()
    billing_scope = not products or "billing" in products
    functions = draw(_subset(FUNCTIONS)) if billing_scope else ()
    return MaintenanceWindow(
        id=window_id if window_id is not None else draw(ids),
        title=draw(plain_text),
        start=start,
        end=end.astimezone(draw(st.sampled_from(OFFSETS))),
        products=products,
        countries=countries,
        functions=functions,
        body=draw(body_text),
    )


@st.composite
def window_sets(draw: st.DrawFn, max_size: int = 6) -> tuple[MaintenanceWindow, ...]:
    """Windows with distinct ids, as one file holds them."""
    names = draw(st.lists(ids, unique=True, max_size=max_size))
    return tuple(draw(windows(name)) for name in names)
