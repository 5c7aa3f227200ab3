"""Security checks over real HTTP, with raw request targets that no client normalises:
static files stay inside ``web/``, only GET/HEAD/OPTIONS exist, bodies are refused, header
size and slow headers are bounded, statusd binds loopback unless told otherwise.

One statusd for the module, its page from a copy of ``web/`` that holds a symlink pointing
outside and a hidden file, next to a secret file outside it; its sources are down (nothing
here needs data).
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
from collections.abc import Iterator

import pytest

from statusd.cli import load_settings
from statusd.config import Listen, Settings
from tests.faults.processes import ROOT, launch_statusd
from tests.support.statusd_process import StatusdProcess

pytestmark = pytest.mark.e2e

SECRET = "TOP-SECRET-8d2f"


def content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


class Site:
    """The module's statusd and what its web directory holds."""

    def __init__(self, statusd: StatusdProcess) -> None:
        self.statusd = statusd
        self.port = int(statusd.url.rsplit(":", 1)[1])

    def raw(self, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
        """Send ``request`` as is; the status code (0: closed without one) and the body.

        The body is read by its Content-Length (or to the close): statusd's own answers
        do not rely on the server closing the connection.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            data = bytearray()
            try:
                while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
                    data += chunk
                head, _, body = bytes(data).partition(b"\r\n\r\n")
                length = content_length(head)
                rest = bytearray(body)
                while (length is None or len(rest) < length) and (chunk := sock.recv(65536)):
                    rest += chunk
            except ConnectionResetError:
                return 0, b""
        if not head.startswith(b"HTTP/1.1 "):
            return 0, bytes(data)
        return int(head.split()[1]), bytes(rest)

    def get(self, target: bytes, *headers: bytes) -> tuple[int, bytes]:
        lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        return self.raw(b"\r\n".join([*lines, *headers, b"", b""]))

    def request(self, method: bytes, target: bytes, *headers: bytes) -> tuple[int, bytes]:
        lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        return self.raw(b"\r\n".join([*lines, *headers, b"", b""]))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("security")
    web = workdir / "site" / "web"
    shutil.copytree(ROOT / "web", web)
    outside = workdir / "site" / "secret.txt"
    outside.write_text(SECRET)
    (workdir / "secret-dir").mkdir()
    (workdir / "secret-dir" / "inner.txt").write_text(SECRET)
    (web / "link-out").symlink_to(outside)
    (web / "link-dir").symlink_to(workdir / "secret-dir")
    (web / ".hidden").write_text(SECRET)
    with launch_statusd(
        workdir,
        "--web-dir",
        str(web),
        "--data-dir",
        str(workdir / "no-data"),
        "--source-url",
        "http://127.0.0.1:9",
        "--state-dir",
        str(workdir / "state"),
    ) as statusd:
        yield Site(statusd)


def test_the_page_itself_is_served(site: Site) -> None:
    """The baseline the 404s below are measured against."""
    assert site.get(b"/")[0] == 200
    assert site.get(b"/app.js")[0] == 200
    assert site.get(b"/js/api.js")[0] == 200


TRAVERSALS = [
    b"/../secret.txt",
    b"/../../../../../../etc/passwd",
    b"/js/../../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2e%2e%2fsecret.txt",
    b"/%2E%2E%2Fsecret.txt",
    b"/..%2fsecret.txt",
    b"/js/%2e%2e%2f%2e%2e%2fsecret.txt",
    b"/%252e%252e%252fsecret.txt",
    b"/.%2e/secret.txt",
    b"//etc/passwd",
    b"/%2fetc%2fpasswd",
    b"/link-out",
    b"/link-dir/inner.txt",
    b"/.hidden",
    b"/%00",
    b"/index.html%00",
    b"/index.html%00.js",
    b"/js/",
    b"/js",
    b"/js/.",
    b"/js/%2e",
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t.decode())
def test_nothing_outside_web_and_no_listing(site: Site, target: bytes) -> None:
    """Traversal, encoded traversal, absolute paths, symlinks out, NUL bytes, hidden files
    and directories: 404, never the secret, never a listing."""
    status, body = site.get(target)
    assert status == 404, (target, status)
    assert SECRET.encode() not in body
    assert b"api.js" not in body  # no directory listing


RAW_TARGETS = [
    b"/..\\secret.txt",
    b"/%5c..%5csecret.txt",
    b"http://127.0.0.1/../secret.txt",
    b"/\x00secret.txt",
    b"/..;/secret.txt",
]


@pytest.mark.parametrize("target", RAW_TARGETS, ids=repr)
def test_malformed_targets_are_refused(site: Site, target: bytes) -> None:
    """Backslashes, absolute-form targets and raw NUL bytes: 400 (refused by the HTTP
    parser) or 404, never the secret."""
    status, body = site.get(target)
    assert status in (0, 400, 404), (target, status)
    assert SECRET.encode() not in body


ROUTES = [
    b"/",
    b"/app.js",
    b"/api",
    b"/api/sources",
    b"/api/events",
    b"/api/verdicts",
    b"/healthz",
    b"/readyz",
    b"/metrics",
    b"/api/v2/status.json",
    b"/api/v2/summary.json",
    b"/api/history",
    b"/api/history.csv",
    b"/feed.atom",
    b"/badge/overall.svg",
    b"/badge/sms/RU.svg",
    b"/_control/faults",
    b"/_control/regenerate",
]


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"PATCH", b"TRACE"])
def test_no_write_method_anywhere(site: Site, method: bytes) -> None:
    """Every route refuses every method but GET/HEAD/OPTIONS: 405 naming only those, or
    404 for what does not exist (the simulator's _control API is not part of statusd)."""
    for route in ROUTES:
        status, body = site.request(method, route, b"Content-Length: 0")
        assert status in (404, 405), (method, route, status, body[:200])
        if route.startswith(b"/_control"):
            assert status == 404, (method, route, status)  # no such path, whatever the method
    allowed = allowed_methods(site, b"/api/sources")
    assert allowed <= {"GET", "HEAD", "OPTIONS"}
    assert "GET" in allowed


def allowed_methods(site: Site, route: bytes) -> set[str]:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(b"DELETE " + route + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = bytearray()
        while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
            data += chunk
    head = bytes(data).partition(b"\r\n\r\n")[0].decode("latin-1")
    line = next(h for h in head.split("\r\n") if h.lower().startswith("allow:"))
    return {part.strip() for part in line.split(":", 1)[1].split(",")}


def test_control_api_is_absent(site: Site) -> None:
    assert site.get(b"/_control/faults")[0] == 404
    assert site.get(b"/_control/status")[0] == 404


@pytest.mark.parametrize(
    "headers",
    [
        (b"Content-Length: 5",),
        (b"Transfer-Encoding: chunked",),
    ],
    ids=["content-length", "chunked"],
)
@pytest.mark.parametrize("route", [b"/api", b"/healthz", b"/"])
@pytest.mark.parametrize(("method", "expected"), [(b"GET", 400), (b"POST", 405)])
def test_request_bodies_are_refused(
    site: Site, route: bytes, headers: tuple[bytes, ...], method: bytes, expected: int
) -> None:
    """Over a real socket: a body on a route that takes none is 400 once the method is
    allowed, and a wrong method is 405 whatever the body (never 413: no route takes one)."""
    body = b"hello" if headers[0].startswith(b"Content-Length") else b"5\r\nhello\r\n0\r\n\r\n"
    lines = [method + b" " + route + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    status, _ = site.raw(b"\r\n".join([*lines, *headers, b"", b""]) + body)
    assert status == expected, (method, route, headers, status)


def send_in_pieces(site: Site, request: bytes, piece: int = 1024) -> int:
    """Send ``request`` a piece at a time (as a real network delivers a big head); the
    status code of the answer (0: closed without one)."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for start in range(0, len(request), piece):
                sock.sendall(request[start : start + piece])
                time.sleep(0.005)
            data = sock.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            return 0
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else 0


def head_with(*headers: bytes) -> bytes:
    lines = [b"GET /healthz HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close", *headers]
    return b"\r\n".join([*lines, b"", b""])


def test_header_size_is_limited(site: Site) -> None:
    """Headers up to the limit (16 KiB by default) are fine; a bigger head arriving in
    pieces is refused by the HTTP parser (431) before any app code runs."""
    assert site.get(b"/healthz", b"X-Filler: " + b"a" * 8 * 1024)[0] == 200
    assert send_in_pieces(site, head_with(b"X-Filler: " + b"a" * 8 * 1024)) == 200
    big = head_with(b"X-Filler: " + b"a" * 20 * 1024)
    assert send_in_pieces(site, big) in (0, 400, 431)
    many = head_with(*(b"X-H%d: %s" % (i, b"b" * 100) for i in range(250)))
    assert send_in_pieces(site, many) in (0, 400, 431)


def test_header_size_limit_holds_for_a_head_arriving_at_once(site: Site) -> None:
    status, _ = site.get(b"/healthz", b"X-Filler: " + b"a" * 20 * 1024)
    assert status in (0, 400, 431), status


def test_slow_headers_are_cut_off(site: Site) -> None:
    """A client trickling its request head one byte at a time (slowloris) is disconnected
    by the keep-alive timeout (5 s) instead of holding its connection for ever."""
    closed_after = None
    with socket.create_connection(("127.0.0.1", site.port), timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        for _ in range(60):  # up to 15 s of trickling
            try:
                sock.sendall(b"X")
                sock.settimeout(0.25)
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "still connected after 15 s of trickling"


def test_binds_loopback_by_default() -> None:
    settings, _ = load_settings([], {})
    assert settings.listen == Listen("127.0.0.1", 8080)
    assert settings.listen.is_loopback


def test_non_loopback_address_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Binding another address is an explicit setting and logs a warning (checked without
    opening a non-loopback socket: the bind is replaced, the daemon not run)."""
    import statusd.daemon as daemon

    bound: list[Listen] = []
    sockets: list[socket.socket] = []

    def fake_bind(listen: Listen) -> socket.socket:
        bound.append(listen)
        sockets.append(socket.socket())
        return sockets[-1]

    monkeypatch.setattr(daemon, "bind_listen_socket", fake_bind)
    settings, _ = load_settings(["--listen", "0.0.0.0:8080"], {})
    with caplog.at_level(logging.WARNING, logger="statusd"):
        daemon.listen_socket(settings)
    assert bound == [Listen("0.0.0.0", 8080)]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("non-loopback" in r.getMessage() for r in warnings)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="statusd"):
        daemon.listen_socket(Settings(listen=Listen("127.0.0.1", 8080)))
    assert not [r for r in caplog.records if "non-loopback" in r.getMessage()]
    for sock in sockets:
        sock.close()
