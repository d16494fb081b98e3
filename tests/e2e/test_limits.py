"""The account's limits hold, as the simulator saw the traffic."""

from __future__ import annotations

from collections.abc import Callable

from connector.simulator import RunningSimulator
from tests.conftest import SIM_NOW, Loader, fast_config
from tests.e2e.support import (
    assert_matches_truth,
    expected,
    max_in_window,
    max_overlap,
    our_requests,
)

WINDOW_SECONDS = 3.0
REQUESTS_PER_WINDOW = 30
MAX_RUNS = 3


def test_runs_and_requests_stay_within_the_account_limits(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    # The account's minute compressed to three seconds.
    sim = start_simulator(
        mailbox_count=2,
        inactive_mailbox_count=0,
        users_per_mailbox=2,
        run_seconds=0.3,
        max_running_runs=MAX_RUNS,
        requests_per_minute=REQUESTS_PER_WINDOW,
        rate_window_seconds=WINDOW_SECONDS,
    )
    config = fast_config(
        sim.base_url,
        page_size=20,
        max_concurrent_runs=MAX_RUNS,
        requests_per_minute=REQUESTS_PER_WINDOW,
        rate_window_seconds=WINDOW_SECONDS,
    )
    config = config.replace(periods_per_window={**config.periods_per_window, "day": 5})

    summary = duckdb_loader.run(
        config, start="2026-03-01", end="2026-04-01", now=SIM_NOW
    )

    assert summary.ok, summary.failures
    assert_matches_truth(
        duckdb_loader, expected(sim, "day", "2026-03-01", "2026-03-31T23:59:59")
    )
    log = our_requests(sim)
    assert len(log) > REQUESTS_PER_WINDOW
    assert [r for r in sim.simulator.requests() if r["status"] == 429] == []
    assert (
        max_in_window([r["time"] for r in log], WINDOW_SECONDS) <= REQUESTS_PER_WINDOW
    )
    runs = sim.simulator.runs()
    assert len(runs) == 2 * 7
    assert max_overlap([(r["created_time"], r["done_time"]) for r in runs]) <= MAX_RUNS
