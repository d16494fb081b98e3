"""Two invocations of one pipeline never interleave; an interrupted backfill
resumes without refetching what loaded and never moves the nightly cursor back."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.errors import ConfigurationError
from connector.simulator import ApiKey, Fault, RunningSimulator
from tests.conftest import SIM_KEY, SIM_NOW, Loader, fast_config
from tests.e2e.support import (
    Truth,
    assert_matches_truth,
    cli_command,
    cli_env,
    expected,
    listed_mailboxes,
    our_requests,
    resource_state,
    run_cli,
)

REPORT = "/api/v1/reports/mailboxUserPerformance"


def test_a_second_invocation_exits_or_waits_while_the_first_runs(
    start_simulator: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = start_simulator(
        mailbox_count=1,
        run_seconds=2.5,
        keys=[ApiKey(SIM_KEY, "demo"), ApiKey("sk-second", "second")],
    )
    args = ["--start", "2026-03-01", "--end", "2026-03-08", "--now", SIM_NOW]
    args += ["--pipelines-dir", str(tmp_path / "pipelines")]
    args += ["--duckdb-path", str(tmp_path / "warehouse.duckdb")]
    first = subprocess.Popen(
        cli_command(*args),
        env=cli_env(sim.base_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(r["method"] == "POST" for r in sim.simulator.requests()):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)

        refused = run_cli(args, cli_env(sim.base_url, key="sk-second"), tmp_path)
        waited = run_cli(
            [*args, "--wait-for-lock", "60"],
            cli_env(sim.base_url, key="sk-second"),
            tmp_path,
        )
    finally:
        _, err = first.communicate(timeout=60)

    assert first.returncode == 0, err
    assert refused.returncode == 4
    errors = [line for line in refused.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "in progress" in errors[0], refused.stderr
    assert waited.returncode == 0, waited.stderr
    first_times = [r["time"] for r in our_requests(sim, "demo")]
    second_times = [r["time"] for r in our_requests(sim, "second")]
    assert second_times and min(second_times) > max(first_times)


def test_interrupted_backfill_resumes_and_never_moves_the_cursor_back(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = start_simulator(
        mailbox_count=1, users_per_mailbox=3, requests_per_minute=100_000
    )
    mailbox_id = listed_mailboxes(sim)[0]["mailboxId"]
    config = fast_config(
        sim.base_url, initial_start="2026-04-25", max_concurrent_runs=1
    )
    config = config.replace(periods_per_window={**config.periods_per_window, "day": 5})
    nightly = duckdb_loader.run(config, now=SIM_NOW)
    assert nightly.ok, nightly.failures
    cursor = resource_state(duckdb_loader.pipelines_dir)["mailboxes"][mailbox_id]["day"]
    assert cursor["final_through"] >= "2026-04-30T00:00:00"

    # Windows run one at a time in order: the third and fourth submits fail.
    sim.simulator.set_faults(
        [Fault("status", "POST", REPORT, status=500, after=2, times=99)]
    )
    first = duckdb_loader.run(config, start="2026-03-01", end="2026-03-21", now=SIM_NOW)

    assert not first.ok
    entry = resource_state(duckdb_loader.pipelines_dir)["mailboxes"][mailbox_id]["day"]
    assert entry["final_through"] == cursor["final_through"]
    assert_matches_truth(duckdb_loader, _truth(sim, "2026-03-10T23:59:59"))

    sim.simulator.set_faults([])
    resumed_at = time.time()
    second = duckdb_loader.run(
        config, start="2026-03-01", end="2026-03-21", now=SIM_NOW
    )

    assert second.ok, second.failures
    refetched = sorted(
        r["start"] for r in sim.simulator.runs() if r["created_time"] >= resumed_at
    )
    assert refetched == ["2026-03-11T00:00:00", "2026-03-16T00:00:00"]
    entry = resource_state(duckdb_loader.pipelines_dir)["mailboxes"][mailbox_id]["day"]
    assert entry["final_through"] == cursor["final_through"]
    assert_matches_truth(duckdb_loader, _truth(sim, "2026-03-20T23:59:59"))


def _truth(sim: RunningSimulator, backfilled_through: str) -> Truth:
    """The backfilled March days plus what the nightly run loaded."""
    nightly = expected(sim, "day", "2026-04-25")
    march = expected(sim, "day", "2026-03-01", backfilled_through)
    return Truth({**march.rows, **nightly.rows}, nightly.cutoffs)


def test_rerun_after_a_partial_failure_resumes_and_a_complete_rerun_refreshes(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = start_simulator(
        mailbox_count=2, users_per_mailbox=2, requests_per_minute=100_000
    )
    failing, loading = (m["mailboxId"] for m in listed_mailboxes(sim))
    config = fast_config(sim.base_url)
    config = config.replace(periods_per_window={**config.periods_per_window, "day": 5})
    backfill = {"start": "2026-03-01", "end": "2026-03-21", "now": SIM_NOW}
    # README: day windows of whole periods; 20 days in windows of 5 days.
    window_starts = [f"2026-03-{day:02d}T00:00:00" for day in (1, 6, 11, 16)]

    sim.simulator.set_faults(
        [Fault("status", "POST", REPORT, status=404, mailbox_id=failing, times=99)]
    )
    first = duckdb_loader.run(config, **backfill)
    assert not first.ok

    sim.simulator.set_faults([])
    resumed_at = time.time()
    second = duckdb_loader.run(config, **backfill)
    assert second.ok, second.failures
    refetched = sorted(
        (r["mailbox_id"], r["start"])
        for r in sim.simulator.runs()
        if r["created_time"] >= resumed_at
    )
    assert refetched == [(failing, start) for start in window_starts]
    truth = expected(sim, "day", "2026-03-01", "2026-03-20T23:59:59")
    assert_matches_truth(duckdb_loader, truth)

    refreshed_at = time.time()
    third = duckdb_loader.run(config, **backfill)
    assert third.ok, third.failures
    refreshed = sorted(
        (r["mailbox_id"], r["start"])
        for r in sim.simulator.runs()
        if r["created_time"] >= refreshed_at
    )
    assert refreshed == sorted(
        (mailbox, start) for mailbox in (failing, loading) for start in window_starts
    )
    assert_matches_truth(duckdb_loader, truth)


@pytest.mark.parametrize(
    ("signal_number", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_stops_with_one_line_and_the_rerun_resumes(
    start_simulator: Callable[..., RunningSimulator],
    tmp_path: Path,
    signal_number: int,
    exit_code: int,
) -> None:
    sim = start_simulator(mailbox_count=1, run_seconds=0.4, requests_per_minute=100_000)
    args = ["--start", "2026-03-02", "--end", "2026-03-30", "--period", "hour"]
    args += ["--now", SIM_NOW, "--pipelines-dir", str(tmp_path / "pipelines")]
    args += ["--duckdb-path", str(tmp_path / "warehouse.duckdb")]
    # Windows of 7 days: 28 days make four.
    env = cli_env(sim.base_url, max_concurrent_runs=1, window_periods=7 * 24)
    total_windows = 4
    process = subprocess.Popen(
        cli_command(*args),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while sum(r["method"] == "POST" for r in sim.simulator.requests()) < 2:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.send_signal(signal_number)
    finally:
        _, err = process.communicate(timeout=60)

    assert process.returncode == exit_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "interrupted" in line.lower()]
    assert len(lines) == 1, err
    match = re.fullmatch(
        r"interrupted: (\d+) windows? loaded and committed; run the same command "
        r"again to resume\.",
        lines[0],
    )
    assert match, lines[0]
    assert "error" not in err.lower(), err
    committed = int(match.group(1))

    resumed_at = time.time()
    rerun = run_cli(args, env, tmp_path)

    assert rerun.returncode == 0, rerun.stderr
    refetched = [r for r in sim.simulator.runs() if r["created_time"] >= resumed_at]
    assert len(refetched) <= total_windows - committed
    loader = Loader(
        str(tmp_path / "pipelines"), duckdb_path=str(tmp_path / "warehouse.duckdb")
    )
    assert_matches_truth(
        loader, expected(sim, "hour", "2026-03-02", "2026-03-29T23:59:59")
    )


def test_another_week_start_is_refused_before_any_request(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    sim = start_simulator(mailbox_count=1, requests_per_minute=100_000)
    mailbox_id = listed_mailboxes(sim)[0]["mailboxId"]
    monday = fast_config(sim.base_url, period="week", week_start="monday")
    # 2026-03-02 is a Monday.
    first = duckdb_loader.run(monday, start="2026-03-02", end="2026-03-30", now=SIM_NOW)
    assert first.ok, first.failures
    before = len(sim.simulator.requests())

    sunday = monday.replace(week_start="sunday")
    with pytest.raises(ConfigurationError) as refused:
        duckdb_loader.run(sunday, start="2026-03-01", end="2026-03-29", now=SIM_NOW)

    message = str(refused.value)
    assert "'sunday'" in message and "'monday'" in message, message
    assert mailbox_id in message and "--dataset" in message, message
    assert len(sim.simulator.requests()) == before
    assert_matches_truth(
        duckdb_loader, expected(sim, "week", "2026-03-02", "2026-03-29T23:59:59")
    )
