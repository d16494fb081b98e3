"""Handlers of the public endpoints under `/api/v1`.

Each handler checks, in order: the key (401), the account's request rate
(429), the scope (403), the parameters (400), the mailbox allowlist or the
result's owner and expiry (404), and for a submission the concurrency limit
(429). It returns an `Outcome`; the app turns it into an HTTP response,
applies faults and logs it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from connector.simulator.reports import (
    ValidationError,
    parse_boolean,
    parse_field_groups,
    parse_report_body,
)
from connector.simulator.runs import PageRequest, envelope
from connector.simulator.simulator import ApiError, Simulator

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 50
MAX_ROWS_CAP = 500


@dataclass
class Outcome:
    """What a handler answers, before faults and serialization."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    key_name: str | None = None
    run_id: str | None = None


@dataclass
class Call:
    """One API request as the handlers see it."""

    request: Request
    base_url: str
    body: bytes
    key_name: str | None = None
    run_id: str | None = None
    parameters: dict[str, Any] | None = None


def parse_page(params: Any) -> PageRequest:
    """Validates `max`, `starting_after` and `ending_before`.

    `max` above 500 is capped at 500; below 1 or not an integer is a 400.

    Raises:
        ValidationError: A page parameter is invalid.
    """
    raw_max = params.get("max")
    max_rows = DEFAULT_MAX_ROWS
    if raw_max is not None:
        try:
            max_rows = int(raw_max)
        except ValueError as error:
            raise ValidationError(
                f"'max' must be an integer, got {raw_max!r}"
            ) from error
        if max_rows < 1:
            raise ValidationError(
                f"'max' must be between 1 and {MAX_ROWS_CAP}, got {max_rows}"
            )
        max_rows = min(max_rows, MAX_ROWS_CAP)
    after = params.get("starting_after")
    before = params.get("ending_before")
    if after is not None and before is not None:
        raise ValidationError(
            "'starting_after' and 'ending_before' are mutually exclusive"
        )
    return PageRequest(
        max_rows, _cursor("starting_after", after), _cursor("ending_before", before)
    )


def _cursor(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as error:
        raise ValidationError(
            f"'{name}' must be a row id such as 10027, got {value!r}"
        ) from error


def error_body(
    status: int, message: str, origin: dict[str, Any] | None
) -> dict[str, Any]:
    """Returns the documented error envelope."""
    body: dict[str, Any] = {}
    if origin is not None:
        body["_links"] = {"origin": origin}
    body["status"] = "error"
    body["error"] = {"code": str(status), "message": message}
    return body


def origin_of(call: Call) -> dict[str, Any]:
    """Returns `_links.origin` for the request itself (used by error envelopes)."""
    request = call.request
    if request.method == "POST":
        return {
            "href": call.base_url + request.url.path,
            "method": "POST",
            "body": {"parameters": call.parameters or {}},
        }
    query = f"?{request.url.query}" if request.url.query else ""
    return {"href": call.base_url + request.url.path + query, "method": "GET"}


def failure(call: Call, error: ApiError) -> Outcome:
    """Turns an ApiError into an outcome."""
    origin = origin_of(call) if error.with_links else None
    headers = {}
    retry_after = None
    if error.status == 429:
        retry_after = call.request.app.state.simulator.settings.retry_after_seconds
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return Outcome(
        error.status, error_body(error.status, error.message, origin), headers
    )


async def submit_report(sim: Simulator, call: Call) -> Outcome:
    """`POST /api/v1/reports/mailboxUserPerformance`."""
    request = call.request
    key = sim.authenticate(request.headers.get("authorization"))
    call.key_name = key.name
    sim.check_rate(key)
    sim.check_scope(key)

    params = request.query_params
    groups = parse_field_groups(params.get("fieldGroup"))
    include_details = parse_boolean(
        "includeDetails", params.get("includeDetails"), False
    )
    page = parse_page(params)
    try:
        body = orjson.loads(call.body) if call.body else None
    except orjson.JSONDecodeError as error:
        raise ValidationError("the request body is not valid JSON") from error
    if isinstance(body, dict):
        call.parameters = body
    query = parse_report_body(body, groups, include_details)
    sim.mailbox_for(key, query.mailbox_id)

    run = sim.reserve_run(key, query, call.parameters or {})
    call.run_id = run.run_id
    try:
        await run_in_threadpool(sim.compute_run, run)
    except Exception:
        sim.discard_run(run)
        raise
    data = envelope(run, page, call.base_url, time.time(), sim.settings.defer_total)
    return Outcome(200, data)


async def get_results(sim: Simulator, call: Call, run_id: str) -> Outcome:
    """`GET /api/v1/reports/results/{reportResultsId}`."""
    request = call.request
    key = sim.authenticate(request.headers.get("authorization"))
    call.key_name = key.name
    sim.check_rate(key)
    sim.check_scope(key)

    page = parse_page(request.query_params)
    run = sim.find_run(key, run_id)
    call.run_id = run.run_id
    now = time.time()
    if run.status(now) == "done" and run.rows is None:
        await run_in_threadpool(sim.ensure_rows, run)
    data = envelope(run, page, call.base_url, now, sim.settings.defer_total)
    return Outcome(200, data)


async def list_mailboxes(sim: Simulator, call: Call) -> Outcome:
    """`GET /api/v1/admin/mailboxes`."""
    key = sim.authenticate(call.request.headers.get("authorization"))
    call.key_name = key.name
    sim.check_rate(key)
    sim.check_scope(key)
    return Outcome(
        200, {"mailboxes": [m.to_json() for m in sim.allowed_mailboxes(key)]}
    )
