"""The scheduler against the simulator: budget, polls, pages and window sizes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connector.config import config_from_mapping
from connector.errors import ConfigurationError
from connector.simulator import RunningSimulator
from tests.conftest import SIM_KEY, SIM_NOW, Loader, fast_config

RESULTS_PATH = "/api/v1/reports/results/"


def sim_log(simulator: RunningSimulator) -> list[dict[str, Any]]:
    body = httpx.get(f"{simulator.base_url}/_sim/requests").json()
    return [e for e in body["requests"] if e["path"].startswith("/api/v1/")]


def sim_runs(simulator: RunningSimulator) -> list[dict[str, Any]]:
    return list(httpx.get(f"{simulator.base_url}/_sim/runs").json()["runs"])


def test_a_tight_budget_is_used_without_a_single_429(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    simulator = start_simulator(
        requests_per_minute=12, rate_window_seconds=0.6, run_seconds=0.2
    )
    config = fast_config(
        simulator.base_url,
        requests_per_minute=12,
        rate_window_seconds=0.6,
        window_periods=30,
    )

    summary = duckdb_loader.run(
        config, start="2025-07-01", end="2026-01-01", now=SIM_NOW
    )

    assert summary.ok, summary.failures
    log = sim_log(simulator)
    assert [e for e in log if e["status"] == 429] == []
    times = sorted(e["time"] for e in log)
    for first, twelfth_later in zip(times, times[12:], strict=False):
        assert twelfth_later - first >= 0.6


def test_polls_wait_for_progress_and_pages_are_full(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    simulator = start_simulator(run_seconds=0.8)
    config = fast_config(simulator.base_url, poll_initial_seconds=0.05)

    summary = duckdb_loader.run(
        config, start="2025-01-01", end="2026-01-01", now=SIM_NOW
    )

    assert summary.ok, summary.failures
    runs = sim_runs(simulator)
    results = Counter(
        e["run_id"] for e in sim_log(simulator) if e["path"].startswith(RESULTS_PATH)
    )
    for run in runs:
        pages = max(1, -(-run["rows"] // 500))
        # The doubling cadence alone would poll five times (0.05 .. 0.8 s).
        assert results[run["id"]] - pages <= 3, run
    assert all("max=500" in e["query"] for e in sim_log(simulator) if e["run_id"])


def test_one_mailbox_is_split_across_the_run_slots(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    simulator = start_simulator(mailbox_count=1, inactive_mailbox_count=0)
    config = fast_config(simulator.base_url)

    summary = duckdb_loader.run(
        config, start="2025-05-01", end="2026-05-01", now=SIM_NOW
    )

    assert summary.ok, summary.failures
    assert len(sim_runs(simulator)) == 3


def test_many_mailboxes_get_one_run_each(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    simulator = start_simulator(mailbox_count=8, inactive_mailbox_count=0)
    config = fast_config(simulator.base_url)

    summary = duckdb_loader.run(
        config, start="2025-05-01", end="2026-05-01", now=SIM_NOW
    )

    assert summary.ok, summary.failures
    runs = sim_runs(simulator)
    assert len(runs) == 8
    assert len({run["mailbox_id"] for run in runs}) == 8


def test_window_periods_overrides_the_sizing(
    start_simulator: Callable[..., RunningSimulator], duckdb_loader: Loader
) -> None:
    simulator = start_simulator(mailbox_count=1, inactive_mailbox_count=0)
    config = fast_config(simulator.base_url, window_periods=10)

    summary = duckdb_loader.run(
        config, start="2026-01-01", end="2026-02-10", now=SIM_NOW
    )

    assert summary.ok, summary.failures
    assert len(sim_runs(simulator)) == 4


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate_window_seconds": 0}, "rate_window_seconds must be greater than 0"),
        ({"window_target_rows": -1}, "window_target_rows must be greater than 0"),
        ({"window_periods": 0}, "window_periods must be greater than 0"),
        ({"window_periods": "many"}, "window_periods must be an integer"),
    ],
)
def test_scheduling_settings_are_validated(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        config_from_mapping({"api_key": SIM_KEY, **changes})


def test_scheduling_settings_default_to_the_api_limits() -> None:
    config = config_from_mapping({"api_key": SIM_KEY})

    assert config.requests_per_minute == 100
    assert config.rate_window_seconds == 60.0
    assert config.window_target_rows == 25_000
    assert config.window_periods is None
