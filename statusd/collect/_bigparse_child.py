"""The program a worker process runs: ``python -m statusd.collect._bigparse_child REQUEST``.

``REQUEST`` is the JSON that ``bigparse.worker_request`` makes: the source, the descriptor of
the spill file (inherited) with the input at its start, the limits and the verdict
thresholds. The input is parsed, prepared and encoded exactly as in statusd
(``parse.parse_and_encode``); the value's JSON and its deflate segment are appended to
the spill file, and one line of JSON on standard output says where (``statusd.collect.bigparse``
describes it). Kept free of trio and of the daemon's modules, so a worker starts quickly.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from statusd.body.document import DeflateSegment
from statusd.body.spill import SpillFile, crc32
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits, ParseResult, SourceError, SourceSpec
from statusd.verdicts.cells import COUNTRY_PRODUCTS, PRODUCT_SOURCE
from statusd.verdicts.rules import VerdictThresholds, summarize_countries

COUNTRY_PRODUCT_OF_SOURCE = {
    source: product for product, source in PRODUCT_SOURCE.items() if product in COUNTRY_PRODUCTS
}
"""The product whose country cells a source's rows decide (``voice_call`` → ``voice``)."""


def work(request: Mapping[str, Any]) -> dict[str, Any]:
    """Parse the spill file's input, append the value and its segment; the answer."""
    specs = {spec.name: spec for spec in ALL_SOURCES}
    spec = specs[request["source"]]
    spill = SpillFile(int(request["fd"]))
    size = int(request["input_bytes"])
    limits = Limits(**request["limits"])
    thresholds = VerdictThresholds(**request["thresholds"])
    try:
        parsed = spec.parse(spill.read(0, size), limits)
    except SourceError as error:
        return {"error": str(error)}
    product = COUNTRY_PRODUCT_OF_SOURCE.get(spec.name)
    summary = None
    if product is not None:
        counted = summarize_countries(product, parsed.records, thresholds).countries
        summary = {code: [sorted(c.providers), sorted(c.good)] for code, c in counted.items()}
    try:
        return _write_value(spec, spill, size, parsed, summary)
    except OSError as error:  # a full disk: statusd parses the input itself instead
        return {"spill_error": error.strerror or str(error)}


def _write_value(
    spec: SourceSpec[Any],
    spill: SpillFile,
    size: int,
    parsed: ParseResult[Any],
    summary: dict[str, list[list[str]]] | None,
) -> dict[str, Any]:
    """Append the value and its deflate segment to the spill file; the answer."""
    records = len(parsed.records)
    value_at = size
    digest, crc, end = hashlib.sha256(), 0, value_at
    deflate = DeflateSegment()
    # Each piece is written, hashed and compressed as the encoder makes it: the value is
    # never whole in memory.
    for piece in spec.iter_prepared_json(parsed.records):
        digest.update(piece)
        crc = crc32(piece, crc)
        deflate.add(piece)
        end = _write_at(spill.fd, piece, end)
    skipped = dict(parsed.skipped)
    deflate_end = end
    for chunk in deflate.finish():
        deflate_end = _write_at(spill.fd, chunk, deflate_end)
    return {
        "skipped": skipped,
        "records": records,
        "value": [value_at, end - value_at, digest.hexdigest(), crc],
        "deflate": [end, deflate_end - end],
        "summary": summary,
    }


def _write_at(fd: int, data: bytes, offset: int) -> int:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    return offset


def main(argv: Sequence[str]) -> int:
    gc.disable()  # records hold no cycles; a full collection over millions would only cost
    answer = work(json.loads(argv[0]))
    sys.stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
