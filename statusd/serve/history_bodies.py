"""Response bodies of ``/api/history`` (JSON) and ``/api/history.csv`` (SPEC §7)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from statusd.history.reader import DayBucket, MonthRow
from statusd.history.schema import uptime
from statusd.verdicts.cells import VERDICTS, cell_name


def _whole(seconds: Mapping[str, float]) -> dict[str, int]:
    return {verdict: round(seconds.get(verdict, 0.0)) for verdict in VERDICTS}


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def history_json(product: str, key: str, buckets: Sequence[DayBucket]) -> dict[str, Any]:
    """``/api/history``: the cell, its uptime over the period, and its daily buckets."""
    total: dict[str, float] = {}
    for bucket in buckets:
        for verdict, amount in bucket.seconds.items():
            total[verdict] = total.get(verdict, 0.0) + amount
    return {
        "product": product,
        "key": key,
        "name": cell_name(product, key),
        "days": len(buckets),
        "uptime": _ratio(uptime(total)),
        "seconds": _whole(total),
        "buckets": [
            {"date": b.date, "uptime": _ratio(b.uptime), "seconds": _whole(b.seconds)}
            for b in buckets
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
    """``/api/history.csv``: one row per cell per day (UTF-8, CRLF lines as RFC 4180 says)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        cell = (row.product, row.key)
        name = names.get(cell)
        if name is None:
            name = names[cell] = cell_name(row.product, row.key)
        seconds = row.seconds
        ratio = uptime(seconds)
        writer.writerow(
            (
                row.date,
                row.product,
                row.key,
                name,
                *[round(seconds.get(verdict, 0.0)) for verdict in VERDICTS],
                "" if ratio is None else f"{ratio:.6f}",
            )
        )
    return out.getvalue().encode()
