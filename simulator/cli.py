"""``statusd-sim`` command line: flags, exit codes, signals; no data or HTTP logic here.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT) or ``--once``; 2 for a bad flag or an
unusable data directory (one line on stderr, nothing started); 1 when the simulator cannot
run (address in use, disk full), with one line saying why.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import trio

from simulator.countries import DEFAULT_COUNTRIES, parse_countries
from simulator.faults import FaultError, Mode, parse_assignment
from simulator.options import DEFAULT_HOST, DEFAULT_PORT, Options
from simulator.service import log, serve_simulator, write_once

MAX_ROWS = 100_000_000


class UsageError(Exception):
    """A flag the simulator cannot use; the message is the one line shown to the user."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every refusal is one clear line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:PORT``; port 0 picks a free port)."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port 0-65535, got {text!r}")
    return host, int(port)


def _integer(text: str, low: int, high: int) -> int:
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, got {text!r}")
    return int(text)


def parse_seed(text: str) -> int:
    """A non-negative integer."""
    return _integer(text, 0, 2**63 - 1)


def parse_rows(text: str) -> int:
    """Rows per file: 1 to ``MAX_ROWS``."""
    return _integer(text, 1, MAX_ROWS)


def parse_slow_ms(text: str) -> int:
    """Milliseconds, 0 to one hour."""
    return _integer(text, 0, 3_600_000)


def parse_refresh(text: str) -> float:
    """Seconds between regenerations: a finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def parse_country_list(text: str) -> tuple[str, ...]:
    """``all`` or ``CODE,CODE,…``."""
    try:
        return parse_countries(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_fault(text: str) -> tuple[str, Mode]:
    """``ENDPOINT=MODE``."""
    try:
        return parse_assignment(text)
    except FaultError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``statusd-sim`` (documented in docs/simulator.md)."""
    parser = _Parser(
        prog="statusd-sim",
        description="Stand-in for every statusd source: writes the data files, serves the "
        "JSON endpoints, injects faults on request.",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), metavar="DIR", help="default: data"
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=(DEFAULT_HOST, DEFAULT_PORT),
        metavar="HOST:PORT",
        help=f"default: {DEFAULT_HOST}:{DEFAULT_PORT}; port 0 picks a free port",
    )
    parser.add_argument(
        "--seed", type=parse_seed, metavar="N", help="default: random (printed at start)"
    )
    parser.add_argument(
        "--countries",
        type=parse_country_list,
        metavar="all|CODE,CODE,…",
        help="default: the 15 countries of the original simulator",
    )
    parser.add_argument(
        "--rows", type=parse_rows, metavar="N", help="N well-formed rows per data file (load tests)"
    )
    parser.add_argument(
        "--refresh", type=parse_refresh, metavar="SECONDS", help="rewrite all data every SECONDS"
    )
    parser.add_argument(
        "--slow-ms",
        type=parse_slow_ms,
        default=3000,
        metavar="MS",
        help="delay of the slow fault (default: 3000)",
    )
    parser.add_argument(
        "--fault",
        type=parse_fault,
        action="append",
        default=[],
        metavar="ENDPOINT=MODE",
        help="repeatable; modes: " + ", ".join(mode.value for mode in Mode),
    )
    parser.add_argument(
        "--steady",
        action="store_true",
        help="every row good, billing up, support load 1, no random active incident: "
        "verdicts change only through POST /_control/degrade",
    )
    parser.add_argument(
        "--once", action="store_true", help="write the data files and exit without serving"
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """The options of one run; ``UsageError`` for anything unusable."""
    args = build_parser().parse_args(argv)
    host, port = args.listen
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    return Options(
        seed=seed,
        data_dir=args.data_dir,
        host=host,
        port=port,
        countries=args.countries if args.countries is not None else DEFAULT_COUNTRIES,
        rows=args.rows,
        refresh_seconds=args.refresh,
        slow_ms=args.slow_ms,
        faults=dict(args.fault),
        once=args.once,
        steady=args.steady,
        random_seed=args.seed is None,
    )


def prepare_data_dir(path: Path) -> None:
    """Create the data directory if missing; ``UsageError`` when it cannot hold the files."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--data-dir {path}: {error.strerror or error}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--data-dir {path}: not writable")


async def stop_on_signal(
    stop: trio.Event, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Set ``stop`` at the first SIGTERM or SIGINT."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for _ in signals:
            stop.set()
            return


async def run(options: Options) -> None:
    """Write the data and serve until a signal (or only write, with ``--once``)."""
    if options.once:
        await write_once(options)
        log(f"data in {options.data_dir.resolve()}")
        return
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(stop_on_signal, stop)
        url = await nursery.start(serve_simulator, options, stop)
        print(
            f"statusd-sim listening on {url} data in {options.data_dir.resolve()}",
            file=sys.stderr,
            flush=True,
        )


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``statusd-sim`` and ``python -m simulator``; returns the exit status."""
    try:
        options = parse_args(argv)
        prepare_data_dir(options.data_dir)
    except UsageError as error:
        print(f"statusd-sim: error: {error}", file=sys.stderr, flush=True)
        return 2
    if options.random_seed:
        log(f"seed {options.seed} (pass --seed {options.seed} to get the same data again)")
    failure: BaseException | None = None
    try:
        trio.run(run, options)
    except* OSError as group:
        failure = _first_leaf(group)
    if failure is not None:
        log(f"cannot run on {options.bind} with data in {options.data_dir}: {failure}")
        return 1
    return 0
