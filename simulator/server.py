"""The simulator's HTTP app: the three source endpoints with their faults, and the control API.

``create_app(state)`` builds a quart-trio app around a ``SimulatorState``; nothing lives in
module globals, so tests build as many apps as they like. Routes:

- ``GET /mms``, ``GET /support``, ``GET /accendent``: the generated bodies, or the endpoint's
  fault (``simulator.faults.MODES``);
- ``GET /_control/faults``: the current mode of each endpoint;
- ``POST /_control/faults`` ``{"endpoint": "mms", "mode": "hang"}``: set one (400 + reason);
- ``POST /_control/regenerate``: write the next generation of data now;
- ``POST /_control/degrade`` ``{"product": "sms", "country": "DE"}`` (or a billing function, or
  a support load) and ``POST /_control/restore`` with the same body: pin a verdict (400 + reason);
- ``POST /_control/incident`` ``{"topic": str, "status": "active"|"closed"|null}``: a named
  incident that stays across generations (null removes it);
- ``GET /_control/status``: seed, generation, size, faults, the requests a ``hang`` holds
  open and the control, for humans and tests.

Every control answer is the control's JSON (``simulator.control.Control.to_json``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import trio
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from simulator.bodies import BodyError
from simulator.control import INCIDENT_OUTPUT, Control, parse_incident, parse_target
from simulator.faults import (
    DRIP_INTERVAL_SECONDS,
    GARBAGE_BODY,
    FaultError,
    Mode,
    huge_block,
    object_body,
    parse_request,
    truncated_body,
    wrong_types_body,
)
from simulator.generate import JsonItem, encode_json
from simulator.state import SimulatorState

CONTROL_BODY_LIMIT: Final = 64 * 1024
JSON_TYPE: Final = "application/json"


def json_response(body: bytes, status: int = 200) -> Response:
    """A finished JSON response that no cache keeps (every request must see the current fault)."""
    return Response(body, status=status, content_type=JSON_TYPE)


def error_response(reason: str, status: int) -> Response:
    """``{"error": reason}`` with ``status``."""
    return json_response(encode_json({"error": reason}), status)


def streaming_response(body: AsyncIterator[bytes]) -> Response:
    """A 200 JSON response streamed from ``body``, exempt from Quart's response timeout."""
    response = Response(body, status=200, content_type=JSON_TYPE)
    response.timeout = None
    return response


async def huge_stream(items: list[JsonItem]) -> AsyncIterator[bytes]:
    """``[`` then the same 64 KiB block forever: endless, yet constant memory."""
    block = huge_block(items)
    yield b"["
    while True:
        await trio.lowlevel.checkpoint()
        yield block


async def drip_stream(body: bytes) -> AsyncIterator[bytes]:
    """The body one byte at a time, ``DRIP_INTERVAL_SECONDS`` apart."""
    for index in range(len(body)):
        if index:
            await trio.sleep(DRIP_INTERVAL_SECONDS)
        yield body[index : index + 1]


async def answer(state: SimulatorState, endpoint: str) -> Response:
    """The response of one source endpoint under its current fault mode."""
    mode = state.faults[endpoint]
    snapshot = state.snapshot
    body = snapshot.bodies[endpoint]
    items = snapshot.items[endpoint]
    if mode is Mode.OK:
        return json_response(body)
    if mode is Mode.ERROR:
        return error_response("simulated failure", 500)
    if mode is Mode.HANG:
        state.hanging[endpoint] += 1
        try:
            await trio.sleep_forever()
        finally:
            state.hanging[endpoint] -= 1
    if mode is Mode.SLOW:
        await trio.sleep(state.slow_seconds)
        return json_response(state.snapshot.bodies[endpoint])
    if mode is Mode.GARBAGE:
        return json_response(GARBAGE_BODY)
    if mode is Mode.TRUNCATED:
        return json_response(truncated_body(body))
    if mode is Mode.HUGE:
        return streaming_response(huge_stream(items))
    if mode is Mode.NOTFOUND:
        return error_response("not found", 404)
    if mode is Mode.REDIRECT_LOOP:
        response = json_response(b"", 302)
        response.headers["Location"] = f"/{endpoint}"
        return response
    if mode is Mode.DRIP:
        return streaming_response(drip_stream(body))
    if mode is Mode.OBJECT:
        return json_response(object_body(items))
    if mode is Mode.WRONG_TYPES:
        return json_response(wrong_types_body(items))
    raise AssertionError(f"unhandled mode {mode}")  # pragma: no cover - Mode is exhaustive


