"""Injected faults: each is recovered without loss or duplication, or fails
cleanly with the state unchanged and a rerun that completes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector.config import LoadConfig
from connector.simulator import Fault, RunningSimulator
from tests.conftest import Loader, fast_config
from tests.e2e.support import (
    assert_matches_truth,
    expected,
    listed_mailboxes,
    max_overlap,
    our_requests,
    resource_state,
    runs_by_window,
    sim_now,
    table_snapshot,
)

START, END = "2026-03-01", "2026-04-01"
LAST = "2026-03-31T23:59:59"
RESULTS = "/api/v1/reports/results"
REPORT = "/api/v1/reports/mailboxUserPerformance"
MAILBOXES = "/api/v1/admin/mailboxes"
# 31 days in windows of 10: four windows per mailbox.
WINDOWS_PER_MAILBOX = 4


def small_simulator(
    start_simulator: Callable[..., RunningSimulator], **changes: Any
) -> RunningSimulator:
    """Two mailboxes (New York, Kolkata) of two users each, no request limit."""
    values: dict[str, Any] = {
        "requests_per_minute": 100_000,
        "mailbox_count": 2,
        "inactive_mailbox_count": 0,
        "users_per_mailbox": 2,
    }
    values.update(changes)
    return start_simulator(**values)


def windowed_config(sim: RunningSimulator, **changes: Any) -> LoadConfig:
    """Day grain, ten days a run, five rows a page: several runs and pages."""
    config = fast_config(sim.base_url, page_size=5, **changes)
    return config.replace(periods_per_window={**config.periods_per_window, "day": 10})


def backfill(sim: RunningSimulator, loader: Loader, config: LoadConfig) -> Any:
    """Backfills March 2026 at the simulator's now."""
    return loader.run(config, start=START, end=END, now=sim_now(sim))


def fired(sim: RunningSimulator) -> list[int]:
    """How many requests each injected fault matched."""
    return [f["matched"] for f in sim.simulator.faults()]


FAULTS = {
    "429 with Retry-After on polls and pages": {
        "kind": "status", "status": 429, "retry_after": 0.3, "method": "GET",
        "path": RESULTS, "after": 2, "times": 2,
    },
    "429 without Retry-After on submit": {
        "kind": "status", "status": 429, "method": "POST", "path": REPORT,
        "after": 1, "times": 2,
    },
    "500 on polls and pages": {
        "kind": "status", "status": 500, "method": "GET", "path": RESULTS, "times": 3,
    },
    "502 on pages": {
        "kind": "status", "status": 502, "method": "GET", "path": RESULTS,
        "after": 6, "times": 2,
    },
    "503 on the mailbox list": {
        "kind": "status", "status": 503, "method": "GET", "path": MAILBOXES,
        "times": 2,
    },
    "dropped connections on results": {
        "kind": "drop", "method": "GET", "path": RESULTS, "after": 3, "times": 2,
    },
    "dropped connection on the mailbox list": {
        "kind": "drop", "method": "GET", "path": MAILBOXES, "times": 1,
    },
    "slow responses": {
        "kind": "delay", "delay_seconds": 0.4, "method": "GET", "path": RESULTS,
        "after": 1, "times": 3,
    },
    "malformed JSON on results": {
        "kind": "malformed", "method": "GET", "path": RESULTS, "after": 2, "times": 2,
    },
    "malformed JSON on the mailbox list": {
        "kind": "malformed", "method": "GET", "path": MAILBOXES, "times": 1,
    },
}  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
def test_transient_fault_is_recovered_without_loss_or_duplication(
    start_simulator: Callable[..., RunningSimulator],
    duckdb_loader: Loader,
    fault: dict[str, Any],
) -> None:
    sim = small_simulator(start_simulator)
    sim.simulator.set_faults([Fault.from_dict(fault)])

    summary = backfill(sim, duckdb_loader, windowed_config(sim))

    assert summary.ok, summary.failures
    assert fired(sim)[0] >= fault.get("after", 0) + fault["times"]
    assert_matches_truth(duckdb_loader, expected(sim, "day", START, LAST))
    # One run per window: no duplicate submissions.
    assert set(runs_by_window(sim).values()) == {1}
    assert len(runs_by_window(sim)) == 2 * WINDOWS_PER_MAILBOX


