"""Response bodies of ``/api/history`` (JSON) and ``/api/history.csv`` (SPEC §7)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from statusd.history.reader import DayBucket, MonthRow
from statusd.history.schema import uptime
from statusd.verdicts.cells import VERDICTS, cell_name


def shown_seconds(seconds: Mapping[str, float]) -> dict[str, int]:
    """Whole seconds per verdict (every verdict, zeros included): what /api/history and the
    CSV show of a day's stored milliseconds."""
    return {verdict: round(seconds.get(verdict, 0.0)) for verdict in VERDICTS}


def shown_uptime(shown: Mapping[str, int]) -> float | None:
    """The uptime of shown whole seconds, so a reader recomputing it from the seconds a row
    or bucket shows gets the same figure (SPEC §7); six decimals, None without known time."""
    ratio = uptime(shown)
    return None if ratio is None else round(ratio, 6)


def history_json(product: str, key: str, buckets: Sequence[DayBucket]) -> dict[str, Any]:
    """``/api/history``: the cell, its uptime over the period, and its daily buckets.

    Each bucket's ``uptime`` is computed from the whole seconds it shows, and the period's
    ``seconds`` are the sum of the buckets' (its ``uptime`` from those), so every figure
    recomputes from the numbers next to it.
    """
    shown = [shown_seconds(bucket.seconds) for bucket in buckets]
    total = {verdict: sum(day[verdict] for day in shown) for verdict in VERDICTS}
    return {
        "product": product,
        "key": key,
        "name": cell_name(product, key),
        "days": len(buckets),
        "uptime": shown_uptime(total),
        "seconds": total,
        "buckets": [
            {"date": bucket.date, "uptime": shown_uptime(day), "seconds": day}
            for bucket, day in zip(buckets, shown, strict=True)
        ],
    }


CSV_HEADER = (
    "date",
    "product",
    "key",
    "name",
    *(f"{verdict}_seconds" for verdict in VERDICTS),
    "uptime",
)


def history_csv(rows: Sequence[MonthRow]) -> bytes:
    """``/api/history.csv``: one row per cell per day (UTF-8, CRLF lines as RFC 4180 says);
    a row's ``uptime`` is computed from the whole seconds it shows (``shown_uptime``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        cell = (row.product, row.key)
        name = names.get(cell)
        if name is None:
            name = names[cell] = cell_name(row.product, row.key)
        shown = shown_seconds(row.seconds)
        ratio = shown_uptime(shown)
        writer.writerow(
            (
                row.date,
                row.product,
                row.key,
                name,
                *shown.values(),
                "" if ratio is None else f"{ratio:.6f}",
            )
        )
    return out.getvalue().encode()
