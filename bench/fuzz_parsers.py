"""Coverage-guided fuzzing (atheris / libFuzzer) of every source parser, for a bounded time.

    python -m bench.fuzz_parsers --seconds 60        # each of the seven parsers, 60 s each

For every input the fuzzer runs what statusd does with a source's bytes (``exercise``):
parse, prepare and encode (the collector), save and load the state file, compute the
verdicts. The only allowed failure is ``SourceError`` (the source is unusable); any other
exception is a bug that would end the collector or the daemon. Each parser is fuzzed in a
child process (libFuzzer exits the process when its time is up); every distinct failure
(source, exception type, first words of the message) is written down with a smallest
example, and the run exits 1 if there was any.

The hypothesis tests in ``tests/faults/test_fuzz_parsers.py`` use the same ``exercise``.
atheris comes from PyPI (``pip install atheris``: wheels for CPython 3.11 on x86-64 Linux).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SEEDS: dict[str, list[bytes]] = {
    "sms": [
        b"RU;50;300;Topolo\nUS;20;900;Rond\r\n\n BL ; 7 ; 12 ; Kildy \n",
        b"\xef\xbb\xbfGB;1;2;Rond",
    ],
    "mms": [
        b'[{"country":"RU","provider":"Topolo","bandwidth":"50","response_time":"300"}]',
        b'[{"country":" US ","provider":"Rond","bandwidth":"020","response_time":"0","x":1}, 3]',
    ],
    "voice_call": [
        b"FR;45;921;TransparentCalls;0.91;308;96;2\nRU;100;0;E-Voice;1;0;0;0\n",
        b"TR;5;5;JustPhone;0.5;5;50;5\r\nXX;1;1;E-Voice;2;1;1;1\n",
    ],
    "email": [b"RU;Gmail;245\nRU;Yahoo;33\nUS;Mail.ru;0\n", b"FR ; Orange ; 17\r\n"],
    "billing": [b"010011\n", b"\xef\xbb\xbf111111\r\n"],
    "support": [
        b'[{"topic":"SMS","active_tickets":9},{"topic":"Caf\\u00e9","active_tickets":0}]',
        b'[{"topic":1,"active_tickets":true},{"active_tickets":-1,"topic":"x"}]',
    ],
    "incident": [
        b'[{"topic":"SMS delays","status":"active"},{"topic":"\\u00e9t\\u00e9","status":"closed"}]',
        b'[{"topic":"x","status":"Active"},[],null]',
    ],
}
"""A few inputs per source for libFuzzer to start from (valid ones and near misses)."""

DICTIONARY: list[bytes] = [
    rb"\u00e9", rb"\ud800", rb"\udfff", rb"\u0000", b"NaN", b"Infinity", b"1e999", b"-0",
    b"0.51", b"\xef\xbb\xbf", b"\xff", b"\r\n", b";", b'"active_tickets"', b'"topic"',
    b'"status"', b'"country"', b'"provider"', b'"bandwidth"', b'"response_time"',
    b"9" * 60, b"true", b"null", b"[]", b"{}",
]  # fmt: skip
"""libFuzzer dictionary entries: JSON escapes, number forms and the sources' keys."""


def exercise(source: str, raw: bytes) -> None:
    """Do with ``raw`` everything statusd does with a source's bytes; ``SourceError`` is the
    only exception allowed out (any other one is a bug)."""
    from statusd.body.spill import joined
    from statusd.collect.parse import parse_and_encode
    from statusd.sources import ALL_SOURCES
    from statusd.sources.base import Limits, SourceError
    from statusd.state.persistence import decode_state
    from statusd.state.statefile import encode_state
    from statusd.verdicts.rules import VerdictThresholds, compute_verdicts

    spec = next(spec for spec in ALL_SOURCES if spec.name == source)
    limits = Limits(max_body_bytes=1024 * 1024, max_line_bytes=256)
    try:
        result = parse_and_encode(spec, raw, limits, 1_800_000_000.0)
    except SourceError:
        return
    json.loads(joined(result.prepared_json))  # what /api embeds is JSON
    loaded = decode_state(encode_state([result]), ALL_SOURCES, limits)  # the state file round trip
    if loaded != [result]:
        raise AssertionError(f"state file round trip changed the {source} result")
    records: dict[str, Sequence[Any] | None] = {spec.name: None for spec in ALL_SOURCES}
    records[source] = result.records
    compute_verdicts(records, VerdictThresholds())


