"""Planning windows from state, and the rules that move the nightly cursor."""

from __future__ import annotations

from typing import Any

import pendulum

from connector.config import LoadConfig, config_from_mapping
from connector.state import Backfill, plan_backfill, plan_nightly

NOW = pendulum.datetime(2026, 5, 1, 12, 28, tz="UTC")


def config(**changes: Any) -> LoadConfig:
    raw: dict[str, Any] = {"api_key": "k", "periods_per_window": None, **changes}
    raw.pop("periods_per_window")
    return config_from_mapping(raw).replace(periods_per_window={"day": 10, "hour": 24})


def naive(*parts: int) -> pendulum.DateTime:
    return pendulum.naive(*parts)


def test_first_nightly_run_starts_at_initial_start_and_ends_after_now() -> None:
    plan = plan_nightly(config(initial_start="2026-04-10"), "m", "UTC", {}, NOW)

    assert plan.windows[0].start == naive(2026, 4, 10)
    assert plan.windows[-1].end == naive(2026, 5, 2)
    assert [w.end - w.start for w in plan.windows[:-1]] == [
        pendulum.duration(days=10)
    ] * (len(plan.windows) - 1)


def test_nightly_run_starts_lookback_before_final_through_in_local_time() -> None:
    entry = {"final_through": "2026-04-28T00:00:00", "time_zone": "Asia/Tokyo"}

    plan = plan_nightly(config(lookback="P2D"), "m", "Asia/Tokyo", entry, NOW)

    assert plan.windows[0].start == naive(2026, 4, 26)
    # 12:28 UTC is 21:28 in Tokyo, still 1 May.
    assert plan.windows[-1].end == naive(2026, 5, 2)


def test_cursor_moves_to_the_cutoff_period_and_never_backwards() -> None:
    entry = {"final_through": "2026-04-28T00:00:00"}
    plan = plan_nightly(config(lookback="P2D"), "m", "UTC", entry, NOW)
    (window,) = plan.windows

    new = plan.record(window, naive(2026, 5, 1, 12, 14), NOW, rows=5)
    assert new["final_through"] == "2026-05-01T00:00:00"
    assert new["last_cutoff"] == "2026-05-01T12:14:00"

    stale = plan.record(window, naive(2026, 4, 20), NOW, rows=5)
    assert stale["final_through"] == "2026-05-01T00:00:00"


def test_cursor_waits_for_a_gap_to_fill() -> None:
    plan = plan_nightly(config(initial_start="2026-04-01"), "m", "UTC", {}, NOW)
    first, second, third, last = plan.windows

    # Without state the cursor is anchored where the first run began, so a
    # failed first window is fetched again from there, not 30 days before then.
    after_second = plan.record(second, None, NOW, rows=1)
    assert after_second["final_through"] == "2026-04-01T00:00:00"

    after_first = plan.record(first, None, NOW, rows=1)
    assert after_first["final_through"] == "2026-04-21T00:00:00"

    plan.record(last, naive(2026, 5, 1, 12), NOW, rows=1)
    after_third = plan.record(third, None, NOW, rows=1)
    assert after_third["final_through"] == "2026-05-01T00:00:00"


def test_backfill_keeps_progress_resumes_and_marks_it_complete() -> None:
    backfill = Backfill(naive(2026, 1, 1), naive(2026, 1, 31))
    plan = plan_backfill(config(), "m", "UTC", {}, backfill, NOW)
    first, second, third = plan.windows

    entry = plan.record(second, None, NOW, rows=3)
    assert entry["backfill"]["done"] == ["2026-01-11T00:00:00"]
    assert "final_through" not in entry

    resumed = plan_backfill(config(), "m", "UTC", entry, backfill, NOW)
    assert [w.start for w in resumed.windows if w.start not in resumed.loaded] == [
        first.start,
        third.start,
    ]
    resumed.record(first, None, NOW, rows=1)
    final = resumed.record(third, None, NOW, rows=1)
    assert final["backfill"] == {
        "start": "2026-01-01T00:00:00",
        "end": "2026-01-31T00:00:00",
        "complete_before": "2026-01-31T00:00:00",
    }

    again = plan_backfill(config(), "m", "UTC", final, backfill, NOW)
    assert [w for w in again.windows if w.start not in again.loaded] == []
    refresh = plan_backfill(config(), "m", "UTC", final, backfill, NOW, resume=False)
    assert refresh.loaded == {}


def test_backfill_of_another_range_starts_over() -> None:
    entry = {
        "backfill": {
            "start": "2025-01-01T00:00:00",
            "end": "2025-02-01T00:00:00",
            "done": ["2025-01-01T00:00:00"],
        }
    }
    backfill = Backfill(naive(2026, 1, 1), naive(2026, 1, 31))

    plan = plan_backfill(config(), "m", "UTC", entry, backfill, NOW)

    assert plan.loaded == {}


def test_backfill_extends_the_nightly_cursor_only_without_a_gap() -> None:
    entry = {"final_through": "2026-04-05T00:00:00"}
    backfill = Backfill(naive(2026, 4, 1), naive(2026, 4, 21))
    plan = plan_backfill(config(), "m", "UTC", entry, backfill, NOW)
    first, second = plan.windows

    assert plan.record(second, None, NOW, 1)["final_through"] == "2026-04-05T00:00:00"
    assert plan.record(first, None, NOW, 1)["final_through"] == "2026-04-21T00:00:00"


def test_backfill_never_asks_for_periods_after_now() -> None:
    backfill = Backfill(naive(2026, 4, 25), naive(2027, 1, 1))

    plan = plan_backfill(config(), "m", "UTC", {}, backfill, NOW)

    assert plan.windows[-1].end == naive(2026, 5, 2)
