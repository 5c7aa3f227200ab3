"""The state file: the last good result of every source, kept across restarts.

Written atomically (temporary file in the same directory, fsync, rename, fsync of the
directory), so a crash at any moment leaves either the old file or the new one. Loaded at
start: records are checked against their dataclass field types and prepared again, so a
state file can never inject anything a source could not have sent. A corrupt, partial or
foreign file is ignored with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import trio

from statusd.document import encode_json, encode_json_chunked
from statusd.outcome import GoodResult
from statusd.records import record_json
from statusd.sources.base import SourceSpec
from statusd.state import StateView

log = logging.getLogger("statusd.persistence")

FORMAT_VERSION = 1
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
}
# Writes are at least this far apart, however often sources change; after a failed write
# (a full disk, say) the next try waits longer.
MIN_SECONDS_BETWEEN_WRITES = 1.0
RETRY_AFTER_FAILURE = 30.0


class StateFileError(Exception):
    """The state file cannot be used; the message says why."""


def encode_source(result: GoodResult) -> bytes:
    """One source's part of the state file (chunked: big record lists do not stall the loop)."""
    return encode_json_chunked(
        {
            "wall_time": result.wall_time,
            "skipped": dict(result.skipped),
            "records": [record_json(record) for record in result.records],
        }
    )


def encode_state(results: Iterable[GoodResult], parts: Mapping[str, bytes] | None = None) -> bytes:
    """The state file's bytes for these results; ``parts`` may hold sources already encoded."""
    encoded = [
        encode_json(result.source)
        + b":"
        + ((parts or {}).get(result.source) or encode_source(result))
        for result in results
    ]
    return b'{"format":%d,"sources":{' % FORMAT_VERSION + b",".join(encoded) + b"}}"


def write_atomically(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` so that readers see the old or the new file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
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


def record_from_json(record_type: type[Any], item: object) -> Any:
    """A record of ``record_type`` from its JSON object; StateFileError if it does not fit."""
    if not isinstance(item, dict):
        raise StateFileError("a record is not an object")
    values = {}
    for field in fields(record_type):
        value = item.get(field.name)
        allowed = FIELD_TYPES.get(str(field.type), ())
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            raise StateFileError(f"record field {field.name} has the wrong type")
        values[field.name] = value
    return record_type(**values)


def decode_state(content: bytes, specs: Sequence[SourceSpec[Any]]) -> list[GoodResult]:
    """Good results from a state file's bytes, prepared again; StateFileError if unusable."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise StateFileError(f"not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
        raise StateFileError("unknown format")
    sources = document.get("sources")
    if not isinstance(sources, dict):
        raise StateFileError("no sources")
    results = []
    for spec in specs:
        saved = sources.get(spec.name)
        if saved is None:
            continue
        if not isinstance(saved, dict):
            raise StateFileError(f"source {spec.name} is not an object")
        wall_time, skipped, items = (
            saved.get("wall_time"),
            saved.get("skipped"),
            saved.get("records"),
        )
        if not isinstance(wall_time, int | float) or not isinstance(items, list):
            raise StateFileError(f"source {spec.name} is incomplete")
        if not isinstance(skipped, dict) or not all(
            isinstance(k, str) and type(v) is int for k, v in skipped.items()
        ):
            raise StateFileError(f"source {spec.name} has bad skip counts")
        records = tuple(record_from_json(spec.record_type, item) for item in items)
        results.append(
            GoodResult(
                source=spec.name,
                records=records,
                prepared_json=encode_json(spec.prepare(records)),
                skipped=skipped,
                wall_time=float(wall_time),
            )
        )
    return results


def load_state(path: Path, specs: Sequence[SourceSpec[Any]]) -> list[GoodResult]:
    """The saved good results, or none (with a warning) when the file is missing or bad."""
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
        results = decode_state(content, specs)
    except StateFileError as error:
        log.warning("state file ignored", extra={"path": str(path), "error": str(error)})
        return []
    log.info("state restored", extra={"path": str(path), "sources": len(results)})
    return results


class StateWriter:
    """Writes the state file whenever a source's good data changes, at most once a second.

    ``observe`` is a state-holder observer (never blocks); ``run`` is the one writer task.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pending: Mapping[str, GoodResult] | None = None
        self._written: dict[str, bytes] = {}
        self._parts: dict[str, tuple[GoodResult, bytes]] = {}
        self._wakeup = trio.Event()
        self._failed = False

    def observe(self, view: StateView) -> None:
        goods = {n: s.good for n, s in view.sources.items() if s.good is not None}
        if any(self._written.get(n) != g.prepared_json for n, g in goods.items()):
            self._pending = goods
            self._wakeup.set()

    def remove_leftovers(self) -> None:
        """Delete temporaries a killed process left behind (they are never read)."""
        for leftover in self._path.parent.glob(f".{self._path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)

    async def run(self) -> None:
        """Write pending changes forever (until cancelled); a failed write is retried."""
        await trio.to_thread.run_sync(self.remove_leftovers)
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            pending, self._pending = self._pending, None
            if pending is None or await self._write(pending):
                await trio.sleep(MIN_SECONDS_BETWEEN_WRITES)
                continue
            self._pending = self._pending or pending
            self._wakeup.set()
            await trio.sleep(RETRY_AFTER_FAILURE)

    async def _write(self, goods: Mapping[str, GoodResult]) -> bool:
        # Re-encode only the sources whose good result changed since the last write.
        parts = {
            name: part for name, (result, part) in self._parts.items() if goods.get(name) is result
        }
        for name, result in goods.items():
            if name not in parts:
                parts[name] = await trio.to_thread.run_sync(encode_source, result)
        self._parts = {name: (goods[name], parts[name]) for name in goods}
        content = await trio.to_thread.run_sync(encode_state, list(goods.values()), parts)
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
