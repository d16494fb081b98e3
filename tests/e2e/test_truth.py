"""Backfill, then clock advances and nightly runs: after every run the warehouse
equals the simulator's ground truth, in DuckDB and in Postgres, at every grain,
for mailboxes in zones with DST and with half-hour offsets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from connector.simulator import RunningSimulator
from tests.conftest import Loader, fast_config
from tests.e2e.support import (
    advance_over_http,
    assert_matches_truth,
    expected,
    listed_mailboxes,
    local_now,
    sim_now,
)

HOUR = 3600
DAY = 24 * HOUR

# New York (DST), Kolkata (+05:30), London (DST), Adelaide (+09:30/+10:30, DST).
ZONE_NY = "America/New_York"
ZONES = {ZONE_NY, "Asia/Kolkata", "Europe/London", "Australia/Adelaide"}


@dataclass(frozen=True)
class Scenario:
    """A backfill `[start, end)`, then nightly runs after each clock advance."""

    start: str
    end: str
    advances_seconds: tuple[float, ...]


SCENARIOS = {
    "hour": Scenario("2026-04-30T06:00", "2026-04-30T12:00", (3 * HOUR, 20 * HOUR)),
    "day": Scenario("2026-04-06", "2026-04-27", (DAY, 2 * DAY + 5 * HOUR)),
    # 2026-03-02 and 2026-04-20 are Mondays; London's clocks change on 03-29.
    "week": Scenario("2026-03-02", "2026-04-20", (7 * DAY, 3 * DAY)),
    # Across New York's and London's March change; the clock then crosses May's end.
    "month": Scenario("2026-01-01", "2026-04-01", (31 * DAY, 2 * DAY)),
}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def loader(request: pytest.FixtureRequest) -> Loader:
    """The DuckDB loader, or the Postgres one (fails when Postgres is down in CI)."""
    fixture: Loader = request.getfixturevalue(f"{request.param}_loader")
    return fixture


@pytest.mark.parametrize("period", ["hour", "day", "week", "month"])
def test_backfill_then_nightly_runs_equal_truth(
    start_simulator: Callable[..., RunningSimulator], loader: Loader, period: str
) -> None:
    sim = start_simulator(
        mailbox_count=4, inactive_mailbox_count=0, users_per_mailbox=2
    )
    assert {m["timeZone"] for m in listed_mailboxes(sim)} == ZONES
    scenario = SCENARIOS[period]
    config = fast_config(sim.base_url, period=period, initial_start=scenario.end)

    summary = loader.run(
        config, start=scenario.start, end=scenario.end, now=sim_now(sim)
    )

    assert summary.ok, summary.failures
    last = datetime.fromisoformat(scenario.end) - timedelta(seconds=1)
    backfilled = expected(sim, period, scenario.start, last.isoformat())
    assert len(backfilled.rows) > 0
    loaded = assert_matches_truth(loader, backfilled)
    assert not any(loaded.provisional.values())

    for number, seconds in enumerate(scenario.advances_seconds):
        if number == 0:
            advance_over_http(sim, seconds)
        else:
            sim.simulator.advance_clock(seconds)

        nightly = loader.run(config, now=sim_now(sim))

        assert nightly.ok, nightly.failures
        truth = expected(sim, period, scenario.start)
        assert_matches_truth(loader, truth)


def test_hour_rows_across_the_autumn_dst_change(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    # New York falls back at 2025-11-02 02:00 EDT: the wall hour 01:00 happens
    # twice and is one bucket of two real hours.
    sim = start_simulator(
        now="2025-11-02T04:30:00Z", mailbox_count=2, inactive_mailbox_count=0,
        users_per_mailbox=2,
    )  # fmt: skip
    config = fast_config(sim.base_url, period="hour", initial_start="2025-11-02T00:00")
    summary = duckdb_loader.run(
        config, start="2025-11-01T00:00", end="2025-11-02T00:00", now=sim_now(sim)
    )
    assert summary.ok, summary.failures

    # Nightly runs at 01:30 EDT, 01:30 EST (the repeated hour) and 04:30 EST.
    for seconds in (HOUR, HOUR, 3 * HOUR):
        sim.simulator.advance_clock(seconds)
        nightly = duckdb_loader.run(config, now=sim_now(sim))

        assert nightly.ok, nightly.failures
        assert_matches_truth(duckdb_loader, expected(sim, "hour", "2025-11-01T00:00"))

    new_york = next(
        m["mailboxId"] for m in listed_mailboxes(sim) if m["timeZone"] == ZONE_NY
    )
    # The loads reached past the repeated hour .
    assert local_now(sim, ZONE_NY) == datetime(2025, 11, 2, 4, 30)
    assert nightly.mailboxes[new_york].final_through == "2025-11-02T04:00:00"


@pytest.mark.parametrize("loader", ["duckdb"], indirect=True)
def test_unaligned_weekly_backfill_then_nightly_has_no_overlapping_weeks(
    start_simulator: Callable[..., RunningSimulator], loader: Loader
) -> None:
    sim = start_simulator(
        mailbox_count=2, inactive_mailbox_count=0, users_per_mailbox=3
    )
    # 2026-03-04 and 2026-04-08 are Wednesdays; weeks start on Monday.
    config = fast_config(
        sim.base_url, period="week", week_start="monday", initial_start="2026-04-08"
    )

    backfill = loader.run(
        config, start="2026-03-04", end="2026-04-08", now=sim_now(sim)
    )
    sim.simulator.advance_clock(3 * DAY)
    nightly = loader.run(config, now=sim_now(sim))

    assert backfill.ok and nightly.ok, (backfill.failures, nightly.failures)
    loaded = assert_matches_truth(loader, expected(sim, "week", "2026-03-02T00:00"))
    starts_by_user: dict[tuple[str, str], list[datetime]] = {}
    for mailbox_id, user_id, _, start in loaded.rows:
        assert start.weekday() == 0 and start.time() == datetime.min.time(), start
        starts_by_user.setdefault((mailbox_id, user_id), []).append(start)
    for starts in starts_by_user.values():
        ordered = sorted(starts)
        assert all(b - a >= timedelta(days=7) for a, b in pairwise(ordered))
    assert min(min(s) for s in starts_by_user.values()) == datetime(2026, 3, 2)
