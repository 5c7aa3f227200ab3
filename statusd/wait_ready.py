"""``python -m statusd.wait_ready URL --timeout S``: wait until URL answers 200 (for `make up`).

Prints how long it took; exits 1 if the deadline passes first.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(args.url, timeout=1.0).status_code == 200:
                print(f"ready after {time.monotonic() - started:.2f} s: {args.url}")
                return 0
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    print(f"not ready after {args.timeout:g} s: {args.url}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
