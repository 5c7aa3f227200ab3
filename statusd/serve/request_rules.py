"""Request bodies, decided after the path and the method (SPEC §4): ``takes_body`` declares
that a view takes one, ``read_body`` reads it within the limit, anything else is refused.

The order of the decision is described in ``statusd.serve.app``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quart import Quart, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import MapAdapter

View = TypeVar("View", bound=Callable[..., Any])
BODY_LIMIT_ATTRIBUTE = "statusd_body_limit"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose body means something; any other method's body is refused everywhere."""
NO_BODY_ERROR = "this route takes no request body"


def takes_body(max_bytes: int) -> Callable[[View], View]:
    """Declare that a view takes a request body of at most ``max_bytes`` with ``POST``,
    ``PUT`` or ``PATCH`` (SPEC §8's write routes: 16 KiB); it reads it with ``read_body``.
    A view without it refuses any body."""

    def declare(view: View) -> View:
        setattr(view, BODY_LIMIT_ATTRIBUTE, max_bytes)
        return view

    return declare


def body_limit(app: Quart, endpoint: str | None) -> int:
    """The most bytes of request body the endpoint's view takes (0: none)."""
    view = app.view_functions.get(endpoint or "")
    limit: int = getattr(view, BODY_LIMIT_ATTRIBUTE, 0)
    return limit


async def read_body() -> bytes:
    """The body of the current request, for a view declared with ``takes_body``: ``413``
    (``RequestEntityTooLarge``) beyond its limit, also for a chunked body."""
    limit = body_limit(current_app, request.endpoint)
    try:  # Quart stops reading beyond MAX_CONTENT_LENGTH, the largest limit of any route
        data = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    if len(data) > limit:
        raise too_large(limit)
    return data


def too_large(limit: int) -> RequestEntityTooLarge:
    """The 413 of a body over ``limit`` bytes; its description is the JSON error."""
    return RequestEntityTooLarge(f"request body over {limit} bytes")


def methods_taking_path(adapter: MapAdapter, methods: Iterable[str]) -> list[str]:
    """Those of ``methods`` with which a route takes the adapter's path, converters included
    (a static path must name an existing file), sorted. Werkzeug's ``405`` lists the methods
    of every rule whose pattern matches, even one whose converter then refuses the path: an
    empty list means the path names nothing (``404``)."""
    taking = []
    for method in sorted(methods):
        try:
            adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        except HTTPException:  # a redirect: a route takes the path
            pass
        taking.append(method)
    return taking
