"""The webhook receivers of the notification benchmark: one process, one port, one URL path
per receiver, each verifying its own subscription's Standard Webhooks signature.

    python -m bench.notify_receiver --listen 127.0.0.1:PORT --secrets FILE --status FILE

``--secrets`` is a JSON object ``{"/hook/0": "whsec_…", …}``. A POST to a known path whose
signature verifies (the ``standardwebhooks`` package) is answered 204 and counted; a bad
signature 401, an unknown path 404. Counts (deliveries, distinct paths, webhook-ids seen
twice, refusals, the wall time of the first and the last delivery) go to ``--status`` as in
``bench.notify_sink``. hypercorn's trio worker serves it with statusd's own settings
(``bench.bare_app.serve_until_signal``), in a process apart from statusd.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from bench.bare_app import answer_lifespan, serve_until_signal
from bench.notify_sink import STATUS_EVERY, write_status
from statusd.config import build_settings


class Receivers:
    """The ASGI app: one verifying receiver per path of ``secrets``."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.verifiers = {path: Webhook(secret) for path, secret in secrets.items()}
        self.delivered = 0
        self.paths: set[str] = set()
        self.ids: set[str] = set()
        self.duplicates = 0
        self.refused = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await _answer(send, self.take(scope["path"], scope["headers"], body))

    def take(self, path: str, raw_headers: Any, body: bytes) -> int:
        """The status of one request, counted."""
        verifier = self.verifiers.get(path)
        if verifier is None:
            self.refused += 1
            return 404
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        try:
            verifier.verify(body, headers)
        except WebhookVerificationError:
            self.refused += 1
            return 401
        now = time.time()
        webhook_id = headers.get("webhook-id", "")
        if webhook_id in self.ids:
            self.duplicates += 1
        self.ids.add(webhook_id)
        self.paths.add(path)
        self.delivered += 1
        self.first_at = self.first_at or now
        self.last_at = now
        return 204

    def status(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "distinct": len(self.paths),
            "duplicates": self.duplicates,
            "refused": self.refused,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "written_at": time.time(),
        }


async def _answer(send: ASGISendCallable, status: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0")],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def run(listen: str, secrets: dict[str, str], status_path: Path) -> None:
    """Serve with statusd's own hypercorn settings until SIGTERM; the status file is
    rewritten meanwhile and once more at the end."""
    app = Receivers(secrets)
    settings = build_settings([("flag", {"listen": listen})])

    async def report() -> None:
        written = -1
        while True:
            if app.delivered + app.refused != written:
                written = app.delivered + app.refused
                write_status(status_path, app.status())
            await trio.sleep(STATUS_EVERY)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(report)
        await serve_until_signal(app, settings)
        nursery.cancel_scope.cancel()
    write_status(status_path, app.status())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--secrets", type=Path, required=True, help='{"/hook/0": "whsec_…"}')
    parser.add_argument("--status", type=Path, required=True, help="JSON counts, rewritten")
    args = parser.parse_args(argv)
    secrets = json.loads(args.secrets.read_text())
    trio.run(partial(run, args.listen, secrets, args.status))


if __name__ == "__main__":
    main()