def test_retry_after_pauses_every_request(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = small_simulator(start_simulator)
    sim.simulator.set_faults(
        [Fault("status", "GET", RESULTS, status=429, retry_after=0.5, after=2)]
    )

    summary = backfill(sim, duckdb_loader, windowed_config(sim))

    assert summary.ok, summary.failures
    # A faulted answer is logged without a key name: look at every request.
    log = sim.simulator.requests()
    limited = next(i for i, r in enumerate(log) if r["status"] == 429)
    # Requests already on their way when the 429 came back cannot be held;
    # every one sent after it waits out the Retry-After.
    in_flight_seconds = 0.05
    after = [
        r["time"]
        for r in log[limited + 1 :]
        if r["time"] - log[limited]["time"] > in_flight_seconds
    ]
    assert after and min(after) - log[limited]["time"] >= 0.45


def test_503_on_a_submit_that_started_a_run_counts_its_slot(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = small_simulator(start_simulator, run_seconds=0.4, max_running_runs=3)
    sim.simulator.set_faults(
        [Fault("status", "POST", REPORT, status=503, start_run=True, after=1)]
    )

    summary = backfill(sim, duckdb_loader, windowed_config(sim, max_concurrent_runs=3))

    assert summary.ok, summary.failures
    assert_matches_truth(duckdb_loader, expected(sim, "day", START, LAST))
    posts = [r for r in our_requests(sim) if r["method"] == "POST"]
    # One retry for the uncertain submit, none blind: windows + 1 POSTs.
    assert len(posts) == 2 * WINDOWS_PER_MAILBOX + 1
    assert sorted(runs_by_window(sim).values()) == [1] * 7 + [2]
    # The orphaned run's slot was counted: the account limit was never hit.
    assert [r for r in our_requests(sim) if r["status"] == 429] == []
    runs = sim.simulator.runs()
    assert max_overlap([(r["created_time"], r["done_time"]) for r in runs]) <= 3


def test_result_expiring_mid_pagination_is_fetched_again(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = small_simulator(start_simulator, run_seconds=0.01)
    mailbox_id = listed_mailboxes(sim)[0]["mailboxId"]
    sim.simulator.set_faults(
        [Fault("expire", "GET", RESULTS, mailbox_id=mailbox_id, after=3)]
    )
    config = fast_config(sim.base_url, page_size=3)

    summary = backfill(sim, duckdb_loader, config)

    assert summary.ok, summary.failures
    assert_matches_truth(duckdb_loader, expected(sim, "day", START, LAST))
    expired = [r for r in our_requests(sim) if r["status"] == 404]
    assert expired and all("starting_after" in r["query"] for r in expired)
    assert runs_by_window(sim)[(mailbox_id, f"{START}T00:00:00", LAST)] == 2


def test_job_timeout_fails_cleanly_then_a_rerun_completes(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = small_simulator(start_simulator)
    config = windowed_config(sim)
    first = duckdb_loader.run(config, start="2026-02-01", end=START, now=sim_now(sim))
    assert first.ok, first.failures
    table_before = table_snapshot(duckdb_loader)
    state_before = resource_state(duckdb_loader.pipelines_dir)

    sim.simulator.update_settings({"run_seconds": 1.5})
    timed_out = backfill(sim, duckdb_loader, config.replace(job_timeout_seconds=0.3))

    assert not timed_out.ok
    assert len(timed_out.failures) == 2 * WINDOWS_PER_MAILBOX
    assert all("after 0.3s (job_timeout_seconds)" in f for f in timed_out.failures)
    assert table_snapshot(duckdb_loader) == table_before
    assert _without_timestamps(resource_state(duckdb_loader.pipelines_dir)) == (
        _without_timestamps(state_before)
    )
    # A timed-out window is not resubmitted: one run each, February's
    # three windows per mailbox included.
    assert set(runs_by_window(sim).values()) == {1}
    assert len(runs_by_window(sim)) == 2 * (3 + WINDOWS_PER_MAILBOX)

    sim.simulator.update_settings({"run_seconds": 0.1})
    rerun = backfill(sim, duckdb_loader, config)

    assert rerun.ok, rerun.failures
    assert_matches_truth(duckdb_loader, expected(sim, "day", "2026-02-01", LAST))


def test_persistent_5xx_fails_one_mailbox_cleanly_then_a_rerun_completes(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = small_simulator(start_simulator)
    broken, healthy = (m["mailboxId"] for m in listed_mailboxes(sim))
    sim.simulator.set_faults(
        [Fault("status", "GET", RESULTS, status=500, mailbox_id=broken, times=10_000)]
    )
    config = windowed_config(sim)

    failed = backfill(sim, duckdb_loader, config)

    assert not failed.ok
    assert failed.failures and all(broken in f for f in failed.failures)
    assert_matches_truth(
        duckdb_loader, expected(sim, "day", START, LAST, mailbox_ids=[healthy])
    )
    assert broken not in resource_state(duckdb_loader.pipelines_dir).get(
        "mailboxes", {}
    )

    sim.simulator.set_faults([])
    sim.simulator.clear_requests()
    rerun = backfill(sim, duckdb_loader, config)

    assert rerun.ok, rerun.failures
    assert_matches_truth(duckdb_loader, expected(sim, "day", START, LAST))
    assert (
        sum(1 for run in sim.simulator.runs() if run["mailbox_id"] == broken)
        == 2 * WINDOWS_PER_MAILBOX
    )


def _without_timestamps(state: dict[str, Any]) -> dict[str, Any]:
    """The resource state minus `updated_at` bookkeeping."""
    mailboxes = {
        mailbox_id: {
            period: {k: v for k, v in entry.items() if k != "updated_at"}
            for period, entry in periods.items()
        }
        for mailbox_id, periods in state.get("mailboxes", {}).items()
    }
    return {"mailboxes": mailboxes}
