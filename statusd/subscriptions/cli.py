"""``statusd subscriptions list|export|remove``: the operator's view of the subscribers.

Reads the same settings as the daemon (``--config``/``STATUSD_CONFIG``, ``STATUSD_*``,
``--state-dir``) to find the database (``database_url``, else the ``history_db`` file), and
works on it while the daemon runs (SQLite's WAL; PostgreSQL shared by the replicas).

Exit status: 0 done; 1 nothing to do (no database, nothing removed) or the database failed,
one line on stderr; 2 bad usage or a bad setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

from statusd.config import ConfigError
from statusd.storage.engine import StorageError
from statusd.subscriptions.codec import subscription_json
from statusd.subscriptions.model import Subscription
from statusd.subscriptions.store import SubscriptionStore

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statusd subscriptions",
        description="List, export or remove the subscribers of status notifications "
        "(in the database: database_url, else the history_db file).",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML settings file (or STATUSD_CONFIG)")
    parser.add_argument("--state-dir", metavar="DIR", help="as statusd's --state-dir")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="one line per subscription, oldest first")
    listing.add_argument("--channel", choices=("email", "webhook"), help="only this channel")
    export = commands.add_parser(
        "export", help="every subscription as JSON lines (no secrets or tokens)"
    )
    export.add_argument("--channel", choices=("email", "webhook"), help="only this channel")
    remove = commands.add_parser(
        "remove", help="delete subscriptions by id or by address, with their pending messages"
    )
    remove.add_argument("targets", nargs="+", metavar="ID_OR_ADDRESS")
    return parser


def main(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    from statusd.cli import settings_from

    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = make_parser().parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        settings = settings_from(args.config, environ, {"state_dir": args.state_dir})
    except ConfigError as error:
        print(f"statusd subscriptions: {error}", file=err)
        return EXIT_USAGE
    database = settings.database
    if database.dialect == "sqlite" and not database.path.exists():
        print(f"statusd subscriptions: no database at {database.path} (see history_db)", file=err)
        return EXIT_REFUSED
    try:
        store = SubscriptionStore.open(database)
        try:
            return run(store, args, out, err)
        finally:
            store.close()
    except StorageError as error:
        where = database.path if database.dialect == "sqlite" else database
        print(f"statusd subscriptions: {where}: {error}", file=err)
        return EXIT_REFUSED


def run(store: SubscriptionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "list":
        found = store.subscriptions(args.channel)
        for subscription in found:
            print(line(subscription), file=out)
        print(f"{len(found)} subscription{'' if len(found) == 1 else 's'}", file=err)
        return EXIT_OK
    if args.command == "export":
        for subscription in store.subscriptions(args.channel):
            print(json.dumps(subscription_json(subscription), ensure_ascii=False), file=out)
        return EXIT_OK
    removed = [removed for target in args.targets for removed in store.remove(target)]
    for subscription_id in removed:
        print(f"removed {subscription_id}", file=out)
    if not removed:
        print("statusd subscriptions: no subscription has that id or address", file=err)
        return EXIT_REFUSED
    return EXIT_OK


def line(subscription: Subscription) -> str:
    """``id  channel  state  address  scope  created`` for ``list``."""
    scope = subscription.scope
    products = ",".join(sorted(scope.products)) or "all"
    countries = ",".join(sorted(scope.countries)) or "all"
    created = datetime.fromtimestamp(subscription.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kind = subscription.channel + (f"/{subscription.format}" if subscription.format else "")
    failing = (
        f"  failing since {datetime.fromtimestamp(subscription.failing_since, UTC):%Y-%m-%dT%H:%MZ}"
        if subscription.failing_since is not None
        else ""
    )
    return (
        f"{subscription.id}  {kind}  {subscription.state}  {subscription.address}  "
        f"products={products} countries={countries} lang={subscription.lang}  "
        f"created {created}{failing}"
    )
