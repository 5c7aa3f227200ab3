"""``statusd db migrate --from sqlite:///… --to postgresql://…``: copy a single-node database
(history, incident history, maintenance, subscriptions, outbox) into the database that
replicas share (SPEC §11), idempotent and verified.

The tables and their DDL come from the schema modules at run time
(``statusd.history.schema.TABLES``/``INDEXES``, ``statusd.subscriptions.schema
.SUBSCRIPTION_TABLES``), in that order, so a referenced table is filled before the table
that references it. For each table:

1. the target is checked first: every row it already holds must be a row of the source
   (a run that was interrupted, or an earlier run with the source grown since); a row that
   differs (the same key, other data) or that the source lacks stops the migration before
   anything of that table is written, naming the table;
2. the source's rows are inserted with ``ON CONFLICT DO NOTHING``: a second run copies
   nothing new; identity sequences (``INTEGER PRIMARY KEY``) are moved past the copied ids;
3. both sides are verified: the row count and a checksum, computed the same way on each.

The checksum of a table is the sum (mod 2²⁵⁶) of the SHA-256 of each row, a row being its
values in the schema's column order, each normalised (``None``; integers and integral
floats as integers, as SQLite stores ``1.0`` in a REAL column as ``1``; other floats by
``repr``; text; bytes in hex). The sum does not depend on the order the engines return rows
in (their text collations differ) and needs no memory per row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from statusd.storage.engine import Database, StorageError, open_database
from statusd.storage.url import DatabaseUrl, parse_database_url

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
BATCH_ROWS = 1000
"""Rows per ``executemany`` while copying."""

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
_COLUMN = re.compile(r"(^|[(,])(\s*)(\"?)([a-z_]\w*)\3(\s+(?:TEXT|INTEGER|REAL|BLOB)\b)", re.M)
_IDENTITY = re.compile(r"(^|[(,])\s*\"?([a-z_]\w*)\"?\s+INTEGER PRIMARY KEY\b", re.M)


class MigrationError(Exception):
    """The migration stopped; the message names the table and what differs."""


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the schema modules: its name, its columns in order, its DDL."""

    name: str
    columns: tuple[str, ...]
    create: str
    identity: str | None
    """The ``INTEGER PRIMARY KEY`` column (an identity on PostgreSQL), if any."""

    @property
    def column_list(self) -> str:
        return ", ".join(f'"{column}"' for column in self.columns)


@dataclass(frozen=True, slots=True)
class Copied:
    """What one table's migration did."""

    table: str
    copied: int
    rows: int
    checksum: str


def schema() -> tuple[list[Table], list[str]]:
    """The tables (in creation order) and the other DDL (indexes), read from the schema
    modules now."""
    from statusd.history.schema import INDEXES, TABLES
    from statusd.subscriptions.schema import SUBSCRIPTION_TABLES

    tables: list[Table] = []
    others: list[str] = list(INDEXES)
    for statement in (*TABLES, *SUBSCRIPTION_TABLES):
        found = _TABLE.match(statement.strip())
        if found is None:
            others.append(statement)
            continue
        columns = tuple(match.group(4) for match in _COLUMN.finditer(statement))
        identity = _IDENTITY.search(statement)
        tables.append(
            Table(found.group(1), columns, statement, identity.group(2) if identity else None)
        )
    return tables, others


def quote_columns(statement: str) -> str:
    """``statement`` with every column name of its definitions quoted, so that a column
    named by a PostgreSQL reserved word (``window``) is created on both engines."""
    return _COLUMN.sub(lambda m: f'{m.group(1)}{m.group(2)}"{m.group(4)}"{m.group(5)}', statement)


