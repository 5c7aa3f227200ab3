"""Running the simulator: write the data, serve HTTP, refresh periodically, stop cleanly.

``serve_simulator`` owns one nursery with hypercorn and the background work (the refresh
loop). It reports the bound URL through ``task_status`` (so port 0 works in tests) and
returns once ``stop`` is set and the server has shut down, within ``SHUTDOWN_SECONDS`` even
when a ``hang`` request is still open.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Final

import hypercorn.trio
import trio
from hypercorn.config import Config

from simulator.options import Options
from simulator.server import create_app
from simulator.state import SimulatorState, write_files

GRACEFUL_SECONDS: Final = 0.5
"""In-flight requests get this long after a stop request before they are cut."""
SHUTDOWN_SECONDS: Final = 1.5
"""Hard bound on the whole shutdown, whatever hypercorn waits for."""


def hypercorn_config(options: Options) -> Config:
    """Hypercorn settings built explicitly from the options (no silent mapping)."""
    config = Config()
    config.bind = [options.bind]
    config.graceful_timeout = GRACEFUL_SECONDS
    config.loglevel = "WARNING"
    config.accesslog = None
    return config


def log(message: str) -> None:
    """One line on stderr: the simulator's only output."""
    print(f"statusd-sim: {message}", file=sys.stderr, flush=True)


async def refresh_periodically(state: SimulatorState, period: float) -> None:
    """Regenerate every ``period`` seconds; a failed write is reported and retried next time."""
    while True:
        await trio.sleep(period)
        try:
            await state.regenerate()
        except OSError as error:
            log(f"refresh failed, keeping the previous data: {error}")


async def run_background(state: SimulatorState, options: Options, stop: trio.Event) -> None:
    """The background work, cancelled as soon as a stop is requested."""
    async with trio.open_nursery() as nursery:
        if options.refresh_seconds is not None:
            nursery.start_soon(refresh_periodically, state, options.refresh_seconds)
        await stop.wait()
        nursery.cancel_scope.cancel()


async def serve_simulator(
    options: Options,
    stop: trio.Event,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write the data files, serve until ``stop`` is set, report the URL once listening."""
    state = await SimulatorState.create(
        options.plan,
        options.data_dir,
        faults=options.faults,
        slow_seconds=options.slow_ms / 1000,
    )
    app = create_app(state)
    async with trio.open_nursery() as nursery:
        serve = partial(
            hypercorn.trio.serve, app, hypercorn_config(options), shutdown_trigger=stop.wait
        )
        binds: list[str] = await nursery.start(serve)
        nursery.start_soon(run_background, state, options, stop)
        task_status.started(binds[0])
        await stop.wait()
        nursery.cancel_scope.deadline = trio.current_time() + SHUTDOWN_SECONDS


async def write_once(options: Options) -> None:
    """``--once``: write the data files of the first generation and return."""
    await write_files(options.plan, options.data_dir)
