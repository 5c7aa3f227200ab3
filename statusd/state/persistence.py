"""The state file: the last good result of every source, kept across restarts.

At start every saved input is read (``statefile``) and parsed again by its source's own parser
as a collection would parse it (``collect.parse``); ``StateWriter`` writes the file whenever a
source's good data changes, atomically (temporary file in the same directory, fsync, rename,
fsync of the directory), so a crash at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import trio

from statusd.body.spill import Body
from statusd.collect.outcome import GoodResult
from statusd.collect.parse import (
    INLINE_PARSE_BELOW,
    LastInput,
    WorkerProcesses,
    digest_of,
    parse_and_encode,
    parse_big_input,
    parse_input,
)
from statusd.mailbox import Mailbox
from statusd.sources.base import Limits, SourceSpec
from statusd.state.holder import StateView
from statusd.state.statefile import (
    SavedInput,
    StateFileError,
    decode_saved,
    encode_source,
    encode_state_pieces,
    not_restored,
)

log = logging.getLogger("statusd.persistence")

# Writes are at least this far apart, however often sources change; after a failed write
# (a full disk, say) the next try waits longer.
MIN_SECONDS_BETWEEN_WRITES = 1.0
RETRY_AFTER_FAILURE = 30.0


def write_atomically(path: Path, content: bytes | Iterable[bytes]) -> None:
    """Replace ``path`` with ``content`` (bytes, or pieces written one after the other) so
    that readers see the old or the new file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.writelines([content] if isinstance(content, bytes) else content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def parse_saved(saved: SavedInput, limits: Limits) -> GoodResult:
    """A saved input parsed again in this thread (SourceError if its parser rejects it)."""
    parse = parse_big_input if len(saved.raw) >= INLINE_PARSE_BELOW else parse_and_encode
    return parse(saved.spec, saved.raw, limits, saved.wall_time)


def decode_state(
    content: bytes, specs: Sequence[SourceSpec[Any]], limits: Limits
) -> list[GoodResult]:
    """Good results from a state file's bytes, parsed or prepared again; StateFileError if
    the file is unusable. A format-2 source that cannot be restored is skipped (warning)."""
    return parsed_here(decode_saved(content, specs, limits), limits)


def parsed_here(parts: Iterable[GoodResult | SavedInput], limits: Limits) -> list[GoodResult]:
    """The good results of ``parts``, saved inputs parsed in this thread; one whose parser
    rejects it is skipped with a warning."""
    results = []
    for part in parts:
        if isinstance(part, GoodResult):
            results.append(part)
            continue
        try:
            results.append(parse_saved(part, limits))
        except Exception as error:
            not_restored(part.spec, error)
    return results


def read_saved(
    path: Path, specs: Sequence[SourceSpec[Any]], limits: Limits
) -> list[GoodResult | SavedInput]:
    """What the state file holds (inputs not parsed), or nothing (with a warning) when the
    file is missing or unusable. Blocking: run it in a worker thread."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        log.warning(
            "state file unreadable, starting empty",
            extra={"path": str(path), "error": error.strerror},
        )
        return []
    try:
        return decode_saved(content, specs, limits)
    except StateFileError as error:
        log.warning("state file ignored", extra={"path": str(path), "error": str(error)})
        return []


def load_state(path: Path, specs: Sequence[SourceSpec[Any]], limits: Limits) -> list[GoodResult]:
    """The saved good results, or none (with a warning) when the file is missing or bad.

    Blocking and CPU-heavy (big inputs are parsed again in this thread): run it in a worker
    thread. The daemon uses ``restore_state``, which parses big inputs in worker processes.
    """
    results = parsed_here(read_saved(path, specs, limits), limits)
    log.info("state restored", extra={"path": str(path), "sources": len(results)})
    return results


async def restore_state(
    path: Path,
    specs: Sequence[SourceSpec[Any]],
    limits: Limits,
    *,
    workers: WorkerProcesses | None = None,
    last_inputs: dict[str, LastInput] | None = None,
) -> list[GoodResult]:
    """``load_state`` for the daemon: saved inputs are parsed as a collection would parse
    them (big ones in worker processes, all at once), so a restart with million-row inputs
    costs statusd no more memory than collecting them. ``last_inputs`` gets each parsed
    input's digest and result, for the collectors (``collect.parse.LastInput``)."""
    parts = await trio.to_thread.run_sync(read_saved, path, specs, limits)
    restored: dict[str, GoodResult] = {}

    async def parse_one(saved: SavedInput) -> None:
        try:
            result = await parse_input(
                saved.spec, saved.raw, limits, saved.wall_time, workers=workers
            )
        except Exception as error:
            not_restored(saved.spec, error)
            return
        restored[saved.spec.name] = result
        if last_inputs is not None:
            last_inputs[saved.spec.name] = LastInput(await digest_of(saved.raw), result)

    async with trio.open_nursery() as nursery:
        for part in parts:
            if isinstance(part, GoodResult):
                restored[part.source] = part
            else:
                nursery.start_soon(parse_one, part)
    del parts
    results = [restored[spec.name] for spec in specs if spec.name in restored]
    log.info("state restored", extra={"path": str(path), "sources": len(results)})
    return results


def _listed(pieces: Iterable[bytes]) -> list[bytes]:
    return list(pieces)


class StateWriter:
    """Writes the state file whenever a source's good data changes, at most once a second.

    ``observe`` is a state-holder observer (never blocks); ``run`` is the one writer task.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._changes: Mailbox[Mapping[str, GoodResult]] = Mailbox()
        self._written: dict[str, Body] = {}
        self._parts: dict[str, tuple[GoodResult, list[bytes]]] = {}
        self._failed = False

    def observe(self, view: StateView) -> None:
        goods = {n: s.good for n, s in view.sources.items() if s.good is not None}
        if any(self._written.get(n) != g.prepared_json for n, g in goods.items()):
            self._changes.put(goods)

    def remove_leftovers(self) -> None:
        """Delete temporaries a killed process left behind (they are never read)."""
        for leftover in self._path.parent.glob(f".{self._path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)

    async def run(self) -> None:
        """Write pending changes forever (until cancelled); a failed write is retried."""
        await trio.to_thread.run_sync(self.remove_leftovers)
        while True:
            await self._changes.wait()
            pending = self._changes.take_latest()
            if pending is None or await self._write(pending):
                await trio.sleep(MIN_SECONDS_BETWEEN_WRITES)
                continue
            if not self._changes:  # unless a newer change came meanwhile, retry this one
                self._changes.put(pending)
            await trio.sleep(RETRY_AFTER_FAILURE)

    async def _write(self, goods: Mapping[str, GoodResult]) -> bool:
        # A base64 part is cheap to make again and as big as the input to keep, so it is made
        # afresh with the file. A records part (a result restored from a format-1 file) is
        # dear to encode: it is kept until that source's result changes.
        parts = {
            name: part for name, (result, part) in self._parts.items() if goods.get(name) is result
        }
        for name, result in goods.items():
            if not result.raw and name not in parts:
                parts[name] = await trio.to_thread.run_sync(_listed, encode_source(result))
        self._parts = {name: (goods[name], part) for name, part in parts.items()}
        content = encode_state_pieces(list(goods.values()), parts)  # made while written
        try:
            await trio.to_thread.run_sync(write_atomically, self._path, content)
        except OSError as error:
            if not self._failed:
                log.warning(
                    "state file not written",
                    extra={"path": str(self._path), "error": error.strerror},
                )
            self._failed = True
            return False
        if self._failed:
            log.info("state file written again", extra={"path": str(self._path)})
        self._failed = False
        self._written = {n: g.prepared_json for n, g in goods.items()}
        return True
