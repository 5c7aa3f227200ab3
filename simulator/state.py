"""What a running simulator holds: the current generation of data and the fault of each endpoint.

Regenerations are serialised by a lock: the files of generation N+1 are written (atomically,
in worker threads) before the endpoint bodies switch to it, and a reader of the snapshot
always gets one whole generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import trio

from simulator.atomic import write_atomic
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


def build_snapshot(plan: Plan) -> Snapshot:
    """Generate and encode the three endpoint bodies of ``plan``."""
    items = {endpoint: endpoint_items(plan, endpoint) for endpoint in ENDPOINTS}
    bodies = {endpoint: encode_json(value) for endpoint, value in items.items()}
    return Snapshot(plan, items, bodies)


async def write_files(plan: Plan, data_dir: Path) -> None:
    """Write the four data files of ``plan`` into ``data_dir``, each atomically."""
    for name in FILE_NAMES:
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
