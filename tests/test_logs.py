"""Logging: logfmt/JSON lines, journal mode, one-line exceptions, state-change logging."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.logs import (
    EventFormatter,
    StateChangeLogger,
    configure_logging,
    format_timestamp,
    is_journal_stream,
    logfmt_value,
    render_logfmt,
    syslog_priority,
)

# 2026-11-25T14:00:00.123Z
CREATED = 1795615200.123


def parse_logfmt(line: str) -> dict[str, str]:
    """A strict logfmt reader for the tests: ``key=value`` or ``key="escaped"``."""
    fields: dict[str, str] = {}
    pos = 0
    escapes = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
    while pos < len(line):
        eq = line.index("=", pos)
        key = line[pos:eq]
        pos = eq + 1
        if pos < len(line) and line[pos] == '"':
            pos += 1
            value = []
            while line[pos] != '"':
                if line[pos] == "\\":
                    code = line[pos + 1]
                    if code == "u":
                        value.append(chr(int(line[pos + 2 : pos + 6], 16)))
                        pos += 6
                    else:
                        value.append(escapes[code])
                        pos += 2
                else:
                    value.append(line[pos])
                    pos += 1
            fields[key] = "".join(value)
            pos += 1
        else:
            end = line.find(" ", pos)
            end = len(line) if end == -1 else end
            fields[key] = line[pos:end]
            pos = end
        assert pos == len(line) or line[pos] == " ", line
        pos += 1
    return fields


def make_record(
    msg: str = "collection failed",
    *,
    level: int = logging.INFO,
    name: str = "statusd.supervisor",
    extra: dict[str, object] | None = None,
    exc_info: logging._SysExcInfoType | None = None,
) -> logging.LogRecord:
    record = logging.getLogger(name).makeRecord(
        name, level, "x.py", 1, msg, (), exc_info, extra=extra
    )
    record.created = CREATED
    return record


@pytest.fixture
def statusd_logger() -> Iterator[logging.Logger]:
    """The statusd logger, restored to no handlers and NOTSET after the test."""
    logger = logging.getLogger("statusd")
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_logfmt_line_of_the_contract() -> None:
    """The documented example renders exactly, fields in order, quoted only where needed."""
    formatter = EventFormatter("logfmt", timestamps=True)
    record = make_record(extra={"source": "sms", "error": "timeout"})
    assert formatter.format(record) == (
        'ts=2026-11-25T14:00:00.123Z level=info logger=statusd.supervisor msg="collection failed"'
        " source=sms error=timeout"
    )


def test_json_line() -> None:
    """JSON format: one object per line with the same fields."""
    formatter = EventFormatter("json", timestamps=True)
    line = formatter.format(make_record(level=logging.WARNING, extra={"source": "sms", "n": 3}))
    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2026-11-25T14:00:00.123Z",
        "level": "warning",
        "logger": "statusd.supervisor",
        "msg": "collection failed",
        "source": "sms",
        "n": 3,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sms", "sms"),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("C:\\x", '"C:\\\\x"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("bell\x07", '"bell\\u0007"'),
        ("", '""'),
        (None, ""),
        (True, "true"),
        (12, "12"),
        (0.5, "0.5"),
        ("Türkiye", "Türkiye"),
    ],
)
def test_logfmt_values(value: object, expected: str) -> None:
    """Values are bare when safe, otherwise quoted with escapes; never more than one line."""
    assert logfmt_value(value) == expected


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(), max_size=5))
def test_logfmt_round_trip(fields: dict[str, str]) -> None:
    """Any text survives render and parse unchanged, on one line."""
    line = render_logfmt(fields)
    assert "\n" not in line
    assert "\r" not in line
    if fields:
        assert parse_logfmt(line) == fields


def test_configure_writes_logfmt_with_timestamps(statusd_logger: logging.Logger) -> None:
    """Outside the journal each line starts with an RFC 3339 UTC timestamp."""
    stream = io.StringIO()
    configure_logging("info", "logfmt", {}, stream=stream)
    logging.getLogger("statusd.supervisor").info(
        "collection failed", extra={"source": "sms", "error": "connection refused"}
    )
    line = stream.getvalue()
    assert line.endswith("\n")
    assert line.count("\n") == 1
    fields = parse_logfmt(line.rstrip("\n"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fields.pop("ts"))
    assert fields == {
        "level": "info",
        "logger": "statusd.supervisor",
        "msg": "collection failed",
        "source": "sms",
        "error": "connection refused",
    }


def test_configure_twice_replaces_the_handler(statusd_logger: logging.Logger) -> None:
    """A second call replaces the first: one line per event, in the new format only."""
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "logfmt", {}, stream=first)
    configure_logging("info", "json", {}, stream=second)
    logging.getLogger("statusd.app").info("listening", extra={"url": "http://127.0.0.1:1"})
    assert first.getvalue() == ""
    lines = second.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["url"] == "http://127.0.0.1:1"
    assert len(statusd_logger.handlers) == 1


def test_level_filters(statusd_logger: logging.Logger) -> None:
    """Events below the configured level are dropped."""
    stream = io.StringIO()
    configure_logging("WARNING", "logfmt", {}, stream=stream)
    log = logging.getLogger("statusd.x")
    log.info("quiet")
    log.warning("loud")
    assert "quiet" not in stream.getvalue()
    assert "msg=loud" in stream.getvalue()


@pytest.mark.parametrize(("level", "fmt"), [("verbose", "logfmt"), ("info", "xml")])
def test_bad_level_or_format(level: str, fmt: str, statusd_logger: logging.Logger) -> None:
    """An unknown level or format is refused with a message naming it."""
    with pytest.raises(ValueError, match=r"verbose|xml"):
        configure_logging(level, fmt, {}, stream=io.StringIO())  # type: ignore[arg-type]


def test_journal_stream_drops_timestamps(statusd_logger: logging.Logger) -> None:
    """With JOURNAL_STREAM set the journal stamps lines, so statusd writes no ts."""
    stream = io.StringIO()
    configure_logging("info", "logfmt", {"JOURNAL_STREAM": "8:12345"}, stream=stream)
    logging.getLogger("statusd.daemon").info("ready")
    assert stream.getvalue() == "level=info logger=statusd.daemon msg=ready\n"


def test_real_journal_stream_gets_syslog_priorities(
    statusd_logger: logging.Logger, tmp_path: Path
) -> None:
    """When stderr is the very stream JOURNAL_STREAM names, lines carry ``<N>`` priorities."""
    with (tmp_path / "journal").open("w+", encoding="utf-8") as stream:
        info = os.fstat(stream.fileno())
        environ = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert is_journal_stream(environ, stream)
        configure_logging("info", "json", environ, stream=stream)
        log = logging.getLogger("statusd.collector")
        log.warning("collection failed", extra={"source": "mms"})
        log.info("source recovered", extra={"source": "mms"})
        stream.seek(0)
        lines = stream.read().splitlines()
    assert [line[:3] for line in lines] == ["<4>", "<6>"]
    assert json.loads(lines[0][3:]) == {
        "level": "warning",
        "logger": "statusd.collector",
        "msg": "collection failed",
        "source": "mms",
    }


@pytest.mark.parametrize("value", ["", "8", "a:b", "1:2:3"])
def test_not_a_journal_stream(value: str, tmp_path: Path) -> None:
    """Malformed or foreign JOURNAL_STREAM values do not match a file's device and inode."""
    with (tmp_path / "f").open("w", encoding="utf-8") as stream:
        assert not is_journal_stream({"JOURNAL_STREAM": value}, stream)
    assert not is_journal_stream({"JOURNAL_STREAM": "1:2"}, io.StringIO())


