"""The control API under `/_sim/`: clock, request log, runs, faults, settings, truth.

It needs no key and is never counted against the account's limits.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connector.simulator.reports import ValidationError
from connector.simulator.settings import Fault
from connector.simulator.simulator import Simulator

logger = logging.getLogger(__name__)


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def _bad_request(message: str) -> Response:
    return _json({"status": "error", "error": {"code": "400", "message": message}}, 400)


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


async def _body(request: Request) -> Any:
    raw = await request.body()
    return orjson.loads(raw) if raw else {}


async def clock(request: Request) -> Response:
    """`GET` the clock, or `POST` `{"advance_seconds": N}` or `{"now": ISO}`."""
    sim = _sim(request)
    if request.method == "GET":
        return _json(sim.clock_state())
    try:
        body = await _body(request)
        if "advance_seconds" in body:
            return _json(sim.advance_clock(float(body["advance_seconds"])))
        if "now" in body:
            return _json(sim.set_now(str(body["now"])))
    except (ValueError, TypeError, orjson.JSONDecodeError) as error:
        return _bad_request(f"invalid clock change: {error}")
    return _bad_request("send 'advance_seconds' or 'now'")


async def requests_log(request: Request) -> Response:
    """`GET` the request log or `DELETE` it."""
    sim = _sim(request)
    if request.method == "DELETE":
        sim.clear_requests()
        return _json({"requests": []})
    return _json({"requests": sim.requests()})


async def runs(request: Request) -> Response:
    """`GET` every run the simulator still holds."""
    return _json({"runs": _sim(request).runs()})


async def faults(request: Request) -> Response:
    """`GET`, `PUT` (replace) or `DELETE` the injected faults."""
    sim = _sim(request)
    if request.method == "PUT":
        try:
            body = await _body(request)
            items = body.get("faults", []) if isinstance(body, dict) else body
            sim.set_faults([Fault.from_dict(item) for item in items])
        except (ValueError, TypeError, orjson.JSONDecodeError) as error:
            return _bad_request(f"invalid faults: {error}")
    elif request.method == "DELETE":
        sim.set_faults([])
    return _json({"faults": sim.faults()})


async def settings(request: Request) -> Response:
    """`GET` the settings (keys redacted) or `PATCH` timing and limit fields."""
    sim = _sim(request)
    if request.method == "PATCH":
        try:
            changes = await _body(request)
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of settings")
            return _json(sim.update_settings(changes))
        except (ValueError, TypeError, orjson.JSONDecodeError) as error:
            return _bad_request(str(error))
    return _json(sim.settings_json())


async def truth(request: Request) -> Response:
    """`GET` the rows a report submitted now would return (no ids, no pages)."""
    try:
        return _json(_sim(request).truth(dict(request.query_params)))
    except ValidationError as error:
        return _bad_request(str(error))


async def events(request: Request) -> Response:
    """`GET` the raw event log of a mailbox (`mailboxId`, `start`, `end`)."""
    params = request.query_params
    try:
        log = _sim(request).events(
            params.get("mailboxId", ""), params.get("start", ""), params.get("end", "")
        )
    except ValidationError as error:
        return _bad_request(str(error))
    return _json({"events": log})


async def reset_limits(request: Request) -> Response:
    """`POST` forgets the request-rate history."""
    _sim(request).reset_limits()
    return _json({"ok": True})


def control_routes() -> list[BaseRoute]:
    """Returns the routes of the control API."""
    return [
        Route("/_sim/clock", clock, methods=["GET", "POST"]),
        Route("/_sim/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/_sim/runs", runs, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route("/_sim/settings", settings, methods=["GET", "PATCH"]),
        Route("/_sim/truth", truth, methods=["GET"]),
        Route("/_sim/events", events, methods=["GET"]),
        Route("/_sim/limits/reset", reset_limits, methods=["POST"]),
    ]
