"""End to end over real HTTP: simulator -> connector -> DuckDB, checked against
the simulator's ground truth."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from connector.simulator import Fault, RunningSimulator
from tests.conftest import Loader, fast_config
from tests.connector.helpers import (
    METRICS,
    truth_for_every_mailbox,
    warehouse_rows,
)


def test_backfill_matches_truth_exactly(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    config = fast_config(simulator.base_url)

    summary = duckdb_loader.run(
        config, start="2026-01-01", end="2026-04-01", now="2026-05-01T12:28:00Z"
    )

    assert summary.ok, summary.failures
    expected = truth_for_every_mailbox(
        simulator, "day", "2026-01-01T00:00:00", "2026-03-31T23:59:59"
    )
    loaded = warehouse_rows(str(duckdb_loader.duckdb_path))
    assert loaded == expected
    assert summary.rows_loaded == len(expected) > 0


def test_nightly_runs_replace_provisional_rows(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    config = fast_config(simulator.base_url, initial_start="2026-04-20")
    first = duckdb_loader.run(config, now="2026-05-01T12:28:00Z")
    assert first.ok, first.failures
    with duckdb.connect(str(duckdb_loader.duckdb_path), read_only=True) as db:
        provisional = db.sql(
            "SELECT count(*) FROM emailgistics.mailbox_user_performance "
            "WHERE is_provisional"
        ).fetchall()
    assert provisional[0][0] > 0

    simulator.simulator.advance_clock(3 * 86_400)
    second = duckdb_loader.run(config, now="2026-05-04T12:28:00Z")

    assert second.ok, second.failures
    expected = truth_for_every_mailbox(
        simulator, "day", "2026-04-20T00:00:00", "2026-05-04T23:59:59"
    )
    assert warehouse_rows(str(duckdb_loader.duckdb_path)) == expected
    final = {item.final_through for item in second.mailboxes.values()}
    assert final <= {"2026-05-04T00:00:00", "2026-05-05T00:00:00"}


def test_hour_rows_vanish_when_reattributed(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    config = fast_config(simulator.base_url, period="hour", initial_start="2026-04-30")
    duckdb_loader.run(config, now="2026-05-01T12:28:00Z")

    simulator.simulator.advance_clock(6 * 3600)
    summary = duckdb_loader.run(config, now="2026-05-01T18:28:00Z")

    assert summary.ok, summary.failures
    expected = truth_for_every_mailbox(
        simulator, "hour", "2026-04-30T00:00:00", "2026-05-02T23:59:59"
    )
    assert warehouse_rows(str(duckdb_loader.duckdb_path)) == expected


def test_wall_times_survive_any_session_time_zone(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    config = fast_config(simulator.base_url)
    duckdb_loader.run(
        config, start="2026-03-01", end="2026-03-03", now="2026-05-01T12:28:00Z"
    )

    with duckdb.connect(str(duckdb_loader.duckdb_path), read_only=True) as db:
        db.sql("SET TimeZone='Asia/Tokyo'")
        starts = {
            row[0]
            for row in db.sql(
                "SELECT DISTINCT start_date_time FROM "
                "emailgistics.mailbox_user_performance"
            ).fetchall()
        }
        types = dict(
            db.sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'mailbox_user_performance'"
            ).fetchall()
        )
    assert starts == {datetime(2026, 3, 1), datetime(2026, 3, 2)}
    assert types["start_date_time"] == "TIMESTAMP"
    assert types["data_cutoff_timestamp"] == "TIMESTAMP"
    assert types["initial_replies"] == "BIGINT"
    assert types["average_user_close_time"] == "DOUBLE"
    assert "id" not in types


@pytest.mark.parametrize("period", ["week", "month"])
def test_coarse_grains_match_truth(
    simulator: RunningSimulator, duckdb_loader: Loader, period: str
) -> None:
    config = fast_config(simulator.base_url, period=period, week_start="sunday")

    summary = duckdb_loader.run(
        config, start="2025-12-28", end="2026-03-01", now="2026-05-01T12:28:00Z"
    )

    assert summary.ok, summary.failures
    start = "2025-12-28T00:00:00" if period == "week" else "2025-12-01T00:00:00"
    end = "2026-02-28T23:59:59"
    expected = truth_for_every_mailbox(simulator, period, start, end)
    assert warehouse_rows(str(duckdb_loader.duckdb_path)) == expected


def test_interrupted_backfill_resumes_with_the_missing_windows(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    config = fast_config(simulator.base_url).replace(periods_per_window={"day": 10})
    report = "/api/v1/reports/mailboxUserPerformance"
    simulator.simulator.set_faults(
        [
            Fault(
                kind="status",
                status=503,
                method="POST",
                path=report,
                after=5,
                times=10_000,
            )
        ]
    )
    dates = {"start": "2026-01-01", "end": "2026-03-02", "now": "2026-05-01T12:28:00Z"}

    first = duckdb_loader.run(config, **dates)

    assert not first.ok
    loaded_first = sum(m.windows_loaded_now for m in first.mailboxes.values())
    total = sum(m.windows_planned for m in first.mailboxes.values())
    assert 0 < loaded_first < total

    simulator.simulator.set_faults([])
    simulator.simulator.clear_requests()
    second = duckdb_loader.run(config, **dates)

    assert second.ok, second.failures
    posts = [r for r in simulator.simulator.requests() if r["method"] == "POST"]
    assert len(posts) == total - loaded_first
    expected = truth_for_every_mailbox(
        simulator, "day", "2026-01-01T00:00:00", "2026-03-01T23:59:59"
    )
    assert warehouse_rows(str(duckdb_loader.duckdb_path)) == expected


@pytest.mark.postgres
def test_postgres_backfill_and_nightly_match_truth(
    simulator: RunningSimulator, postgres_loader: Loader, postgres_url: str
) -> None:
    import psycopg2

    config = fast_config(simulator.base_url, initial_start="2026-04-25")
    backfill = postgres_loader.run(
        config, start="2026-03-01", end="2026-04-25", now="2026-05-01T12:28:00Z"
    )
    nightly = postgres_loader.run(config, now="2026-05-01T12:28:00Z")

    assert backfill.ok and nightly.ok
    expected = truth_for_every_mailbox(
        simulator, "day", "2026-03-01T00:00:00", "2026-05-01T23:59:59"
    )
    columns = ", ".join(column for _, column in METRICS)
    connection = psycopg2.connect(postgres_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET TimeZone = 'Asia/Tokyo'")
            cursor.execute(
                f"SELECT mailbox_id, user_id, start_date_time, {columns} "
                f'FROM "{postgres_loader.dataset_name}".mailbox_user_performance'
            )
            rows = cursor.fetchall()
            cursor.execute(
                "SELECT data_type FROM information_schema.columns WHERE "
                "table_schema = %s AND table_name = 'mailbox_user_performance' "
                "AND column_name = 'start_date_time'",
                (postgres_loader.dataset_name,),
            )
            (start_type,) = cursor.fetchall()[0]
    finally:
        connection.close()
    loaded = {
        (r[0], r[1], r[2]): dict(zip([c for _, c in METRICS], r[3:], strict=True))
        for r in rows
    }
    assert loaded == expected
    assert start_type == "timestamp without time zone"


def test_hour_grain_across_dst_transitions_matches_truth(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    # New York springs forward on 8 March, London on 29 March, Adelaide falls
    # back on 5 April 2026.
    config = fast_config(simulator.base_url, period="hour")

    summary = duckdb_loader.run(
        config, start="2026-03-07", end="2026-04-07", now="2026-05-01T12:28:00Z"
    )

    assert summary.ok, summary.failures
    expected = truth_for_every_mailbox(
        simulator, "hour", "2026-03-07T00:00:00", "2026-04-06T23:59:59"
    )
    assert warehouse_rows(str(duckdb_loader.duckdb_path)) == expected


def test_a_period_that_comes_back_empty_loses_its_rows(
    simulator: RunningSimulator, duckdb_loader: Loader
) -> None:
    # Loading only activity without an identifiable user: the late-attributed
    # hours just before the cutoff hold "unknown" rows that move to real users
    # later, so those hours come back empty and must be emptied in the table.
    config = fast_config(
        simulator.base_url, period="hour", initial_start="2026-05-01", users=["unknown"]
    )
    duckdb_loader.run(config, now="2026-05-01T12:28:00Z")
    before = warehouse_rows(str(duckdb_loader.duckdb_path))

    simulator.simulator.advance_clock(6 * 3600)
    summary = duckdb_loader.run(config, now="2026-05-01T18:28:00Z")

    assert summary.ok, summary.failures
    expected = truth_for_every_mailbox(
        simulator, "hour", "2026-05-01T00:00:00", "2026-05-02T23:59:59", "unknown"
    )
    # The second run's lookback reaches back before 1 May: compare from there.
    after = warehouse_rows(
        str(duckdb_loader.duckdb_path), "start_date_time >= '2026-05-01'"
    )
    emptied = {k[::2] for k in before} - {k[::2] for k in expected}
    assert emptied, "the scenario must empty at least one loaded period"
    assert after == expected
    with duckdb.connect(str(duckdb_loader.duckdb_path), read_only=True) as db:
        markers = db.sql(
            "SELECT count(*) FROM emailgistics.mailbox_user_performance "
            "WHERE user_id = '' OR _period_emptied"
        ).fetchall()
    assert markers == [(0,)]
