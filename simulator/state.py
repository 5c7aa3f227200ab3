"""What a running simulator holds: the current generation of data and the fault of each endpoint.

Regenerations and control changes are serialised by a lock: the files are written
(atomically, in worker threads) before the endpoint bodies switch, and a reader of the
snapshot always gets one whole generation. The control (degraded cells, steady mode, …) is
part of the plan, so a regeneration keeps it; a control change keeps the generation and
rewrites only the one output it concerns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import trio

from simulator.atomic import write_atomic
from simulator.control import Control
from simulator.faults import Mode
from simulator.generate import (
    ENDPOINTS,
    FILE_NAMES,
    JsonItem,
    Plan,
    encode_json,
    endpoint_items,
    file_chunks,
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The endpoint data of one generation: the items and their encoded bodies."""

    plan: Plan
    items: Mapping[str, list[JsonItem]]
    bodies: Mapping[str, bytes]


def build_snapshot(
    plan: Plan, previous: Snapshot | None = None, outputs: Collection[str] = ENDPOINTS
) -> Snapshot:
    """The three endpoint bodies of ``plan``: those in ``outputs`` generated, the rest reused.

    Reusing ``previous`` is only right when its plan differs from ``plan`` in nothing that
    concerns the other endpoints (a control change of one output).
    """
    items = dict(previous.items) if previous is not None else {}
    bodies = dict(previous.bodies) if previous is not None else {}
    for endpoint in ENDPOINTS:
        if endpoint in outputs or endpoint not in items:
            items[endpoint] = endpoint_items(plan, endpoint)
            bodies[endpoint] = encode_json(items[endpoint])
    return Snapshot(plan, items, bodies)


async def write_files(plan: Plan, data_dir: Path, names: Collection[str] = FILE_NAMES) -> None:
    """Write the data files ``names`` (default all four) of ``plan`` to ``data_dir``, atomically."""
    for name in FILE_NAMES:
        if name in names:
            await write_atomic(data_dir / name, file_chunks(plan, name))


class SimulatorState:
    """The mutable heart of a simulator: current snapshot, faults and settings for faults."""

    def __init__(
        self,
        snapshot: Snapshot,
        data_dir: Path,
        *,
        faults: Mapping[str, Mode] | None = None,
        slow_seconds: float = 3.0,
    ) -> None:
        self.snapshot = snapshot
        self.data_dir = data_dir
        self.slow_seconds = slow_seconds
        self.faults: dict[str, Mode] = dict.fromkeys(ENDPOINTS, Mode.OK)
        self.faults.update(faults or {})
        self.hanging: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        """Requests of each endpoint held open by ``hang`` right now (tests wait on it)."""
        self._lock = trio.Lock()

    @classmethod
    async def create(
        cls,
        plan: Plan,
        data_dir: Path,
        *,
        faults: Mapping[str, Mode] | None = None,
        slow_seconds: float = 3.0,
    ) -> SimulatorState:
        """Write the files of ``plan`` and hold its endpoint data."""
        await write_files(plan, data_dir)
        snapshot = await trio.to_thread.run_sync(build_snapshot, plan)
        return cls(snapshot, data_dir, faults=faults, slow_seconds=slow_seconds)

    async def regenerate(self) -> Plan:
        """Write the next generation's files, then switch the endpoints to it."""
        async with self._lock:
            plan = self.snapshot.plan.next()
            await write_files(plan, self.data_dir)
            self.snapshot = await trio.to_thread.run_sync(build_snapshot, plan)
            return plan

    async def change_control(self, change: Callable[[Control], Control], output: str) -> Control:
        """Apply ``change`` to the control; rewrite ``output`` (a file or endpoint) if it changed.

        The generation stays: only the cells the change concerns get other values. ``change``
        may raise (``ControlError``), leaving everything as it was.
        """
        async with self._lock:
            current = self.snapshot
            control = change(current.plan.control)
            if control == current.plan.control:
                return control
            plan = replace(current.plan, control=control)
            await write_files(plan, self.data_dir, (output,))
            self.snapshot = await trio.to_thread.run_sync(build_snapshot, plan, current, (output,))
            return control
