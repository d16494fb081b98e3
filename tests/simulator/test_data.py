"""Report rows against the documentation and an independent recomputation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from connector.simulator import RunningSimulator
from connector.simulator.clock import parse_utc
from tests.simulator.conftest import mailbox_in, run_report, without_ids
from tests.simulator.reference import reference_rows


def _events(
    client: httpx.Client, mailbox_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    params = {
        "mailboxId": mailbox_id,
        "start": (start.replace(day=1) - timedelta(days=4)).isoformat(),
        "end": (end + timedelta(days=32)).isoformat(),
    }
    response = client.get("/_sim/events", params=params)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _cutoff(client: httpx.Client) -> int:
    return int(parse_utc(client.get("/_sim/clock").json()["cutoff"]))


def test_seed_month_example_gives_january_to_april(client: httpx.Client) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    body = {
        "mailboxId": mailbox["mailboxId"],
        "start": "2026-01-03T00:00:00",
        "end": "2026-04-16T00:00:00",
        "period": "month",
    }

    rows, page = run_report(client, body, max=500)

    assert rows[0]["startDateTime"] == "2026-01-01T00:00:00"
    labels = sorted({row["startDateTime"] for row in rows})
    assert labels == [f"2026-0{m}-01T00:00:00" for m in (1, 2, 3, 4)]
    by_user: dict[str, list[str]] = {}
    for row in rows:
        by_user.setdefault(row["userId"], []).append(row["startDateTime"])
    active = [u["userId"] for u in mailbox["users"] if u["active"]]
    for user_id in active:
        assert by_user[user_id] == labels
    assert page["result"]["timeZone"] == "America/New_York"
    assert "dataCutoffTimestamp" not in page["result"]


def test_week_rows_start_on_the_weekday_of_start(client: httpx.Client) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    body = {
        "mailboxId": mailbox["mailboxId"],
        "start": "2026-04-01T00:00:00",
        "end": "2026-04-20T00:00:00",
        "period": "week",
    }

    rows, _ = run_report(client, body, max=500)

    labels = sorted({row["startDateTime"] for row in rows})
    assert labels == [
        "2026-04-01T00:00:00",
        "2026-04-08T00:00:00",
        "2026-04-15T00:00:00",
    ]
    assert all(datetime.fromisoformat(x).weekday() == 2 for x in labels)


def test_unaligned_starts_label_the_same_week_differently(
    client: httpx.Client,
) -> None:
    mailbox_id = mailbox_in(client, "Europe/London")["mailboxId"]
    base = {"mailboxId": mailbox_id, "end": "2026-03-20T00:00:00", "period": "week"}

    monday, _ = run_report(client, {**base, "start": "2026-03-02T00:00:00"}, max=500)
    thursday, _ = run_report(client, {**base, "start": "2026-03-05T00:00:00"}, max=500)

    assert {r["startDateTime"] for r in monday} == {
        "2026-03-02T00:00:00",
        "2026-03-09T00:00:00",
        "2026-03-16T00:00:00",
    }
    assert {r["startDateTime"] for r in thursday} == {
        "2026-03-05T00:00:00",
        "2026-03-12T00:00:00",
        "2026-03-19T00:00:00",
    }


def test_hours_across_autumn_dst_change(client: httpx.Client) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    body = {
        "mailboxId": mailbox["mailboxId"],
        "start": "2025-11-02T00:00:00",
        "end": "2025-11-02T23:59:59",
    }
    groups = "replyData,closeData"

    hours, _ = run_report(
        client, {**body, "period": "hour"}, max=500, fieldGroup=groups
    )
    days, _ = run_report(client, {**body, "period": "day"}, max=500, fieldGroup=groups)

    labels = {row["startDateTime"] for row in hours}
    assert all(label.startswith("2025-11-02T") for label in labels)
    assert len(labels) == len({label[11:13] for label in labels})
    assert {d["startDateTime"] for d in days} == {"2025-11-02T00:00:00"}
    summed: dict[str, dict[str, int]] = {}
    for row in hours:
        totals = summed.setdefault(row["userId"], {})
        for field in ("assigned", "initialReplies", "closedArchived", "initiated"):
            totals[field] = totals.get(field, 0) + row[field]
    for day in days:
        for field, value in summed[day["userId"]].items():
            assert day[field] == value, (day["userId"], field)


def test_repeated_autumn_hour_is_one_row_of_two_real_hours(
    running: RunningSimulator, client: httpx.Client
) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    start, end = datetime(2025, 11, 2), datetime(2025, 11, 2, 23)
    events = _events(client, mailbox["mailboxId"], start, end)
    # 01:00-02:00 EDT is 05:00-06:00 UTC, 01:00-02:00 EST is 06:00-07:00 UTC.
    first = parse_utc("2025-11-02T05:00:00Z")
    second = parse_utc("2025-11-02T06:00:00Z")
    after = parse_utc("2025-11-02T07:00:00Z")
    kinds = ("assign", "reassign")
    in_first = [e for e in events if first <= e["time"] < second and e["kind"] in kinds]
    in_second = [
        e for e in events if second <= e["time"] < after and e["kind"] in kinds
    ]

    hours, _ = run_report(
        client, {"mailboxId": mailbox["mailboxId"], "start": "2025-11-02T01:00:00",
                 "end": "2025-11-02T01:59:59", "period": "hour"},
    )  # fmt: skip

    assert {row["startDateTime"] for row in hours} <= {"2025-11-02T01:00:00"}
    assert sum(row["assigned"] for row in hours) == len(in_first) + len(in_second)


def test_spring_gap_hour_has_no_row(client: httpx.Client) -> None:
    mailbox = mailbox_in(client, "America/New_York")
    body = {
        "mailboxId": mailbox["mailboxId"],
        "start": "2026-03-09T00:00:00",
        "end": "2026-03-09T23:00:00",
        "period": "hour",
    }
    spring = {**body, "start": "2026-03-08T00:00:00", "end": "2026-03-08T23:00:00"}

    rows, _ = run_report(client, spring, max=500)

    assert not [r for r in rows if r["startDateTime"] == "2026-03-08T02:00:00"]


def test_rows_match_independent_recomputation(client: httpx.Client) -> None:
    groups = ("replyData", "closeData")
    for zone, period, start, end in (
        ("America/New_York", "day", datetime(2026, 4, 20), datetime(2026, 5, 1, 8)),
        ("Asia/Kolkata", "hour", datetime(2026, 4, 28), datetime(2026, 4, 28, 23)),
        ("Europe/London", "week", datetime(2026, 3, 18), datetime(2026, 4, 10)),
        ("America/New_York", "hour", datetime(2025, 11, 1), datetime(2025, 11, 3)),
        ("Australia/Adelaide", "hour", datetime(2024, 4, 6), datetime(2024, 4, 8)),
        ("Australia/Adelaide", "day", datetime(2024, 4, 1), datetime(2024, 4, 14)),
        ("Europe/London", "hour", datetime(2026, 3, 28), datetime(2026, 3, 30)),
        ("Asia/Kolkata", "month", datetime(2026, 1, 15), datetime(2026, 3, 2)),
    ):
        mailbox = mailbox_in(client, zone)
        body = {
            "mailboxId": mailbox["mailboxId"],
            "start": start.isoformat(),
            "end": end.isoformat(),
            "period": period,
        }
        events = _events(client, mailbox["mailboxId"], start, end)

        rows, _ = run_report(client, body, max=500, fieldGroup=",".join(groups))

        users = {u["userId"] for u in mailbox["users"]} | {"unknown"}
        assert {r["userId"] for r in rows} <= users
        expected = reference_rows(
            events, zone, period, start, end, _cutoff(client), 3600, groups
        )
        assert without_ids(rows) == expected, (zone, period)


def test_truth_equals_report_rows(client: httpx.Client) -> None:
    mailbox = mailbox_in(client, "Asia/Kolkata")
    body = {
        "mailboxId": mailbox["mailboxId"],
        "start": "2026-04-01T00:00:00",
        "end": "2026-05-01T00:00:00",
        "period": "day",
    }

    rows, _ = run_report(client, body, max=500, fieldGroup="closeData")
    truth = client.get("/_sim/truth", params={**body, "fieldGroup": "closeData"})

    assert truth.json()["rows"] == without_ids(rows)
    assert truth.json()["timeZone"] == "Asia/Kolkata"
