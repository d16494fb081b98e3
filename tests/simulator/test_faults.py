"""Injected faults and the request log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from connector.simulator import Fault, RunningSimulator
from tests.simulator.conftest import KEY, REPORT, wait_done


def _client(running: RunningSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"}
    )


def _body(running: RunningSimulator) -> dict[str, Any]:
    return {
        "mailboxId": running.simulator.mailboxes[0].mailbox_id,
        "start": "2026-04-01T00:00:00",
        "end": "2026-04-30T00:00:00",
        "period": "day",
    }


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_status_fault_on_a_get_then_normal(
    serve: Callable[..., RunningSimulator], status: int
) -> None:
    fault = {"kind": "status", "status": status, "path": "/api/v1/admin", "times": 2}
    running = serve(faults=[fault])
    with _client(running) as client:
        codes = [client.get("/api/v1/admin/mailboxes").status_code for _ in range(3)]
        failed = client.get("/api/v1/reports/results/x")

    assert codes == [status, status, 200]
    assert failed.status_code == 404
    assert running.simulator.faults()[0]["matched"] == 3


def test_status_fault_after_n_and_retry_after(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve()
    with _client(running) as client:
        client.put(
            "/_sim/faults",
            json={"faults": [{"kind": "status", "status": 429, "after": 1,
                              "retry_after": 3, "path": "/api/v1/"}]},
        )  # fmt: skip
        first = client.get("/api/v1/admin/mailboxes")
        second = client.get("/api/v1/admin/mailboxes")

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["retry-after"] == "3"
    assert second.json() == {
        "status": "error",
        "error": {"code": "429", "message": "Rate limit exceeded."},
    }


def test_post_that_fails_but_started_a_run(
    serve: Callable[..., RunningSimulator],
) -> None:
    fault = Fault("status", method="POST", path=REPORT, status=502, start_run=True)
    running = serve(faults=[fault], run_seconds=0.3, max_running_runs=1)
    with _client(running) as client:
        failed = client.post(REPORT, json=_body(running))
        blocked = client.post(REPORT, json=_body(running))

    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "502"
    runs = running.simulator.runs()
    assert len(runs) == 1 and runs[0]["status"] == "running"
    assert blocked.status_code == 429


def test_dropped_connection(serve: Callable[..., RunningSimulator]) -> None:
    running = serve(faults=[Fault("drop", method="GET", path="/api/v1/admin")])
    with _client(running) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/api/v1/admin/mailboxes")
        again = client.get("/api/v1/admin/mailboxes")

    assert again.status_code == 200
    assert running.simulator.requests()[0]["fault"] == "drop"


def test_slow_response(serve: Callable[..., RunningSimulator]) -> None:
    fault = Fault("delay", path="/api/v1/admin", delay_seconds=0.3)
    running = serve(faults=[fault])
    with _client(running) as client:
        started = time.monotonic()
        response = client.get("/api/v1/admin/mailboxes")
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3
    with _client(running) as client, pytest.raises(httpx.ReadTimeout):
        running.simulator.set_faults([fault])
        client.get("/api/v1/admin/mailboxes", timeout=0.1)


def test_malformed_json(serve: Callable[..., RunningSimulator]) -> None:
    running = serve(faults=[Fault("malformed", path="/api/v1/admin")])
    with _client(running) as client:
        response = client.get("/api/v1/admin/mailboxes")

    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_result_expires_in_the_middle_of_pagination(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve()
    with _client(running) as client:
        response = client.post(REPORT, params={"max": 5}, json=_body(running))
        page = wait_done(client, response.json())
        run_id = running.simulator.runs()[0]["id"]
        running.simulator.set_faults(
            [Fault("expire", path=f"/api/v1/reports/results/{run_id}", after=1)]
        )
        second = client.get(page["_links"]["next"]["href"])
        third = client.get(second.json()["_links"]["next"]["href"])
        again = client.get(page["_links"]["self"]["href"])

    assert second.status_code == 200
    assert third.status_code == 404
    assert again.status_code == 404


def test_request_log_names_the_key_never_its_value(
    running: RunningSimulator, client: httpx.Client
) -> None:
    client.get("/api/v1/admin/mailboxes")
    client.post(REPORT, json=_body(running))
    client.get("/api/v1/admin/mailboxes", headers={"Authorization": "Bearer nope"})

    log = client.get("/_sim/requests").json()["requests"]

    assert [(r["method"], r["path"], r["status"], r["key_name"]) for r in log] == [
        ("GET", "/api/v1/admin/mailboxes", 200, "demo"),
        ("POST", REPORT, 200, "demo"),
        ("GET", "/api/v1/admin/mailboxes", 401, None),
    ]
    assert log[1]["run_id"] == running.simulator.runs()[0]["id"]
    assert all(isinstance(r["time"], float) and r["query"] == "" for r in log)
    text = orjson.dumps(log).decode() + client.get("/_sim/settings").text
    assert KEY not in text and "nope" not in text
    client.delete("/_sim/requests")
    assert client.get("/_sim/requests").json() == {"requests": []}
