"""Big inputs parsed in a worker process, whose output stays on disk.

A million-row file parsed in a thread of the daemon costs the daemon twice: the parse holds
the GIL that the event loop needs to answer requests, and its records and encoded value
stay in the daemon's memory. Here the collector writes
the input into a *spill file* (unnamed, in the state directory) and starts
``python -m statusd.collect._bigparse_child`` with that file's descriptor. The worker parses,
prepares and encodes exactly as ``parse.parse_and_encode`` does, appends the value's
JSON and its deflate segment to the spill file, and prints one small JSON line: the skip counts, the
number of records, where the value and the segment lie (with the value's SHA-256 and
CRC-32) and the country summary the verdicts need. The daemon keeps only ``FileSpan``s of
the spill file; the /api body reads them as it is sent.

The worker's answer, on standard output::

    {"skipped": {...}, "records": 1000000, "value": [offset, length, "sha256 hex", crc],
     "deflate": [offset, length], "summary": {"DE": [["Kildy", "Rond"], ["Rond"]], ...}}

or ``{"error": "..."}`` when the source's parser rejects the input (a ``SourceError``).
Anything else (a crash, a kill) is reported by its exit status.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import trio

from statusd.body.spill import FileSpan, SpillFile
from statusd.collect._bigparse_child import COUNTRY_PRODUCT_OF_SOURCE
from statusd.collect.outcome import GoodResult
from statusd.sources.base import Limits, SourceError, SourceSpec
from statusd.verdicts.rules import CountryProviders, CountrySummary, VerdictThresholds

log = logging.getLogger("statusd.worker")

WRITE_CHUNK_BYTES = 8 * 1024 * 1024
"""The input is written to the spill file this many bytes per call."""

MAX_ANSWER_BYTES = 1024 * 1024
"""A worker's answer is a few KB (one summary entry per country); more is a broken worker."""

STDERR_TAIL_CHARS = 2000
"""How much of a failed worker's standard error goes into the log."""


class SpillUnavailable(Exception):
    """No spill file can be made or written (the state directory is missing, read-only or
    full): the input is then parsed in statusd instead."""


# --- the daemon's side ------------------------------------------------------------------------


def spill_input(directory: Path, raw: bytes) -> SpillFile:
    """A new unnamed file in ``directory`` holding ``raw``; blocking (run in a thread)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix=".spill-") as file:
            spill = SpillFile(os.dup(file.fileno()))
        view = memoryview(raw)
        for start in range(0, len(view), WRITE_CHUNK_BYTES):
            chunk = view[start : start + WRITE_CHUNK_BYTES]
            written = 0
            while written < len(chunk):
                written += os.pwrite(spill.fd, chunk[written:], start + written)
    except OSError as error:
        raise SpillUnavailable(f"no spill file in {directory}: {error.strerror}") from None
    return spill


def worker_request(
    spec: SourceSpec[Any], fd: int, size: int, limits: Limits, thresholds: VerdictThresholds
) -> str:
    """The worker's one argument: what to parse and under which limits and thresholds."""
    return json.dumps(
        {
            "source": spec.name,
            "fd": fd,
            "input_bytes": size,
            "limits": {
                "max_body_bytes": limits.max_body_bytes,
                "max_line_bytes": limits.max_line_bytes,
            },
            "thresholds": asdict(thresholds),
        }
    )


async def parse_in_worker(
    spec: SourceSpec[Any],
    raw: bytes,
    limits: Limits,
    wall: float,
    *,
    spill_dir: Path,
    thresholds: VerdictThresholds,
) -> GoodResult:
    """``parse_and_encode`` in a worker process, its output kept in a spill file.

    SpillUnavailable if no spill file can be made or written; SourceError if the parser
    rejects the input or the worker fails. Cancelling kills the worker (trio's ``run_process``).
    """
    spill = await trio.to_thread.run_sync(spill_input, spill_dir, raw)
    request = worker_request(spec, spill.fd, len(raw), limits, thresholds)
    completed = await trio.run_process(
        [sys.executable, "-m", "statusd.collect._bigparse_child", request],
        pass_fds=(spill.fd,),
        stdin=b"",
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    if completed.returncode != 0:
        log.error(
            "worker process failed",
            extra={
                "source": spec.name,
                "status": completed.returncode,
                "stderr": completed.stderr.decode(errors="replace")[-STDERR_TAIL_CHARS:],
            },
        )
        status = completed.returncode
        raise SourceError(f"internal error while reading the source (worker status {status})")
    return result_of_answer(spec, spill, len(raw), completed.stdout, wall, thresholds)


def result_of_answer(
    spec: SourceSpec[Any],
    spill: SpillFile,
    size: int,
    answer: bytes,
    wall: float,
    thresholds: VerdictThresholds,
) -> GoodResult:
    """The good result a worker's answer describes; SourceError for a rejected input or an
    answer that does not fit the spill file (a broken worker)."""
    try:
        if len(answer) > MAX_ANSWER_BYTES:
            raise ValueError("answer too long")
        found = json.loads(answer)
        if "error" in found:
            raise SourceError(str(found["error"]))
        if "spill_error" in found:
            raise SpillUnavailable(f"spill file not written: {found['spill_error']}")
        value_at, value_length, value_digest, value_crc = found["value"]
        deflate_at, deflate_length = found["deflate"]
        numbers = (value_at, value_length, value_crc, deflate_at, deflate_length)
        if not all(type(number) is int for number in numbers):
            raise ValueError("offsets, lengths and CRC must be integers")
        skipped = {str(reason): int(count) for reason, count in found["skipped"].items()}
        counted = int(found["records"])
        summary = _summary_of(spec, found["summary"], thresholds)
        spans = [(0, size), (value_at, value_length), (deflate_at, deflate_length)]
        end = os.fstat(spill.fd).st_size
        if any(not 0 <= at <= at + length <= end for at, length in spans):
            raise ValueError("a span lies outside the spill file")
        value = FileSpan(spill, value_at, value_length, bytes.fromhex(value_digest), value_crc)
    except (SourceError, SpillUnavailable):
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        log.error("worker answer unusable", extra={"source": spec.name, "error": str(error)})
        raise SourceError("internal error while reading the source (worker answer)") from None
    return GoodResult(
        source=spec.name,
        records=(),
        prepared_json=(value,),
        skipped=skipped,
        wall_time=wall,
        raw=FileSpan(spill, 0, size),
        prepared_deflate=FileSpan(spill, deflate_at, deflate_length),
        summary=summary,
        counted=counted,
    )


def _summary_of(
    spec: SourceSpec[Any], found: Mapping[str, Any] | None, thresholds: VerdictThresholds
) -> CountrySummary | None:
    product = COUNTRY_PRODUCT_OF_SOURCE.get(spec.name)
    if product is None or found is None:
        if product is not None or found is not None:
            raise ValueError("summary missing or unexpected")
        return None
    countries = {
        str(country): CountryProviders(frozenset(map(str, named)), frozenset(map(str, good)))
        for country, (named, good) in found.items()
    }
    return CountrySummary(product, thresholds, countries)
