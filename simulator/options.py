"""The settings of one simulator run, parsed once by the CLI and read by everything else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simulator.control import Control
from simulator.countries import DEFAULT_COUNTRIES
from simulator.faults import Mode
from simulator.generate import Plan

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8383


@dataclass(frozen=True, slots=True)
class Options:
    """Everything ``statusd-sim`` was asked to do; see ``docs/simulator.md`` for each flag."""

    seed: int
    data_dir: Path = Path("data")
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    countries: tuple[str, ...] = DEFAULT_COUNTRIES
    rows: int | None = None
    refresh_seconds: float | None = None
    slow_ms: int = 3000
    faults: Mapping[str, Mode] = field(default_factory=dict)
    once: bool = False
    steady: bool = False
    random_seed: bool = False
    """True when no ``--seed`` was given and ``seed`` was drawn at random (it is logged)."""

    @property
    def plan(self) -> Plan:
        """The first generation of data."""
        control = Control(steady=self.steady)
        return Plan(seed=self.seed, countries=self.countries, rows=self.rows, control=control)

    @property
    def bind(self) -> str:
        """The address in hypercorn's ``bind`` syntax (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
