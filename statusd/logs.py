"""Logging: one line per event, logfmt by default or JSON, on stderr.

Events carry their fields as ``extra``::

    log.warning("collection failed", extra={"source": "sms", "error": "timeout"})

and render as ``ts=… level=warning logger=statusd.supervisor msg="collection failed"
source=sms error=timeout`` (or one JSON object). Under systemd (``JOURNAL_STREAM`` set)
the journal adds its own timestamps, so statusd writes none; when stderr really is that
journal stream, each line starts with a ``<N>`` syslog priority so ``journalctl -p``
works. Expected failures (a source being down) are logged without a traceback; an
``exc_info`` is rendered on the same line as its ``repr`` and where it was raised.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["logfmt", "json"]

LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
"""The accepted ``log_level`` values (lower case, as in the configuration)."""

ROOT_LOGGER = "statusd"

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
_FIXED_KEYS = ("ts", "level", "logger", "msg")
_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def configure_logging(
    level: str,
    fmt: LogFormat,
    environ: Mapping[str, str],
    *,
    stream: TextIO | None = None,
) -> None:
    """Send the ``statusd`` logger tree to stderr in the given format, replacing handlers.

    Safe to call more than once (tests do). ``stream`` defaults to ``sys.stderr`` at call
    time. The logger still propagates, so pytest's ``caplog`` sees records; nothing in
    statusd configures the Python root logger, so lines are not printed twice.
    """
    try:
        numeric_level = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(
            f"unknown log level {level!r} (expected one of {', '.join(LEVELS)})"
        ) from None
    if fmt not in ("logfmt", "json"):
        raise ValueError(f"unknown log format {fmt!r} (expected logfmt or json)")
    out = sys.stderr if stream is None else stream
    journal = bool(environ.get("JOURNAL_STREAM"))
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        EventFormatter(
            fmt,
            timestamps=not journal,
            priority_prefix=journal and is_journal_stream(environ, out),
        )
    )
    logger = logging.getLogger(ROOT_LOGGER)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(numeric_level)


def is_journal_stream(environ: Mapping[str, str], stream: TextIO) -> bool:
    """Whether ``stream`` is the journal socket systemd named in ``JOURNAL_STREAM``.

    The variable is inherited by children whose stderr may be a pipe or a terminal, so
    systemd documents comparing its ``device:inode`` with the stream's own.
    """
    raw = environ.get("JOURNAL_STREAM", "")
    device, sep, inode = raw.partition(":")
    if not sep or not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        # No file descriptor (a StringIO in tests, a closed stream): not the journal.
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


class EventFormatter(logging.Formatter):
    """Renders a record and its ``extra`` fields as one logfmt or JSON line."""

    def __init__(self, fmt: LogFormat, *, timestamps: bool, priority_prefix: bool = False):
        super().__init__()
        self.fmt: LogFormat = fmt
        self.timestamps = timestamps
        self.priority_prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        fields = event_fields(record, timestamps=self.timestamps)
        line = render_json(fields) if self.fmt == "json" else render_logfmt(fields)
        if self.priority_prefix:
            line = f"<{syslog_priority(record.levelno)}>{line}"
        return line


def event_fields(record: logging.LogRecord, *, timestamps: bool) -> dict[str, Any]:
    """The ordered fields of one event: ts, level, logger, msg, the extras, the exception."""
    fields: dict[str, Any] = {}
    if timestamps:
        fields["ts"] = format_timestamp(record.created)
    fields["level"] = record.levelname.lower()
    fields["logger"] = record.name
    fields["msg"] = record.getMessage()
    for key, value in record.__dict__.items():
        if key in _STANDARD_ATTRS or key.startswith("_"):
            continue
        # An extra named like a fixed field must not overwrite it.
        fields[f"{key}_" if key in _FIXED_KEYS else key] = value
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        fields["exc"] = repr(exc)
        where = _raised_at(exc)
        if where:
            fields["exc_at"] = where
    return fields


def format_timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-25T14:00:00.123Z``."""
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def render_logfmt(fields: Mapping[str, Any]) -> str:
    """``key=value`` pairs separated by spaces, values quoted only when needed."""
    return " ".join(f"{_logfmt_key(key)}={logfmt_value(value)}" for key, value in fields.items())


def logfmt_value(value: Any) -> str:
    """One logfmt value: bare when safe, else double-quoted with ``\\``, ``"`` and
    control characters escaped, so the line stays one line and parses back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    if text and not any(_needs_quotes(ch) for ch in text):
        return text
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def render_json(fields: Mapping[str, Any]) -> str:
    """One JSON object; values JSON cannot represent are written as their ``str``."""
    return json.dumps(fields, ensure_ascii=False, default=str, separators=(",", ":"))


def syslog_priority(levelno: int) -> int:
    """The syslog priority journald reads from a ``<N>`` line prefix."""
    for threshold in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= threshold:
            return _SYSLOG_PRIORITY[threshold]
    return _SYSLOG_PRIORITY[logging.DEBUG]


class StateChangeLogger:
    """Logs a source's failures once per change of state, not on every retry.

    ``note(source, error)`` after each collection (``error`` None on success) logs:
    the first failure (``collection failed``), a failure with a new error text, and
    the recovery (``source recovered``, with the number of failed attempts). A source
    that keeps failing the same way stays quiet.
    """

    __slots__ = ("_errors", "_failures", "_logger")

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger if logger is not None else logging.getLogger("statusd.sources")
        self._errors: dict[str, str | None] = {}
        self._failures: dict[str, int] = {}

    def note(self, source: str, error: str | None) -> None:
        """Record one collection result and log it if the source's state changed."""
        seen = source in self._errors
        previous = self._errors.get(source)
        self._errors[source] = error
        if error is None:
            failures = self._failures.pop(source, 0)
            if not seen:
                self._logger.info("source ok", extra={"source": source})
            elif previous is not None:
                self._logger.info(
                    "source recovered", extra={"source": source, "failed_attempts": failures}
                )
            return
        self._failures[source] = self._failures.get(source, 0) + 1
        if error != previous:
            self._logger.warning("collection failed", extra={"source": source, "error": error})

    def failing(self) -> dict[str, str]:
        """The sources whose last collection failed, with their error text."""
        return {name: error for name, error in self._errors.items() if error is not None}


def _needs_quotes(ch: str) -> bool:
    return ch in ' "=\\' or ord(ch) < 0x20 or ord(ch) == 0x7F


def _escape(ch: str) -> str:
    if ch == '"':
        return '\\"'
    if ch == "\\":
        return "\\\\"
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\u{ord(ch):04x}"
    return ch


def _logfmt_key(key: str) -> str:
    """Keys cannot be quoted in logfmt: replace what would break the pair."""
    cleaned = "".join("_" if _needs_quotes(ch) else ch for ch in key)
    return cleaned or "_"


def _raised_at(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of the exception's traceback, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"
