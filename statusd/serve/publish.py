"""Publishing each change of ``/api`` to nginx's nchan module, which holds the page's event
streams (the production fan-out of issue 16; ``bench/nginx-cache.conf``, docs/production.md).

With ``nchan_publish_url`` set, ``run_publisher`` (one task in the daemon's nursery) POSTs
the new ETag of ``/api`` once per change; nchan sends it to every subscriber of
``/api/events`` as the event's ``data``, exactly what statusd's own stream sends. A publish
has a deadline (``PUBLISH_DEADLINE``); one that fails is retried with a growing pause until
it succeeds or a newer document supersedes it: only the newest ETag is ever worth sending.

Several replicas may publish to the same channel: a page then sees each change once per
replica, possibly out of order. That is harmless by design: an event only makes the page
fetch ``/api`` with ``If-None-Match`` (through the cache), so a duplicate costs a 304 and an
older ETag cannot roll the page back: it shows whatever ``/api`` serves.
"""

from __future__ import annotations

import logging

import httpx
import trio

from statusd.state.holder import StateHolder

log = logging.getLogger("statusd.publish")

PUBLISH_DEADLINE = 2.0
"""Seconds one publish may take (connect, send, answer)."""
RETRY_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Pauses before a failed publish is tried again; the last one repeats."""


class PublishError(Exception):
    """nginx did not accept a publish (no answer in time, refused, not 2xx)."""


async def publish(client: httpx.AsyncClient, url: str, etag: str) -> None:
    """POST ``etag`` to nchan's publisher location; PublishError unless it answers 2xx."""
    with trio.move_on_after(PUBLISH_DEADLINE) as scope:
        try:
            response = await client.post(
                url, content=etag.encode(), headers={"Content-Type": "text/plain"}
            )
        except httpx.HTTPError as error:
            raise PublishError(f"{type(error).__name__}: {error}") from None
    if scope.cancelled_caught:
        raise PublishError(f"no answer within {PUBLISH_DEADLINE:g} s")
    if not response.is_success:
        raise PublishError(f"answered {response.status_code}")


async def run_publisher(
    state: StateHolder,
    client: httpx.AsyncClient,
    url: str,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Publish the current ETag, then every new one, until the state holder closes."""
    task_status.started()
    published = -1
    failures = 0
    while not state.is_closed():
        view = state.view
        if view.document_version != published:
            try:
                await publish(client, url, view.document.etag)
            except PublishError as error:
                failures += 1
                if failures == 1:
                    log.warning("publish failed", extra={"url": url, "error": str(error)})
                pause = RETRY_PAUSES[min(failures, len(RETRY_PAUSES)) - 1]
                with trio.move_on_after(pause):
                    await state.wait_document_changed(view.document_version)
                continue
            if failures:
                log.info("publish recovered", extra={"url": url, "failures": failures})
            failures = 0
            published = view.document_version
        await state.wait_document_changed(published)
