"""``statusd maintenance add|list|remove``: the operator's edits of the maintenance file.

``add_maintenance_parser`` builds the sub-commands into any argparse parser; ``run`` executes
parsed arguments; ``statusd_main`` is ``statusd maintenance …`` (the file named by the
settings: ``--config``/``STATUSD_CONFIG`` and ``STATUSD_*``, unless ``--file``); ``main`` is
for this module alone. Every edit validates the whole resulting file before an atomic
replace, so a bad window is refused with the same message the daemon would log and nothing
is written.

Exit status: 0 done; 1 the edit was refused (invalid window or file, duplicate or unknown
id), one line on stderr; 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from statusd.maintenance.file import (
    MaintenanceEditError,
    add_window,
    load_windows,
    remove_window,
)
from statusd.maintenance.windows import (
    MaintenanceFileError,
    MaintenanceWindow,
    iso,
    parse_window,
    scope_text,
)

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2
DEFAULT_FILE: Final = Path("state") / "maintenance.toml"
"""``<state_dir>/maintenance.toml`` with the default ``state_dir``."""

ALL: Final = "all"


def _names(text: str) -> list[str]:
    """A comma-separated list; ``all`` is the empty list (everything)."""
    if text.strip() == ALL:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def add_maintenance_parser(
    parser: argparse.ArgumentParser, *, default_file: Path | None = DEFAULT_FILE
) -> None:
    """Add ``--file`` and the ``add``, ``list`` and ``remove`` sub-commands to ``parser``
    (``default_file`` None: the caller finds the file when ``--file`` is not given)."""
    where = "the setting maintenance_file" if default_file is None else str(default_file)
    parser.add_argument(
        "--file",
        type=Path,
        default=default_file,
        metavar="PATH",
        help=f"the maintenance file (default {where})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser("add", help="add a window (validated, atomic replace)")
    add.add_argument("--id", required=True, help="safe token: a-z 0-9 . _ -, at most 64")
    add.add_argument("--title", required=True, help="one line, shown everywhere")
    add.add_argument("--body", default="", help="optional longer text")
    add.add_argument(
        "--start", required=True, metavar="RFC3339", help="e.g. 2026-03-01T02:00+01:00"
    )
    add.add_argument("--end", required=True, metavar="RFC3339", help="after --start")
    add.add_argument(
        "--products",
        required=True,
        type=_names,
        metavar="LIST",
        help="comma-separated: sms, mms, voice, email, billing, support; or 'all'",
    )
    add.add_argument(
        "--countries",
        required=True,
        type=_names,
        metavar="LIST",
        help="comma-separated ISO 3166-1 alpha-2 codes; or 'all'",
    )
    add.add_argument(
        "--functions",
        type=_names,
        default=[],
        metavar="LIST",
        help="billing functions (e.g. payout,purchase); default all",
    )
    listing = commands.add_parser("list", help="show the windows and their status now")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of text")
    remove = commands.add_parser("remove", help="remove a window by id")
    remove.add_argument("id")


def _window_json(window: MaintenanceWindow, now: float) -> dict[str, Any]:
    return {
        "id": window.id,
        "title": window.title,
        "status": window.status_at(now),
        "start": iso(window.start),
        "end": iso(window.end),
        "products": list(window.products),
        "countries": list(window.countries),
        "functions": list(window.functions),
        "body": window.body,
    }


def _add(args: argparse.Namespace, out: TextIO) -> None:
    path: Path = args.file
    table = {
        "id": args.id,
        "title": args.title,
        "start": args.start,
        "end": args.end,
        "products": args.products,
        "countries": args.countries,
        "functions": args.functions,
        "body": args.body,
    }
    window = parse_window(table, len(load_windows(path)) + 1)
    add_window(path, window)
    print(
        f"added {window.id}: {scope_text(window)}, {iso(window.start)} to {iso(window.end)}",
        file=out,
    )


def _list(args: argparse.Namespace, out: TextIO, now: float) -> None:
    windows = sorted(load_windows(args.file), key=lambda w: (w.start_at, w.id))
    if args.json:
        print(json.dumps([_window_json(w, now) for w in windows], ensure_ascii=False), file=out)
        return
    if not windows:
        print(f"no maintenance windows in {args.file}", file=out)
        return
    for w in windows:
        print(
            f"{w.id}  {w.status_at(now)}  {iso(w.start)} → {iso(w.end)}  {w.title}  "
            f"[{scope_text(w)}]",
            file=out,
        )


def _remove(args: argparse.Namespace, out: TextIO) -> None:
    removed = remove_window(args.file, args.id)
    print(f"removed {removed.id}: {removed.title}", file=out)


def run(
    args: argparse.Namespace,
    *,
    stdout: TextIO,
    stderr: TextIO,
    clock: Callable[[], float] = time.time,
) -> int:
    """Execute parsed ``add``/``list``/``remove`` arguments; the exit status."""
    try:
        if args.command == "add":
            _add(args, stdout)
        elif args.command == "list":
            _list(args, stdout, clock())
        else:
            _remove(args, stdout)
    except (MaintenanceFileError, MaintenanceEditError) as error:
        print(f"statusd maintenance: {error}", file=stderr)
        return EXIT_REFUSED
    return EXIT_OK


def settings_file(config: str | None, environ: Mapping[str, str]) -> Path:
    """``maintenance_file`` as the daemon would read it: the TOML file, then ``STATUSD_*``.

    ConfigError (from ``statusd.config``) for a bad setting, as ``statusd`` itself reports it.
    """
    from statusd.config import build_settings, read_toml
    from statusd.environ import ENV_CONFIG, read_environ

    layers: list[tuple[str, Mapping[str, object]]] = []
    path = config or environ.get(ENV_CONFIG)
    if path:
        layers.append((f"config file {path}", read_toml(Path(path))))
    layers.append(("environment", read_environ(environ)))
    return build_settings(layers).maintenance_file


def statusd_main(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """``statusd maintenance [--config PATH] [--file PATH] add|list|remove …``."""
    from statusd.config import ConfigError

    parser = argparse.ArgumentParser(
        prog="statusd maintenance",
        description="Edit the planned maintenance windows (SPEC §9) of the file statusd reads.",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML settings file (or STATUSD_CONFIG)")
    add_maintenance_parser(parser, default_file=None)
    args = parser.parse_args(list(argv))
    err = stderr or sys.stderr
    if args.file is None:
        try:
            args.file = settings_file(args.config, environ)
        except ConfigError as error:
            print(f"statusd maintenance: {error}", file=err)
            return EXIT_USAGE
    return run(args, stdout=stdout or sys.stdout, stderr=err, clock=clock)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """``statusd maintenance …`` on its own (``python -m statusd.maintenance.cli``)."""
    parser = argparse.ArgumentParser(
        prog="statusd maintenance", description="Edit the planned maintenance windows."
    )
    add_maintenance_parser(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    return run(args, stdout=stdout or sys.stdout, stderr=stderr or sys.stderr, clock=clock)


if __name__ == "__main__":
    sys.exit(main())