def normalised(value: Any) -> Any:
    """A value as the checksum sees it, the same from either engine."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    return value


def row_digest(row: Sequence[Any]) -> bytes:
    text = json.dumps([normalised(value) for value in row], ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()


def _rows(database: Database, table: Table) -> Iterator[tuple[Any, ...]]:
    with database.transaction() as conn:
        for row in conn.execute(f"SELECT {table.column_list} FROM {table.name}"):
            yield tuple(row)


def checksum(database: Database, table: Table) -> tuple[int, str]:
    """(row count, checksum) of ``table`` in ``database``."""
    count = total = 0
    for row in _rows(database, table):
        count += 1
        total = (total + int.from_bytes(row_digest(row), "big")) % 2**256
    return count, f"{total:064x}"


def _exists(database: Database, table: Table) -> bool:
    try:
        with database.transaction() as conn:
            conn.execute(f"SELECT 1 FROM {table.name} WHERE 1 = 0")
    except StorageError:
        return False
    return True


def migrate(source: Database, target: Database) -> list[Copied]:
    """Copy every table of ``source`` into ``target`` (see the module docstring)."""
    tables, others = schema()
    target.run_ddl([quote_columns(t.create) for t in tables] + others)
    done: list[Copied] = []
    for table in tables:
        if not _exists(source, table):
            continue
        digests = {row_digest(row) for row in _rows(source, table)}
        foreign = sum(1 for row in _rows(target, table) if row_digest(row) not in digests)
        if foreign:
            raise MigrationError(
                f"table {table.name}: the target holds {foreign} row(s) that differ from the "
                "source (other data under the same keys, or rows the source lacks); "
                "nothing of it was copied"
            )
        copied = _copy(source, target, table)
        expected = checksum(source, table)
        found = checksum(target, table)
        if found != expected:
            raise MigrationError(
                f"table {table.name}: verification failed: source {expected[0]} rows, "
                f"checksum {expected[1][:16]}…; target {found[0]} rows, checksum {found[1][:16]}…"
            )
        done.append(Copied(table.name, copied, found[0], found[1]))
    return done


def _copy(source: Database, target: Database, table: Table) -> int:
    marks = ", ".join("?" for _ in table.columns)
    insert = (
        f"INSERT INTO {table.name} ({table.column_list}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    )
    with target.transaction(write=True) as conn:
        (before,) = conn.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()
        batch: list[tuple[Any, ...]] = []
        for row in _rows(source, table):
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                conn.executemany(insert, batch)
                batch = []
        if batch:
            conn.executemany(insert, batch)
        (after,) = conn.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()
        if table.identity and target.dialect == "postgresql":
            column = table.identity
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table.name}"
            )
    return int(after) - int(before)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statusd db",
        description="Database operations. 'migrate' copies a single-node database (history, "
        "subscriptions, outbox) into the PostgreSQL database replicas share; idempotent, "
        "verified by row counts and a checksum per table.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate_parser = commands.add_parser("migrate", help="copy every table, then verify")
    migrate_parser.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="sqlite:///PATH"
    )
    migrate_parser.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="postgresql://…"
    )
    return parser


def main(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = make_parser().parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        source_url = _url(args.source, "--from")
        target_url = _url(args.target, "--to")
    except ValueError as error:
        print(f"statusd db: {error}", file=err)
        return EXIT_USAGE
    if source_url.dialect == "sqlite" and not source_url.path.exists():
        print(f"statusd db: no database at {source_url.path}", file=err)
        return EXIT_REFUSED
    try:
        source = open_database(source_url)
        try:
            target = open_database(target_url)
            try:
                done = migrate(source, target)
            finally:
                target.close()
        finally:
            source.close()
    except (MigrationError, StorageError) as error:
        print(f"statusd db migrate: {error}", file=err)
        return EXIT_REFUSED
    for table in done:
        print(
            f"{table.table}: {table.copied} copied, {table.rows} rows, "
            f"checksum {table.checksum[:16]} verified",
            file=out,
        )
    print(f"{source_url} → {target_url}: {len(done)} tables verified", file=err)
    return EXIT_OK


def _url(text: str, flag: str) -> DatabaseUrl:
    if not text.strip():
        raise ValueError(f"{flag} needs a database URL")
    try:
        return parse_database_url(text, default_path=Path())
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None
