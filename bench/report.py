"""Results of the benchmarks: targets checked, tables printed, JSON written under results/."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RESULTS_DIR = Path(__file__).with_name("results")


@dataclass(frozen=True, slots=True)
class Target:
    """One target of issue 7: ``value`` compared with ``limit`` (``<=`` or ``>=``)."""

    what: str
    value: float
    limit: float
    op: Literal["<=", ">="]
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def line(self) -> str:
        verdict = "met" if self.met else "NOT MET"
        target = f"target {self.op} {self.limit:g}{self.unit}"
        return f"{self.what}: {self.value:g}{self.unit} ({target}) {verdict}"

    def as_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "value": self.value,
            "limit": self.limit,
            "op": self.op,
            "unit": self.unit,
            "met": self.met,
        }


@dataclass
class Section:
    """The outcome of one measurement: a table, its targets and the raw figures."""

    title: str
    headers: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        cells = [[str(h) for h in self.headers]] + [[_cell(v) for v in row] for row in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.headers))]
        lines = [f"== {self.title}"]
        for index, row in enumerate(cells):
            lines.append(
                "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
            )
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        lines += [f"  * {target.line()}" for target in self.targets]
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "headers": list(self.headers),
            "rows": [[_plain(v) for v in row] for row in self.rows],
            "targets": [target.as_json() for target in self.targets],
            "notes": self.notes,
            "data": self.data,
        }


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _plain(value: object) -> object:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def median(values: Sequence[float]) -> float:
    """The median, rounded for tables (the raw values go to the JSON)."""
    return round(statistics.median(values), 3)


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank; inf counts; 0 for
    no values)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def machine() -> dict[str, Any]:
    """What the figures were measured on (they are only comparable within one run)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
    }


def write_results(
    sections: Sequence[Section],
    *,
    smoke: bool,
    about: dict[str, Any],
    directory: Path = RESULTS_DIR,
) -> Path:
    """Write every section as JSON (``results/<time>[-smoke].json``); the path written."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}{'-smoke' if smoke else ''}.json"
    payload = {
        "machine": about,
        "smoke": smoke,
        "sections": [section.as_json() for section in sections],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
