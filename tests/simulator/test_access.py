"""Keys, scopes, allowlists, result ownership and expiry, and account limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from connector.simulator import ApiKey, RunningSimulator
from tests.simulator.conftest import REPORT, mailboxes, wait_done

RATE_LIMITED = {
    "status": "error",
    "error": {"code": "429", "message": "Rate limit exceeded."},
}


def _client(running: RunningSimulator, key: str | None) -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=running.base_url, headers=headers)


def _body(mailbox_id: str) -> dict[str, Any]:
    return {
        "mailboxId": mailbox_id,
        "start": "2026-04-01T00:00:00",
        "end": "2026-04-07T00:00:00",
        "period": "day",
    }


KEYS = [
    ApiKey("sim-demo-key", "demo"),
    ApiKey("other-key", "other"),
    ApiKey("old-key", "old", expires="2026-04-30T00:00:00Z"),
    ApiKey("messages-key", "messages", scopes=("messages:read",)),
]


def test_missing_malformed_unknown_and_expired_keys_get_401(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve(keys=KEYS)
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": "sim-demo-key"},
        {"Authorization": "Basic sim-demo-key"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer old-key"},
    ]
    with httpx.Client(base_url=running.base_url) as client:
        for headers in cases:
            response = client.get("/api/v1/admin/mailboxes", headers=headers)

            assert response.status_code == 401, headers
            body = response.json()
            assert body["status"] == "error"
            assert body["error"]["code"] == "401"


def test_missing_scope_gets_documented_403(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve(keys=KEYS)
    with _client(running, "messages-key") as client:
        response = client.get("/api/v1/admin/mailboxes")

    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"status", "error"}
    assert body["error"]["code"] == "403"
    assert "reporting" in body["error"]["message"]


def test_allowlist_hides_other_mailboxes(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve()
    all_ids = [m.mailbox_id for m in running.simulator.mailboxes]
    running.simulator.update_settings(
        {"keys": [ApiKey("narrow-key", "narrow", mailbox_ids=(all_ids[1],))]}
    )
    with _client(running, "narrow-key") as client:
        listed = mailboxes(client)
        hidden = client.post(REPORT, json=_body(all_ids[0]))
        missing = client.post(REPORT, json=_body("no-such-mailbox"))
        allowed = client.post(REPORT, json=_body(all_ids[1]))

    assert [m["mailboxId"] for m in listed] == [all_ids[1]]
    assert hidden.status_code == 404
    assert missing.status_code == 404
    assert hidden.json()["error"] == missing.json()["error"]
    assert allowed.status_code == 200


def test_results_are_scoped_to_the_creating_key(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve(keys=KEYS)
    mailbox_id = running.simulator.mailboxes[0].mailbox_id
    with (
        _client(running, "sim-demo-key") as mine,
        _client(running, "other-key") as theirs,
    ):
        href = mine.post(REPORT, json=_body(mailbox_id)).json()["_links"]["self"][
            "href"
        ]
        wait_done(mine, mine.get(href).json())

        assert theirs.get(href).status_code == 404
        assert mine.get(href).status_code == 200


def test_result_expires_24_simulated_hours_after_creation(
    running: RunningSimulator, client: httpx.Client
) -> None:
    mailbox_id = running.simulator.mailboxes[0].mailbox_id
    page = wait_done(client, client.post(REPORT, json=_body(mailbox_id)).json())
    href = page["_links"]["self"]["href"]

    running.simulator.advance_clock(24 * 3600 - 60)
    assert client.get(href).status_code == 200
    client.post("/_sim/clock", json={"advance_seconds": 60})
    expired = client.get(href)

    assert expired.status_code == 404
    assert expired.json()["error"]["code"] == "404"
    assert running.simulator.runs()[0]["status"] == "expired"


def test_request_rate_limit_429_then_recovers(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve(requests_per_minute=5, rate_window_seconds=0.4)
    with _client(running, "sim-demo-key") as client:
        statuses = [client.get("/api/v1/admin/mailboxes").status_code for _ in range(7)]
        limited = client.get("/api/v1/admin/mailboxes")
        for _ in range(10):
            client.get("/_sim/clock")
        time.sleep(0.45)
        recovered = client.get("/api/v1/admin/mailboxes")

    assert statuses == [200] * 5 + [429] * 2
    assert limited.json() == RATE_LIMITED
    assert "retry-after" not in limited.headers
    assert recovered.status_code == 200


def test_retry_after_only_when_configured(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve(requests_per_minute=1, retry_after_seconds=7)
    with _client(running, "sim-demo-key") as client:
        client.get("/api/v1/admin/mailboxes")
        limited = client.get("/api/v1/admin/mailboxes")

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"


def test_fourth_concurrent_run_gets_429(serve: Callable[..., RunningSimulator]) -> None:
    running = serve(run_seconds=0.3, max_running_runs=3)
    mailbox_id = running.simulator.mailboxes[0].mailbox_id
    with _client(running, "sim-demo-key") as client:
        first = [client.post(REPORT, json=_body(mailbox_id)) for _ in range(3)]
        fourth = client.post(REPORT, json=_body(mailbox_id))
        time.sleep(0.35)
        later = client.post(REPORT, json=_body(mailbox_id))

    assert [r.status_code for r in first] == [200, 200, 200]
    assert fourth.status_code == 429
    assert fourth.json() == RATE_LIMITED
    assert later.status_code == 200


def test_control_requests_are_not_rate_limited(
    serve: Callable[..., RunningSimulator],
) -> None:
    running = serve(requests_per_minute=2)
    with _client(running, "sim-demo-key") as client:
        controls = [client.get("/_sim/clock").status_code for _ in range(20)]
        api = [client.get("/api/v1/admin/mailboxes").status_code for _ in range(3)]

    assert set(controls) == {200}
    assert api == [200, 200, 429]
