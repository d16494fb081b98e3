"""The simulated clock: cutoff, partial periods, late attribution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connector.simulator import RunningSimulator
from connector.simulator.clock import SimClock
from tests.simulator.conftest import KEY, mailbox_in, run_report


def _client(running: RunningSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"}
    )


def _today(client: httpx.Client, period: str = "day") -> dict[str, Any]:
    return {
        "mailboxId": mailbox_in(client, "America/New_York")["mailboxId"],
        "start": "2026-04-27T00:00:00",
        "end": "2026-05-01T00:00:00",
        "period": period,
    }


def test_cutoff_present_only_when_range_reaches_it(client: httpx.Client) -> None:
    body = _today(client)
    past = {**body, "start": "2026-04-01T00:00:00", "end": "2026-04-30T23:59:59"}

    _, current = run_report(client, body)
    _, finished = run_report(client, past)

    # Now is 12:28Z = 08:28 in New York; the cutoff is 14 minutes earlier.
    assert current["result"]["dataCutoffTimestamp"] == "2026-05-01T08:14:00.0"
    assert "dataCutoffTimestamp" not in finished["result"]
    assert client.get("/_sim/clock").json() == {
        "now": "2026-05-01T12:28:00Z",
        "cutoff": "2026-05-01T12:14:00Z",
        "mode": "manual",
    }


def test_cutoff_in_the_mailbox_zone(client: httpx.Client) -> None:
    body = {
        **_today(client),
        "mailboxId": mailbox_in(client, "Asia/Kolkata")["mailboxId"],
    }

    _, page = run_report(client, body)

    assert page["result"]["dataCutoffTimestamp"] == "2026-05-01T17:44:00.0"


def test_advancing_the_clock_fills_the_partial_period(
    running: RunningSimulator, client: httpx.Client
) -> None:
    body = _today(client)
    before, _ = run_report(client, body, fieldGroup="replyData,closeData")

    running.simulator.advance_clock(10 * 3600)
    after, page = run_report(client, body, fieldGroup="replyData,closeData")

    def today_total(rows: list[dict[str, Any]]) -> int:
        return sum(
            r["assigned"] + r["initialReplies"] + r["closedArchived"]
            for r in rows
            if r["startDateTime"] == "2026-05-01T00:00:00"
        )

    assert today_total(after) > today_total(before)
    earlier = [r for r in before if r["startDateTime"] < "2026-04-30"]
    assert [r for r in after if r["startDateTime"] < "2026-04-30"] == earlier
    assert page["result"]["dataCutoffTimestamp"] == "2026-05-01T18:14:00.0"


ACTIONS = (
    "initiated",
    "initialReplies",
    "additionalReplies",
    "closedArchived",
    "closedDeleted",
    "closedJunk",
    "closedSentItems",
)


def _actions(rows: list[dict[str, Any]], unknown: bool) -> int:
    return sum(
        sum(r[field] for field in ACTIONS)
        for r in rows
        if (r["userId"] == "unknown") == unknown
    )


def test_late_attribution_rows_move_from_unknown_to_the_user(
    running: RunningSimulator, client: httpx.Client
) -> None:
    running.simulator.set_now("2026-04-30T19:28:00Z")  # 15:28 in New York
    body = {**_today(client, "hour"), "start": "2026-04-30T13:00:00"}
    body["end"] = "2026-04-30T15:00:00"
    groups = "replyData,closeData"
    provisional, _ = run_report(client, body, fieldGroup=groups)

    running.simulator.advance_clock(2 * 3600)
    settled, _ = run_report(client, body, fieldGroup=groups)

    moved = _actions(provisional, True) - _actions(settled, True)
    assert moved > 0
    assert _actions(settled, False) - _actions(provisional, False) == moved


def test_late_attribution_can_be_disabled(
    serve: Callable[..., RunningSimulator],
) -> None:
    enabled = serve()
    disabled = serve(late_attribution_minutes=0)
    with _client(enabled) as on, _client(disabled) as off:
        for running in (enabled, disabled):
            running.simulator.set_now("2026-04-30T19:28:00Z")
        body = {**_today(on, "hour"), "start": "2026-04-30T13:00:00"}
        body["end"] = "2026-04-30T15:00:00"
        groups = "replyData,closeData"
        with_late, _ = run_report(on, body, fieldGroup=groups)
        without_late, _ = run_report(off, body, fieldGroup=groups)

    assert _actions(with_late, True) > _actions(without_late, True)
    total = _actions(with_late, True) + _actions(with_late, False)
    assert total == _actions(without_late, True) + _actions(without_late, False)


def test_real_clock_follows_wall_time_plus_advances() -> None:
    wall = [1_000.0]
    clock = SimClock("real", "2026-05-01T00:00:00Z", wall=lambda: wall[0])
    start = clock.now()

    wall[0] += 30
    clock.advance(3600)

    assert clock.now() - start == 3630
    manual = SimClock("manual", "2026-05-01T00:00:00Z", wall=lambda: wall[0])
    wall[0] += 30
    assert manual.now() == start
