"""The ``statusd`` command: parse flags, load settings, run the daemon; exit codes only.

Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a good ``--check-config``;
2 for a bad setting or an address that cannot be bound, with one line on stderr.
``statusd subscriptions …`` is the operator's command of ``statusd.subscriptions.cli``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from statusd import __version__
from statusd.config import ConfigError, Settings, build_settings, read_toml
from statusd.environ import read_environ, unknown_environ

EXIT_OK = 0
EXIT_CONFIG = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"statusd: {message} (see statusd --help)\n")


FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--listen", "HOST:PORT", "address to serve on (default 127.0.0.1:8080)"),
    ("--data-dir", "DIR", "directory of sms.data, voice.data, email.data, billing.data"),
    ("--source-url", "URL", "base URL of the MMS, support and incident endpoints"),
    ("--interval", "SECONDS", "time between two collections of one source (default 30)"),
    (
        "--deadline",
        "SECONDS",
        "time one collection may take, retries included; at most the interval "
        "(default min(5, interval))",
    ),
    (
        "--stale-after",
        "SECONDS",
        "age after which a source's last good data is dropped (default 3 x interval)",
    ),
    ("--web-dir", "DIR", "the status page's files (default: the packaged web/)"),
    ("--state-dir", "DIR", "saved last-good results and the history database"),
    ("--log-level", "LEVEL", "debug, info, warning or error"),
    ("--log-format", "FORMAT", "logfmt (default) or json"),
    (
        "--max-event-streams",
        "N",
        "open /api/events streams at once, beyond it 503 and pages poll (default 5000; 0: off)",
    ),
)


def make_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="statusd",
        description="Collect the provider sources and serve the status document and page.",
        epilog="Every setting can also come from the TOML file or a STATUSD_<NAME> environment "
        "variable; flags win. An unknown STATUSD_* variable is ignored with a warning. "
        "'statusd subscriptions list|export|remove' manages subscribers (see its --help); "
        "'statusd maintenance add|list|remove' edits the planned maintenance windows "
        "(statusd maintenance --help); 'statusd db migrate --from sqlite:///… --to "
        "postgresql://…' copies a single-node database into PostgreSQL (statusd db --help).",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML settings file (or STATUSD_CONFIG)")
    for flag, metavar, text in FLAGS:
        parser.add_argument(flag, metavar=metavar, help=text)
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the settings and exit 0 (good) or 2 (bad) without starting anything",
    )
    parser.add_argument("--version", action="version", version=f"statusd {__version__}")
    return parser


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[Settings, bool]:
    """Settings from every layer, and whether only a config check was asked for."""
    args = make_parser().parse_args(argv)
    flags: dict[str, Any] = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
        for flag, _, _ in FLAGS
    }
    return settings_from(args.config, environ, flags), bool(args.check_config)


def settings_from(
    config: str | None, environ: Mapping[str, str], flags: Mapping[str, object]
) -> Settings:
    """Settings from the TOML file (``config``, else ``STATUSD_CONFIG``), the environment
    and ``flags`` (None values are unset), validated; every ``statusd`` command reads them so."""
    layers: list[tuple[str, Mapping[str, object]]] = []
    config_path = config or environ.get("STATUSD_CONFIG")
    if config_path:
        layers.append((f"config file {config_path}", read_toml(Path(config_path))))
    layers.append(("environment", read_environ(environ)))
    layers.append(("flag", flags))
    settings = build_settings(layers)
    validate_tables(settings)
    return settings


def validate_tables(settings: Settings) -> None:
    """Check the TOML tables that their own modules own (e.g. ``[verdicts]``)."""
    from statusd.verdicts.rules import VerdictThresholds

    try:
        VerdictThresholds.from_mapping(settings.verdicts)
    except ValueError as error:
        raise ConfigError(f"setting verdicts: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``statusd`` console script."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["subscriptions"]:
        from statusd.subscriptions.cli import main as subscriptions_main

        return subscriptions_main(arguments[1:], os.environ)
    if arguments[:1] == ["db"]:  # statusd db migrate --from … --to … (SPEC §11)
        from statusd.storage.migrate import main as db_main

        return db_main(arguments[1:])
    if arguments[:1] == ["maintenance"]:  # statusd maintenance add|list|remove (SPEC §9)
        from statusd.maintenance.cli import statusd_main

        return statusd_main(arguments[1:], os.environ)
    try:
        settings, check_only = load_settings(arguments, os.environ)
    except ConfigError as error:
        print(f"statusd: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if check_only:
        for unknown in unknown_environ(os.environ):
            print(f"statusd: warning: {unknown}", file=sys.stderr)
        print("statusd: configuration is valid", file=sys.stderr)
        return EXIT_OK

    from statusd.daemon import StartupError, run_daemon

    try:
        run_daemon(settings, os.environ)
    except StartupError as error:
        print(f"statusd: {error}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK
