"""Settings: built-in defaults < TOML file < ``STATUSD_*`` environment < command-line flags.

Every layer is reduced to raw values keyed by setting name; one table of parsers turns them
into a typed, validated ``Settings``. A bad value raises ``ConfigError`` whose message names
the setting and where it came from, so the operator knows what to change.
"""

from __future__ import annotations

import ipaddress
import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from statusd.sources.base import Limits
from statusd.storage.url import DatabaseUrl, parse_database_url, validated_database_url

log = logging.getLogger("statusd.config")

LogFormat = Literal["logfmt", "json"]
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A setting is missing, malformed or out of range; the message names it."""


@dataclass(frozen=True, slots=True)
class Listen:
    """A TCP address to listen on."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def packaged_web_dir() -> Path:
    """The page's files: inside the installed package, else ``web/`` of the source checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "web"
    return installed if installed.is_dir() else here.parent / "web"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of statusd, validated."""

    listen: Listen = Listen("127.0.0.1", 8080)
    data_dir: Path = Path("data")
    source_url: str = "http://127.0.0.1:8383"
    mms_path: str = "/mms"
    support_path: str = "/support"
    incident_path: str = "/accendent"
    interval: float = 30.0
    deadline: float = 5.0
    """Unset, it is ``min(5, interval)``; ``stale_after`` unset is ``3 × interval``."""
    stale_after: float = 90.0
    web_dir: Path = field(default_factory=packaged_web_dir)
    state_dir: Path = Path("state")
    state_file: Path = Path("state/last-good.json")
    history_db: Path = Path("state/history.sqlite3")
    database_url: str = ""
    """"" = SQLite in ``history_db``; ``sqlite:///PATH`` or ``postgresql://…`` (SPEC §11)."""
    history_raw_days: int = 35
    history_rollup_days: int = 400
    maintenance_file: Path = Path("state/maintenance.toml")
    """The planned maintenance windows (SPEC §9); unset, ``<state_dir>/maintenance.toml``."""
    log_level: str = "info"
    log_format: LogFormat = "logfmt"
    max_body_bytes: int = 64 * 1024 * 1024
    max_line_bytes: int = 4 * 1024
    worker_process_bytes: int = 4 * 1024 * 1024
    """Inputs at least this big are parsed in a worker process (0: never); see collect.bigparse."""
    max_header_bytes: int = 16 * 1024
    max_connections: int = 1000
    max_event_streams: int = 5000
    """Open /api/events streams at once, apart from max_connections (0: off, pages poll)."""
    nchan_publish_url: str = ""
    """nginx nchan publisher location each new /api ETag is POSTed to ("" = none)."""
    shutdown_timeout: float = 5.0
    public_url: str = ""
    """Where the public reaches the page (feed links, Statuspage ``page.url``); "" = listen."""
    page_name: str = "statusd"
    verdicts: Mapping[str, Any] = field(default_factory=dict)
    # Subscriptions and notifications (SPEC §8).
    smtp_url: str = ""
    """The SMTP relay (``smtp://``, ``smtp+starttls://``, ``smtps://``); "" = no email."""
    mail_from: str = ""
    """The ``From`` address of every email; required with ``smtp_url``."""
    smtp_connections: int = 4
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False
    webhook_concurrency: int = 16
    subscribe_rate: int = 10
    """New subscriptions per client address per hour."""
    max_subscriptions: int = 100_000
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    """Peers whose ``X-Forwarded-For`` names the client (for ``subscribe_rate``)."""
    notify_hold: float = 120.0
    """Seconds a verdict must hold before it is settled (and notified)."""
    notify_batch: float = 60.0
    """Changes settling within this many seconds go to a subscriber as one message."""

    @property
    def database(self) -> DatabaseUrl:
        """``database_url`` parsed (validated when the settings were built)."""
        return parse_database_url(self.database_url, default_path=self.history_db)

    @property
    def limits(self) -> Limits:
        return Limits(max_body_bytes=self.max_body_bytes, max_line_bytes=self.max_line_bytes)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.listen}"

    def source_path(self, source: str, default: str) -> str:
        """URL path of an HTTP source: the configured one for mms, support and incident."""
        paths = {"mms": self.mms_path, "support": self.support_path, "incident": self.incident_path}
        return paths.get(source, default)


DEFAULTS = Settings()

# --- parsers of raw values --------------------------------------------------------------------


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _listen(value: object) -> Listen:
    text = _text(value)
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = host.removeprefix("[").removesuffix("]")
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"port must be 0-65535, got {port_text!r}")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"host must be an IP address or localhost, got {host!r}") from None
    return Listen(host, int(port_text))


def _url(value: object) -> str:
    text = _text(value).rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _url_path(value: object) -> str:
    text = _text(value)
    if not text.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {text!r}")
    return text


def _number(value: object, *, minimum: float, strict: bool) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds")
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(_text(value))
        except ValueError:
            raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    if number < minimum or (strict and number == minimum):
        raise ValueError(f"must be {'>' if strict else '>='} {minimum:g}, got {number:g}")
    return number


def _seconds(value: object) -> float:
    return _number(value, minimum=0, strict=True)


def _count(value: object) -> int:
    number = _whole(value)
    if number < 1:
        raise ValueError(f"must be >= 1, got {number}")
    return number


def _whole(value: object) -> int:
    """A whole number >= 0 (0 switches something off)."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"expected a whole number, got {text!r}")
        number = int(text)
    if number < 0:
        raise ValueError(f"must be >= 0, got {number}")
    return number


def _path(value: object) -> Path:
    return Path(_text(value))


def _log_level(value: object) -> str:
    text = _text(value).lower()
    if text not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return text


def _log_format(value: object) -> str:
    text = _text(value).lower()
    if text not in ("logfmt", "json"):
        raise ValueError(f"expected logfmt or json, got {text!r}")
    return text


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


def _smtp_url(value: object) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ValueError(f"expected {', '.join(s + '://HOST[:PORT]' for s in SMTP_SCHEMES)}")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as error:
        raise ValueError(str(error)) from None
    return text


def _mail_from(value: object) -> str:
    text = _text(value)
    if "@" not in text or any(c in text for c in "\r\n<>, "):
        raise ValueError(f"expected one plain address like status@example.com, got {text!r}")
    return text


def _networks(value: object) -> tuple[str, ...]:
    """IP addresses or networks: a TOML list or a comma-separated string ("" = none)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of IP addresses or networks")
    found = tuple(item.strip() for item in items if item.strip())
    for item in found:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"expected an IP address or network, got {item!r}") from None
    return found


def _table(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table")
    return dict(value)


PARSERS: dict[str, Callable[[object], Any]] = {
    "listen": _listen,
    "data_dir": _path,
    "source_url": _url,
    "mms_path": _url_path,
    "support_path": _url_path,
    "incident_path": _url_path,
    "interval": _seconds,
    "deadline": _seconds,
    "stale_after": _seconds,
    "web_dir": _path,
    "state_dir": _path,
    "state_file": _path,
    "history_db": _path,
    "database_url": lambda value: validated_database_url(_text(value)),
    "history_raw_days": _count,
    "history_rollup_days": _count,
    "maintenance_file": _path,
    "log_level": _log_level,
    "log_format": _log_format,
    "max_body_bytes": _count,
    "max_line_bytes": _count,
    "worker_process_bytes": _whole,
    "max_header_bytes": _count,
    "max_connections": _count,
    "max_event_streams": _whole,
    "nchan_publish_url": _url,
    "shutdown_timeout": _seconds,
    "public_url": _url,
    "page_name": _text,
    "verdicts": _table,
    "smtp_url": _smtp_url,
    "mail_from": _mail_from,
    "smtp_connections": _count,
    "webhook_allow_http": _flag,
    "webhook_allow_private": _flag,
    "webhook_concurrency": _count,
    "subscribe_rate": _count,
    "max_subscriptions": _count,
    "trusted_proxies": _networks,
    "notify_hold": _seconds,
    "notify_batch": _seconds,
}
assert set(PARSERS) == {f.name for f in fields(Settings)}

# Settings that are tables: never taken from the environment or flags.
TABLE_SETTINGS = frozenset({"verdicts"})


def read_toml(path: Path) -> dict[str, Any]:
    """The raw settings of a TOML file; unknown keys are an error naming the key."""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(document) - set(PARSERS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    return document


def build_settings(layers: list[tuple[str, Mapping[str, object]]]) -> Settings:
    """Merge raw layers (lowest precedence first) into validated ``Settings``.

    Each layer is ``(where, values)``; ``where`` ("config file x", "environment", "flag")
    goes into the error message.
    """
    chosen: dict[str, tuple[str, object]] = {}
    for where, values in layers:
        for name, value in values.items():
            if value is not None:
                chosen[name] = (where, value)
    typed: dict[str, Any] = {}
    for name, (where, value) in chosen.items():
        try:
            typed[name] = PARSERS[name](value)
        except ValueError as error:
            raise ConfigError(f"setting {name} ({where}): {error}") from None
    # Defaults that follow other settings (SPEC §5): a faster interval alone is never an error.
    interval = typed.get("interval", DEFAULTS.interval)
    typed.setdefault("deadline", min(DEFAULTS.deadline, interval))
    typed.setdefault("stale_after", 3 * interval)
    state_dir = typed.get("state_dir", DEFAULTS.state_dir)
    typed.setdefault("state_file", state_dir / "last-good.json")
    typed.setdefault("history_db", state_dir / "history.sqlite3")
    typed.setdefault("maintenance_file", state_dir / "maintenance.toml")
    settings = Settings(**typed)
    if settings.deadline > settings.interval:
        raise ConfigError(
            f"setting deadline ({chosen['deadline'][0]}): {settings.deadline:g} s must not "
            f"exceed interval ({settings.interval:g} s)"
        )
    if settings.smtp_url and not settings.mail_from:
        raise ConfigError("setting mail_from is required with smtp_url (the From of every email)")
    if settings.stale_after < settings.interval:
        raise ConfigError(
            f"setting stale_after ({settings.stale_after:g} s) must be at least interval "
            f"({settings.interval:g} s), or every source would turn stale between collections"
        )
    return settings
