"""Run the benchmarks of issue 7 and print their tables; JSON results go to bench/results/.

    python -m bench.run              # everything at full size (minutes): make bench
    python -m bench.run --smoke      # everything at tiny sizes (seconds): make bench-smoke
    python -m bench.run --only api,nginx
    python -m bench.run --only notify    # issue 18: email and webhook fan-outs (minutes)
    python -m bench.run --only history   # issue 9 (not in the default set: about 4 minutes)
    python -m bench.run --only takeover,replicas  # issue 21: PostgreSQL replicas

Exit status: 0 when every measurement could be taken (targets met or not: the tables say),
1 when one could not (a process did not start, a tool is missing), 2 for a bad flag.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from bench.api_bench import measure_api
from bench.big_bench import measure_big
from bench.crowd_bench import measure_crowd
from bench.history_http_bench import measure_history
from bench.lifecycle_bench import measure_lifecycle
from bench.nginx_bench import measure_nginx
from bench.notify_bench import measure_notify
from bench.procs import BenchError
from bench.replicas_bench import measure_replicas
from bench.report import RESULTS_DIR, Section, machine, write_results
from bench.sizes import FULL, SMOKE, Sizes
from bench.takeover_bench import measure_takeover

Measurement = Callable[[Path, Sizes], list[Section]]

MEASUREMENTS: dict[str, Measurement] = {
    "start": measure_lifecycle,
    "api": measure_api,
    "nginx": measure_nginx,
    "big": measure_big,
    "crowd": measure_crowd,
    "notify": measure_notify,
}
"""Run by default (``make bench``, ``make bench-smoke``)."""
OPTIONAL: dict[str, Measurement] = {
    "history": measure_history,
    "takeover": measure_takeover,
    "replicas": measure_replicas,
}
"""Run only when named in ``--only``."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the harness works")
    parser.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"comma-separated subset of {','.join({**MEASUREMENTS, **OPTIONAL})} "
        f"(default {','.join(MEASUREMENTS)})",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(MEASUREMENTS) - set(OPTIONAL)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    about = machine()
    print(
        f"statusd benchmarks, {about['date']}, {about['cpu']} x{about['cores']}, "
        f"load {about['load_average_at_start'][0]:.2f}",
        flush=True,
    )
    sections: list[Section] = []
    failures = 0
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory(prefix=f"statusd-bench-{name}-") as scratch:
            try:
                taken = {**MEASUREMENTS, **OPTIONAL}[name](Path(scratch), sizes)
            except (BenchError, OSError, httpx.HTTPError) as error:
                failures += 1
                traceback.print_exc()
                taken = [Section(title=f"{name}: FAILED", headers=["error"], rows=[[str(error)]])]
        for section in taken:
            print(section.render(), flush=True)
        sections += taken
    path = write_results(sections, smoke=args.smoke, about=about, directory=args.results)
    print(f"results: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