def dictionary_entry(token: bytes) -> str:
    """``token`` as a libFuzzer dictionary line: quoted, ``\\xNN`` for anything unusual."""
    printable = set(range(0x20, 0x7F)) - {ord("\\"), ord('"')}
    return '"' + "".join(chr(b) if b in printable else f"\\x{b:02x}" for b in token) + '"'


def signature(source: str, error: BaseException) -> str:
    """A short name for a failure: the same bug found twice gives the same name."""
    if isinstance(error, UnicodeEncodeError | UnicodeDecodeError):
        text = f"{error.encoding} {error.reason}"  # the message names the character
    else:
        text = re.sub(r"'[^']*'|\d+", "_", str(error))  # the same bug with other values
    return f"{source}: {type(error).__name__}: {' '.join(text.split()[:8])}"


def run_child(source: str, seconds: int, findings: Path) -> None:
    """Fuzz one parser until libFuzzer's time is up (libFuzzer then exits the process)."""
    import atheris

    with atheris.instrument_imports():
        # Instrument the parsers and the collector's encoding for coverage guidance.
        import statusd.collect.supervisor
        import statusd.sources  # noqa: F401
    seen: set[str] = set()

    def test_one_input(data: bytes) -> None:
        try:
            exercise(source, data)
        except Exception as error:  # a bug: write it down, keep fuzzing for others
            name = signature(source, error)
            if name not in seen:
                seen.add(name)
                with findings.open("a") as out:
                    out.write(json.dumps({"signature": name, "input": data.hex()}) + "\n")

    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{source}-"))
    for index, seed in enumerate(SEEDS[source]):
        (corpus / f"seed-{index}").write_bytes(seed)
    dictionary = corpus.with_name(corpus.name + ".dict")
    dictionary.write_text("".join(f"{dictionary_entry(token)}\n" for token in DICTIONARY))
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            "-rss_limit_mb=2048",
            "-timeout=10",
            "-max_len=4096",
            "-print_final_stats=1",
            f"-dict={dictionary}",
            str(corpus),
        ],
        test_one_input,
    )
    atheris.Fuzz()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per parser")
    parser.add_argument("--source", action="append", choices=sorted(SEEDS), help="repeatable")
    parser.add_argument("--child", choices=sorted(SEEDS), help=argparse.SUPPRESS)
    parser.add_argument("--findings", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.seconds, args.findings)
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz_parsers: atheris is not installed (pip install atheris)", file=sys.stderr)
        return 2
    sources = args.source or list(SEEDS)
    found: dict[str, str] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="statusd-fuzz-") as directory:
        for source in sources:
            findings = Path(directory) / f"{source}.jsonl"
            findings.touch()
            try:
                completed = subprocess.run(
                    [sys.executable, "-m", "bench.fuzz_parsers", "--child", source,
                     "--seconds", str(args.seconds), "--findings", str(findings)],
                    cwd=ROOT,
                    capture_output=True,
                    timeout=args.seconds + 120,
                    check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                found[f"{source}: the fuzzer itself did not stop in time"] = ""
                continue
            stats = [
                line
                for line in completed.stderr.decode(errors="replace").splitlines()
                if line.startswith(("stat::number_of_executed_units", "stat::peak_rss_mb"))
            ]
            runs = stats[0].split(":")[-1].strip() if stats else "?"
            print(f"{source}: {runs} inputs in {args.seconds} s", flush=True)
            if completed.returncode != 0:
                tail = completed.stderr.decode(errors="replace")[-2000:]
                found[f"{source}: fuzzer exited with {completed.returncode}"] = tail
            for line in findings.read_text().splitlines():
                finding = json.loads(line)
                found.setdefault(finding["signature"], finding["input"])
    for name, example in found.items():
        print(f"FOUND {name}\n    input (hex): {example[:400]}")
    print(
        f"fuzz_parsers: {len(sources)} parsers, {args.seconds} s each, "
        f"{len(found)} distinct failures, {time.monotonic() - started:.0f} s"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
