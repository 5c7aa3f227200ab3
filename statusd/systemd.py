"""The systemd notification protocol (sd_notify), without libsystemd.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET``: a datagram socket that takes
newline-separated ``KEY=value`` lines. statusd sends ``READY=1`` once ``/readyz`` would
answer 200, ``STATUS=`` one-line summaries, ``WATCHDOG=1`` pings from the event loop (so
a stalled loop stops them and systemd restarts the service) and ``STOPPING=1`` on
shutdown. A missing or broken socket must never crash statusd: errors are logged once
per run of failures and otherwise ignored.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence

import trio

log = logging.getLogger("statusd.notify")


class SystemdNotifier:
    """Sends sd_notify datagrams to the socket systemd gave us."""

    __slots__ = ("_address", "_failing", "_getpid", "_watchdog_pid", "_watchdog_usec")

    def __init__(
        self,
        address: bytes,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
        getpid: Callable[[], int] = os.getpid,
    ) -> None:
        self._address = address
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._getpid = getpid
        self._failing = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SystemdNotifier | None:
        """The notifier systemd asked for, or None when statusd does not run under it.

        ``@name`` is an abstract socket (``\\0name``); other values must be absolute
        paths. Anything else (e.g. a ``vsock:`` address) is logged and ignored.
        """
        raw = environ.get("NOTIFY_SOCKET", "")
        if not raw:
            return None
        if raw.startswith("@"):
            address = b"\0" + os.fsencode(raw[1:])
        elif raw.startswith("/"):
            address = os.fsencode(raw)
        else:
            log.warning(
                "unsupported NOTIFY_SOCKET, not notifying systemd", extra={"notify_socket": raw}
            )
            return None
        return cls(
            address,
            watchdog_usec=_positive_int(environ.get("WATCHDOG_USEC")),
            watchdog_pid=_positive_int(environ.get("WATCHDOG_PID")),
        )

    @property
    def address(self) -> bytes:
        """The socket address datagrams go to (abstract names start with a NUL byte)."""
        return self._address

    def send(self, *lines: str) -> None:
        """Send the lines as one datagram; never blocks and never raises."""
        message = "\n".join(lines).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message, self._address)
        except OSError as exc:
            if not self._failing:
                log.warning(
                    "cannot notify systemd",
                    extra={"notify_socket": _printable(self._address), "error": _os_error(exc)},
                )
            self._failing = True
        else:
            if self._failing:
                log.info("notifying systemd works again")
            self._failing = False

    def ready(self, status: str) -> None:
        """Tell systemd the service is up (``/readyz`` answers 200), with a status line."""
        self.send("READY=1", "STATUS=" + one_line(status))

    def status(self, text: str) -> None:
        """Update the one-line status shown by ``systemctl status``."""
        self.send("STATUS=" + one_line(text))

    def stopping(self) -> None:
        """Tell systemd a clean shutdown has begun."""
        self.send("STOPPING=1", "STATUS=stopping")

    def watchdog(self) -> None:
        """One keep-alive ping for ``WatchdogSec=``."""
        self.send("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half of ``WATCHDOG_USEC``), or None without a watchdog.

        ``WATCHDOG_PID``, when set, must be this process: a child that inherited the
        environment must not ping on its parent's behalf.
        """
        if self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != self._getpid():
            return None
        return self._watchdog_usec / 2_000_000


async def run_watchdog(
    notifier: SystemdNotifier | None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Ping ``WATCHDOG=1`` every interval from the event loop, until cancelled.

    The pings come from a trio task, not a thread, so a blocked event loop stops them
    and systemd's watchdog fires. Returns at once when there is no watchdog.
    """
    interval = None if notifier is None else notifier.watchdog_interval()
    task_status.started()
    if notifier is None or interval is None:
        return
    while True:
        notifier.watchdog()
        await trio.sleep(interval)


def status_line(fresh: Sequence[str], sources: Sequence[str]) -> str:
    """The one-line summary for ``STATUS=``, e.g. ``7/7 sources fresh``.

    Names the sources that are not fresh, so ``systemctl status`` says what is missing.
    """
    fresh_names = set(fresh)
    missing = [name for name in sources if name not in fresh_names]
    line = f"{len(sources) - len(missing)}/{len(sources)} sources fresh"
    if missing:
        line += "; waiting for " + ", ".join(missing)
    return line


def one_line(text: str) -> str:
    """The text with line breaks turned into spaces (a newline would start a new field)."""
    return " ".join(text.splitlines())


def _positive_int(raw: str | None) -> int | None:
    """A positive decimal integer from the environment, or None when absent or invalid."""
    text = "" if raw is None else raw.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value > 0 else None


def _printable(address: bytes) -> str:
    """The address as systemd spells it (``@name`` for abstract sockets)."""
    if address.startswith(b"\0"):
        return "@" + os.fsdecode(address[1:])
    return os.fsdecode(address)


def _os_error(exc: OSError) -> str:
    """A short error text without the traceback: ``ENOENT: No such file or directory``."""
    if exc.errno is None:
        return str(exc)
    text = os.strerror(exc.errno)
    code = errno.errorcode.get(exc.errno)
    return f"{code}: {text}" if code else text
