"""The ASGI app: public routes wrapped with faults and the request log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connector.simulator import api
from connector.simulator.api import Call, Outcome, error_body, failure, origin_of
from connector.simulator.clock import format_utc
from connector.simulator.control import control_routes
from connector.simulator.reports import ValidationError
from connector.simulator.requestlog import RequestRecord
from connector.simulator.runs import RESULTS_PATH
from connector.simulator.settings import Fault
from connector.simulator.simulator import ApiError, Simulator

logger = logging.getLogger(__name__)

Handler = Callable[[Simulator, Call], Awaitable[Outcome]]


class JSONResponse(Response):
    """A JSON response serialized with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serializes the content."""
        return orjson.dumps(content)


class DroppedResponse(Response):
    """Sends the headers and part of the body, then closes the connection.

    Only a real server turns this into a dropped connection; in process,
    httpx's ASGI transport reports the incomplete response as an assertion
    error instead. Raising a transport error there would need a custom
    transport in the tests.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starts the response and abandons it half-way."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )


def _mailbox_of(sim: Simulator, request: Request, body: bytes) -> str | None:
    if request.url.path.startswith(RESULTS_PATH):
        return sim.run_mailbox(request.url.path[len(RESULTS_PATH) :])
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if isinstance(parsed, dict) and isinstance(parsed.get("mailboxId"), str):
            return str(parsed["mailboxId"])
    return None


async def _run_handler(sim: Simulator, call: Call, handler: Handler) -> Outcome:
    try:
        outcome = await handler(sim, call)
    except ApiError as error:
        outcome = failure(call, error)
    except ValidationError as error:
        outcome = Outcome(400, error_body(400, str(error), origin_of(call)))
    outcome.key_name = call.key_name
    outcome.run_id = call.run_id
    return outcome


def _fault_outcome(call: Call, fault: Fault, base: Outcome | None) -> Outcome:
    message = (
        "Rate limit exceeded." if fault.status == 429 else "Injected server error."
    )
    with_links = fault.status != 429
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    body = error_body(fault.status, message, origin_of(call) if with_links else None)
    outcome = Outcome(fault.status, body, headers)
    if base is not None:
        outcome.key_name, outcome.run_id = base.key_name, base.run_id
    return outcome


def api_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wraps a public handler with fault injection and the request log."""

    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.simulator
        started = time.perf_counter()
        body = await request.body() if request.method == "POST" else b""
        base_url = sim.settings.base_url or str(request.base_url).rstrip("/")
        call = Call(request, base_url, body)
        path = request.url.path
        fault = sim.match_fault(request.method, path, _mailbox_of(sim, request, body))

        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_seconds)
        if (
            fault is not None
            and fault.kind == "expire"
            and path.startswith(RESULTS_PATH)
        ):
            sim.expire_run(path[len(RESULTS_PATH) :])
        is_handled = (
            fault is None
            or fault.kind in ("delay", "expire", "malformed")
            or fault.start_run
        )
        outcome = await _run_handler(sim, call, handler) if is_handled else None
        if fault is not None and fault.kind == "status":
            outcome = _fault_outcome(call, fault, outcome)
        if outcome is None:
            outcome = Outcome(200, {}, {}, call.key_name, call.run_id)

        response: Response
        payload = orjson.dumps(outcome.body)
        if fault is not None and fault.kind == "drop":
            response = DroppedResponse(
                payload, outcome.status, outcome.headers, "application/json"
            )
        elif fault is not None and fault.kind == "malformed":
            response = Response(
                payload[: max(1, len(payload) // 2)],
                200,
                outcome.headers,
                "application/json",
            )
        else:
            response = Response(
                payload, outcome.status, outcome.headers, "application/json"
            )

        sim.record(
            RequestRecord(
                method=request.method,
                path=path,
                query=request.url.query,
                status=0
                if fault is not None and fault.kind == "drop"
                else response.status_code,
                time=time.time(),
                sim_time=format_utc(sim.clock.now()),
                key_name=outcome.key_name,
                run_id=outcome.run_id,
                fault=None if fault is None else fault.kind,
                duration_seconds=time.perf_counter() - started,
            )
        )
        return response

    return endpoint


def _results_handler(sim: Simulator, call: Call) -> Awaitable[Outcome]:
    run_id = call.request.path_params["run_id"]
    return api.get_results(sim, call, run_id)


def build_app(simulator: Simulator) -> Starlette:
    """Builds the ASGI app serving `simulator`."""
    routes = [
        Route(
            "/api/v1/reports/mailboxUserPerformance",
            api_endpoint(api.submit_report),
            methods=["POST"],
        ),
        Route(
            "/api/v1/reports/results/{run_id}",
            api_endpoint(_results_handler),
            methods=["GET"],
        ),
        Route(
            "/api/v1/admin/mailboxes", api_endpoint(api.list_mailboxes), methods=["GET"]
        ),
        *control_routes(),
    ]
    app = Starlette(routes=routes)
    app.state.simulator = simulator
    return app
