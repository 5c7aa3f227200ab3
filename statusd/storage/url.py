"""``database_url``: which database holds the history and subscriptions (SPEC §11).

``sqlite:///PATH`` (a file, embedded: the default is the ``history_db`` file) or
``postgresql://USER:PASSWORD@HOST:PORT/NAME`` (also ``postgres://``), which several replicas
share. As with SQLAlchemy's URLs, ``sqlite:///state/h.db`` is relative to the working
directory and ``sqlite:////var/lib/statusd/h.db`` is absolute. A password never reaches a log:
use ``DatabaseUrl.redacted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

Dialect = Literal["sqlite", "postgresql"]
SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed ``database_url``: the dialect and where to connect."""

    dialect: Dialect
    target: str
    """The SQLite file's path, or the PostgreSQL URL as psycopg takes it."""

    @property
    def path(self) -> Path:
        """The SQLite file (only for ``dialect == "sqlite"``)."""
        if self.dialect != "sqlite":
            raise ValueError("a PostgreSQL database has no file path")
        return Path(self.target)

    @property
    def shared(self) -> bool:
        """Whether other replicas may use the same database (and leadership is needed)."""
        return self.dialect == "postgresql"

    def redacted(self) -> str:
        """The URL with any password replaced by ``***`` (for logs and errors)."""
        if self.dialect == "sqlite":
            return SQLITE_PREFIX + self.target
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{user}:***@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def __str__(self) -> str:
        return self.redacted()


def sqlite_url(path: Path) -> DatabaseUrl:
    """The embedded database in the file ``path``."""
    return DatabaseUrl("sqlite", str(path))


def parse_database_url(text: str, *, default_path: Path) -> DatabaseUrl:
    """``text`` as a ``DatabaseUrl`` ("" = SQLite in ``default_path``); ``ValueError`` says
    what is wrong without repeating a password."""
    text = text.strip()
    if not text:
        return sqlite_url(default_path)
    if text.startswith(SQLITE_PREFIX):
        path = text[len(SQLITE_PREFIX) :]
        if not path or path.endswith("/"):
            raise ValueError("expected sqlite:///PATH naming a file")
        return sqlite_url(Path(path))
    scheme = text.partition("://")[0].lower()
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - urlsplit checks the port only when it is read
        except ValueError as error:
            raise ValueError(f"malformed PostgreSQL URL: {error}") from None
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("expected postgresql://USER@HOST[:PORT]/DATABASE")
        return DatabaseUrl("postgresql", text)
    raise ValueError(
        f"expected sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE, got scheme {scheme!r}"
        if "://" in text
        else "expected sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE"
    )


def validated_database_url(text: str) -> str:
    """``text`` if it is a valid ``database_url`` (``ValueError`` saying why if not)."""
    parse_database_url(text, default_path=Path("history.sqlite3"))
    return text
