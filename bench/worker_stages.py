"""CPU seconds of each stage of a worker process's run (``statusd.collect._bigparse_child.work``).

    statusd-sim --data-dir /tmp/big --seed 1 --rows 1000000 --once
    python -m bench.worker_stages /tmp/big

Each stage runs in this process with the cyclic GC off, as in a worker: parse, country
summary, encode, SHA-256, CRC-32 and deflate of the value (the spill-file writes are left
out). Not part of ``make bench``: it explains where a worker's time goes (docs/bench.md).
"""

from __future__ import annotations

import gc
import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from statusd.body.document import DeflateSegment
from statusd.body.spill import crc32
from statusd.collect._bigparse_child import COUNTRY_PRODUCT_OF_SOURCE
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits
from statusd.verdicts.rules import VerdictThresholds, summarize_countries

FILES = {"sms": "sms.data", "voice_call": "voice.data", "email": "email.data"}


def stages(name: str, raw: bytes) -> dict[str, float]:
    """CPU seconds per stage for one source's input."""
    spec = next(spec for spec in ALL_SOURCES if spec.name == name)
    took: dict[str, float] = {}
    started = time.process_time()

    def lap(stage: str) -> None:
        nonlocal started
        now = time.process_time()
        took[stage] = round(now - started, 3)
        started = now

    parsed = spec.parse(raw, Limits(max_body_bytes=len(raw) + 1))
    lap("parse")
    summarize_countries(COUNTRY_PRODUCT_OF_SOURCE[name], parsed.records, VerdictThresholds())
    lap("summary")
    pieces = list(spec.iter_prepared_json(parsed.records))
    lap("encode")
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    lap("sha256")
    crc = 0
    for piece in pieces:
        crc = crc32(piece, crc)
    lap("crc32")
    segment = DeflateSegment()
    for piece in pieces:
        segment.add(piece)
    segment.finish()
    lap("deflate")
    return took


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    data_dir = Path(argv[0])
    gc.disable()
    for name, file_name in FILES.items():
        raw = (data_dir / file_name).read_bytes()
        took = stages(name, raw)
        total = round(sum(took.values()), 2)
        print(f"{name:<10} {len(raw):>10} bytes  {took}  total {total} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