async def request_body() -> bytes:
    """The raw body of the current request, whatever its Content-Type (curl -d sends a form)."""
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)


def _faults_json(state: SimulatorState) -> dict[str, str]:
    return {endpoint: mode.value for endpoint, mode in state.faults.items()}


async def change_control(
    state: SimulatorState, change: Callable[[Control], Control], output: str
) -> Response:
    """Apply a control change and answer the new control (400 or 500 with the reason)."""
    try:
        control = await state.change_control(change, output)
    except BodyError as error:
        return error_response(str(error), 400)
    except OSError as error:
        return error_response(f"cannot write data files: {error}", 500)
    return json_response(encode_json(control.to_json()))


def create_app(state: SimulatorState) -> QuartTrio:
    """The simulator app serving ``state``."""
    app = QuartTrio("simulator")
    app.config["MAX_CONTENT_LENGTH"] = CONTROL_BODY_LIMIT
    app.config["RESPONSE_TIMEOUT"] = None  # huge and drip stream until the client stops
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    @app.get("/<any(mms, support, accendent):endpoint>")
    async def source(endpoint: str) -> Response:
        return await answer(state, endpoint)

    @app.get("/_control/faults")
    async def get_faults() -> Response:
        return json_response(encode_json(_faults_json(state)))

    @app.post("/_control/faults")
    async def set_fault() -> Response:
        try:
            endpoint, mode = parse_request(await request_body())
        except FaultError as error:
            return error_response(str(error), 400)
        state.faults[endpoint] = mode
        return json_response(encode_json(_faults_json(state)))

    @app.post("/_control/regenerate")
    async def regenerate() -> Response:
        body = (await request_body()).strip()
        if body not in (b"", b"{}"):
            return error_response("regenerate takes no parameters: send no body or {}", 400)
        try:
            plan = await state.regenerate()
        except OSError as error:
            return error_response(f"cannot write data files: {error}", 500)
        return json_response(encode_json({"seed": plan.seed, "generation": plan.generation}))

    @app.post("/_control/<any(degrade, restore):action>")
    async def degrade_or_restore(action: str) -> Response:
        restore = action == "restore"
        countries = state.snapshot.plan.countries
        try:
            target = parse_target(await request_body(), countries, restore=restore)
        except BodyError as error:
            return error_response(str(error), 400)
        if restore:
            return await change_control(state, lambda c: c.restore(target), target.output)
        return await change_control(state, lambda c: c.degrade(target), target.output)

    @app.post("/_control/incident")
    async def incident() -> Response:
        try:
            topic, status = parse_incident(await request_body())
        except BodyError as error:
            return error_response(str(error), 400)
        return await change_control(
            state, lambda c: c.with_incident(topic, status), INCIDENT_OUTPUT
        )

    @app.get("/_control/status")
    async def status() -> Response:
        plan = state.snapshot.plan
        value: dict[str, Any] = {
            "seed": plan.seed,
            "generation": plan.generation,
            "countries": len(plan.countries),
            "rows": plan.rows,
            "data_dir": str(state.data_dir),
            "faults": _faults_json(state),
            "hanging": dict(state.hanging),
            **plan.control.to_json(),
        }
        return json_response(encode_json(value))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        response = error_response((error.name or "error").lower(), code)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @app.after_request
    async def no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