def test_exception_on_one_line() -> None:
    """An unexpected error is rendered as its repr and where it was raised, no traceback."""
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = make_record("unexpected error", level=logging.ERROR, exc_info=sys.exc_info())
    line = EventFormatter("logfmt", timestamps=False).format(record)
    assert "\n" not in line
    assert "Traceback" not in line
    fields = parse_logfmt(line)
    assert fields["exc"] == "ValueError('boom\\nsecond line')"
    assert re.fullmatch(r".*test_logs\.py:\d+", fields["exc_at"])


def test_extras_cannot_overwrite_fixed_fields() -> None:
    """An extra named ``level`` or ``ts`` is kept under a suffixed name."""
    line = EventFormatter("logfmt", timestamps=True).format(
        make_record(extra={"level": "x", "ts": "y"})
    )
    fields = parse_logfmt(line)
    assert fields["level"] == "info"
    assert fields["ts"] == "2026-11-25T14:00:00.123Z"
    assert (fields["level_"], fields["ts_"]) == ("x", "y")


def test_timestamp_format() -> None:
    """Milliseconds, UTC, ``Z``."""
    assert format_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert format_timestamp(CREATED) == "2026-11-25T14:00:00.123Z"


@pytest.mark.parametrize(
    ("level", "priority"),
    [(logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3), (50, 2)],
)
def test_syslog_priority(level: int, priority: int) -> None:
    assert syslog_priority(level) == priority


def test_state_change_logger(caplog: pytest.LogCaptureFixture) -> None:
    """Failures are logged once per change: new failure, new error text, recovery."""
    changes = StateChangeLogger(logging.getLogger("statusd.collector"))
    with caplog.at_level(logging.INFO, logger="statusd.collector"):
        changes.note("sms", None)
        changes.note("sms", None)
        changes.note("sms", "timeout")
        changes.note("sms", "timeout")
        changes.note("sms", "timeout")
        changes.note("sms", "HTTP 500")
        changes.note("mms", "connection refused")
        changes.note("sms", None)
        changes.note("sms", None)
    events = [
        (r.levelname, r.getMessage(), {k: r.__dict__.get(k) for k in ("source", "error")})
        for r in caplog.records
    ]
    assert events == [
        ("INFO", "source ok", {"source": "sms", "error": None}),
        ("WARNING", "collection failed", {"source": "sms", "error": "timeout"}),
        ("WARNING", "collection failed", {"source": "sms", "error": "HTTP 500"}),
        ("WARNING", "collection failed", {"source": "mms", "error": "connection refused"}),
        ("INFO", "source recovered", {"source": "sms", "error": None}),
    ]
    assert caplog.records[-1].__dict__["failed_attempts"] == 4
    assert all(r.exc_info is None for r in caplog.records)
    assert changes.failing() == {"mms": "connection refused"}
