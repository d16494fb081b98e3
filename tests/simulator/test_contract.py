"""The documented request and envelope contract: pages, groups, filters, 400s."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from connector.simulator import RunningSimulator
from tests.simulator.conftest import (
    REPORT,
    mailbox_in,
    mailboxes,
    run_report,
    wait_done,
)

REPLY_FIELDS = {
    "initiated",
    "initialReplies",
    "additionalReplies",
    "averageUserInitialReplyTime",
    "averageMailboxInitialReplyTime",
    "averageElapsedInitialReplyTime",
    "replyConversations",
    "activeConversations",
}
CLOSE_FIELDS = {
    "closedArchived",
    "closedDeleted",
    "closedJunk",
    "closedSentItems",
    "averageUserCloseTime",
}
SHARED_FIELDS = {"id", "startDateTime", "userId", "assigned", "reassigned"}
DETAIL_FIELDS = {"userName", "userEmail", "userActive"}


def _body(client: httpx.Client, period: str = "day") -> dict[str, Any]:
    return {
        "mailboxId": mailbox_in(client, "America/New_York")["mailboxId"],
        "start": "2026-03-01T00:00:00",
        "end": "2026-03-31T00:00:00",
        "period": period,
    }


def test_mailboxes_list_zones_users_and_inactive(client: httpx.Client) -> None:
    listed = mailboxes(client)

    zones = [m["timeZone"] for m in listed]
    assert zones[:4] == [
        "America/New_York",
        "Asia/Kolkata",
        "Europe/London",
        "Australia/Adelaide",
    ]
    assert [m["active"] for m in listed].count(False) == 1
    for mailbox in listed:
        assert len(mailbox["users"]) == 6
        assert any(not u["active"] for u in mailbox["users"])
        assert set(mailbox["users"][0]) == {"userId", "userName", "userEmail", "active"}


def test_running_envelope_then_done(running: RunningSimulator) -> None:
    running.simulator.update_settings({"run_seconds": 1.0})
    with httpx.Client(headers={"Authorization": "Bearer sim-demo-key"}) as client:
        client.base_url = httpx.URL(running.base_url)
        body = _body(client)

        first = client.post(REPORT, json=body).json()
        time.sleep(0.15)
        middle = client.get(first["_links"]["self"]["href"]).json()
        done = wait_done(client, middle)

    assert first["status"] == "running"
    assert 0 <= first["progress"] < 100
    assert first["result"] == {
        "total": None,
        "data": [],
        "timeZone": "America/New_York",
    }
    assert first["_links"]["self"]["href"].startswith(
        f"{running.base_url}/api/v1/reports/results/"
    )
    assert first["_links"]["self"]["href"].endswith("?max=50")
    assert first["_links"]["origin"] == {
        "href": f"{running.base_url}{REPORT}",
        "method": "POST",
        "body": {"parameters": body},
    }
    assert middle["status"] == "running"
    assert first["progress"] < middle["progress"] < 100
    assert done["status"] == "done"
    assert done["progress"] == 100


def test_pagination_forward_and_backward(client: httpx.Client) -> None:
    all_rows, _ = run_report(client, _body(client), max=500)
    response = client.post(REPORT, params={"max": 7}, json=_body(client))
    page = wait_done(client, response.json())

    forward = []
    while True:
        forward.append(page)
        if "next" not in page["_links"]:
            break
        page = client.get(page["_links"]["next"]["href"]).json()
    backward = [page]
    while "prev" in page["_links"]:
        page = client.get(page["_links"]["prev"]["href"]).json()
        backward.append(page)

    ids = [row["id"] for p in forward for row in p["result"]["data"]]
    assert ids == [str(10001 + i) for i in range(len(all_rows))]
    assert [r["id"] for r in all_rows] == ids
    assert all(len(p["result"]["data"]) == 7 for p in forward[:-1])
    assert [p["result"]["data"] for p in backward] == [
        p["result"]["data"] for p in reversed(forward)
    ]
    assert "prev" not in forward[0]["_links"]
    second = forward[1]
    assert second["_links"]["prev"]["href"].endswith("max=7&ending_before=10008")
    assert second["_links"]["next"]["href"].endswith("max=7&starting_after=10014")
    assert all(p["result"]["total"] == len(all_rows) for p in forward)


def test_max_default_cap_and_invalid(client: httpx.Client) -> None:
    body = _body(client, "hour")
    response = client.post(REPORT, json=body)
    page = wait_done(client, response.json())
    href = page["_links"]["self"]["href"]
    assert len(page["result"]["data"]) == 50
    assert page["result"]["total"] > 500

    capped = client.get(href.replace("max=50", "max=900")).json()
    assert len(capped["result"]["data"]) == 500
    assert "max=500" in capped["_links"]["self"]["href"]

    for bad in ("0", "-3", "ten"):
        error = client.get(href.replace("max=50", f"max={bad}"))
        assert error.status_code == 400
        assert "'max'" in error.json()["error"]["message"]
    both = client.get(href + "&starting_after=10001&ending_before=10040")
    assert both.status_code == 400
    assert "starting_after" in both.json()["error"]["message"]


def test_field_groups_and_shared_fields_once(client: httpx.Client) -> None:
    reply, _ = run_report(client, _body(client), max=500)
    close, _ = run_report(client, _body(client), max=500, fieldGroup="closeData")
    both, _ = run_report(
        client, _body(client), max=500, fieldGroup="closeData,replyData"
    )

    assert all(set(r) <= SHARED_FIELDS | REPLY_FIELDS for r in reply)
    assert all(set(r) <= SHARED_FIELDS | CLOSE_FIELDS for r in close)
    assert all(set(r) >= SHARED_FIELDS for r in both)
    assert any(set(r) == SHARED_FIELDS | REPLY_FIELDS | CLOSE_FIELDS for r in both)
    raw = client.post(
        REPORT, params={"fieldGroup": "replyData,closeData"}, json=_body(client)
    )
    text = client.get(wait_done(client, raw.json())["_links"]["self"]["href"]).text
    first_row = text[text.index('"data":[{') : text.index("}", text.index('"data":[{'))]
    assert first_row.count('"assigned"') == 1


def test_include_details(client: httpx.Client) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    users = {u["userId"]: u for u in mailbox["users"]}

    plain, _ = run_report(client, _body(client), max=500)
    detailed, _ = run_report(client, _body(client), max=500, includeDetails="true")

    assert not any(DETAIL_FIELDS & set(r) for r in plain)
    for row in detailed:
        if row["userId"] == "unknown":
            continue
        user = users[row["userId"]]
        assert (row["userName"], row["userEmail"], row["userActive"]) == (
            user["userName"],
            user["userEmail"],
            user["active"],
        )


def test_users_filter_ignores_unknown_ids_and_supports_unknown(
    client: httpx.Client,
) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    chosen = mailbox["users"][0]["userId"]
    all_rows, _ = run_report(client, _body(client), max=500)
    body = {**_body(client), "users": [chosen, "not-a-user", "unknown"]}

    filtered, _ = run_report(client, body, max=500)
    only_unknown, _ = run_report(client, {**_body(client), "users": ["unknown"]})

    expected = [r for r in all_rows if r["userId"] in (chosen, "unknown")]
    strip = [{k: v for k, v in r.items() if k != "id"} for r in expected]
    assert [{k: v for k, v in r.items() if k != "id"} for r in filtered] == strip
    assert only_unknown and {r["userId"] for r in only_unknown} == {"unknown"}


@pytest.mark.parametrize(
    ("change", "params", "named"),
    [
        ({"mailboxId": None}, {}, "mailboxId"),
        ({"start": None}, {}, "start"),
        ({"period": "fortnight"}, {}, "period"),
        ({"start": "2026-04-02T00:00:00", "end": "2026-04-01T00:00:00"}, {}, "start"),
        ({"start": "yesterday"}, {}, "start"),
        ({"end": "2026-13-01T00:00:00"}, {}, "end"),
        ({}, {"fieldGroup": "replyData,bogus"}, "fieldGroup"),
        ({}, {"max": "0"}, "max"),
        ({}, {"starting_after": "10001", "ending_before": "10002"}, "starting_after"),
        ({}, {"includeDetails": "maybe"}, "includeDetails"),
    ],
)
def test_validation_errors_name_the_parameter(
    client: httpx.Client, change: dict[str, Any], params: dict[str, str], named: str
) -> None:
    body = {k: v for k, v in {**_body(client), **change}.items() if v is not None}

    response = client.post(REPORT, params=params, json=body)

    assert response.status_code == 400
    error = response.json()
    assert error["status"] == "error"
    assert error["error"]["code"] == "400"
    assert f"'{named}'" in error["error"]["message"]
    assert error["_links"]["origin"]["method"] == "POST"


def test_zone_designator_is_ignored(client: httpx.Client) -> None:
    plain, _ = run_report(client, _body(client), max=500)
    zoned = {**_body(client), "start": "2026-03-01T00:00:00Z"}
    zoned["end"] = "2026-03-31T00:00:00+05:30"

    rows, _ = run_report(client, zoned, max=500)

    assert rows == plain


def test_deferred_total_is_null_until_the_last_page(
    running: RunningSimulator, client: httpx.Client
) -> None:
    running.simulator.update_settings({"defer_total": True})

    response = client.post(REPORT, params={"max": 20}, json=_body(client))
    page = wait_done(client, response.json())
    totals = [page["result"]["total"]]
    count = len(page["result"]["data"])
    while "next" in page["_links"]:
        page = client.get(page["_links"]["next"]["href"]).json()
        totals.append(page["result"]["total"])
        count += len(page["result"]["data"])

    assert len(totals) > 1
    assert totals[:-1] == [None] * (len(totals) - 1)
    assert totals[-1] == count
