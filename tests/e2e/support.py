"""Helpers for the end-to-end suite: ground truth, warehouse reads, log checks.

Expected values come from the simulator's ground truth (`Simulator.truth`) or
from the API documentation, never from the connector's output. Period
arithmetic here is written independently of `connector.periods`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx

from connector.simulator import RunningSimulator
from tests.conftest import FAST_SETTINGS, SIM_KEY, Loader
from tests.connector.helpers import METRICS, listed_mailboxes

REPO_ROOT = Path(__file__).resolve().parents[2]
METRIC_COLUMNS = tuple(column for _, column in METRICS)
Key = tuple[str, str, str, datetime]


def sim_now(sim: RunningSimulator) -> str:
    """The simulator's clock as a UTC ISO string (what a nightly run gets as now)."""
    now: str = sim.simulator.clock_state()["now"]
    return now


def local_now(sim: RunningSimulator, time_zone: str) -> datetime:
    """The simulator's now as a naive wall time in `time_zone`."""
    instant = datetime.fromisoformat(sim_now(sim).replace("Z", "+00:00"))
    return instant.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)


def advance_over_http(sim: RunningSimulator, seconds: float) -> str:
    """Moves the simulated clock with `POST /_sim/clock`; returns the new now."""
    response = httpx.post(
        f"{sim.base_url}/_sim/clock", json={"advance_seconds": seconds}
    )
    response.raise_for_status()
    now: str = response.json()["now"]
    return now


def period_end(start: datetime, period: str) -> datetime:
    """The wall time at which the period starting at `start` ends."""
    if period == "hour":
        return start + timedelta(hours=1)
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    year, month = (
        (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    )
    return start.replace(year=year, month=month, day=1)


@dataclass
class Truth:
    """Expected table rows and each mailbox's cutoff (None: all final)."""

    rows: dict[Key, dict[str, Any]]
    cutoffs: dict[str, datetime | None]


def expected(
    sim: RunningSimulator,
    period: str,
    start: str,
    end: str | None = None,
    mailbox_ids: Iterable[str] | None = None,
) -> Truth:
    """The truth for `[start, end]` (default end: now in each mailbox's zone).

    `start` must lie on a period boundary the connector also uses (for weeks:
    the configured first weekday), because the API anchors weeks at `start`.
    """
    start = datetime.fromisoformat(start).isoformat()
    boxes = listed_mailboxes(sim)
    wanted = set(mailbox_ids) if mailbox_ids is not None else None
    rows: dict[Key, dict[str, Any]] = {}
    cutoffs: dict[str, datetime | None] = {}
    for mailbox in boxes:
        mailbox_id = mailbox["mailboxId"]
        if wanted is not None and mailbox_id not in wanted:
            continue
        last = end or local_now(sim, mailbox["timeZone"]).isoformat(timespec="seconds")
        result = sim.simulator.truth(
            {
                "mailboxId": mailbox_id,
                "period": period,
                "start": start,
                "end": last,
                "fieldGroup": "replyData,closeData",
            }
        )
        cutoff = result["dataCutoffTimestamp"]
        cutoffs[mailbox_id] = datetime.fromisoformat(cutoff) if cutoff else None
        for row in result["rows"]:
            key = (
                mailbox_id,
                row["userId"],
                period,
                datetime.fromisoformat(row["startDateTime"]),
            )
            rows[key] = {column: row.get(field) for field, column in METRICS}
    return Truth(rows, cutoffs)


def query(loader: Loader, sql: str) -> list[tuple[Any, ...]]:
    """Runs SQL against the loader's warehouse; `{ds}` stands for the dataset."""
    sql = sql.replace("{ds}", f'"{loader.dataset_name}"')
    if loader.destination == "duckdb":
        assert loader.duckdb_path is not None
        with duckdb.connect(loader.duckdb_path, read_only=True) as connection:
            return connection.sql(sql).fetchall()
    import psycopg2

    connection = psycopg2.connect(loader.postgres_credentials)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


@dataclass
class Warehouse:
    """What the performance table holds."""

    rows: dict[Key, dict[str, Any]]
    provisional: dict[Key, bool]
    cutoff: dict[Key, datetime | None]
    row_count: int


def warehouse(loader: Loader) -> Warehouse:
    """Reads `mailbox_user_performance` whole, keyed by its primary key."""
    columns = ", ".join(METRIC_COLUMNS)
    result = query(
        loader,
        "SELECT mailbox_id, user_id, period, start_date_time, is_provisional, "
        f"data_cutoff_timestamp, {columns} FROM {{ds}}.mailbox_user_performance",
    )
    rows: dict[Key, dict[str, Any]] = {}
    provisional: dict[Key, bool] = {}
    cutoff: dict[Key, datetime | None] = {}
    for record in result:
        key = (record[0], record[1], record[2], record[3])
        rows[key] = dict(zip(METRIC_COLUMNS, record[6:], strict=True))
        provisional[key] = bool(record[4])
        cutoff[key] = record[5]
    return Warehouse(rows, provisional, cutoff, len(result))


def assert_matches_truth(loader: Loader, truth: Truth) -> Warehouse:
    """The table equals the truth: same keys, same values, no duplicate keys,
    and exactly the rows of the cutoff's period and later marked provisional."""
    loaded = warehouse(loader)

    assert loaded.row_count == len(loaded.rows), "duplicate primary keys"
    missing = sorted(set(truth.rows) - set(loaded.rows))
    extra = sorted(set(loaded.rows) - set(truth.rows))
    assert not missing, f"{len(missing)} rows missing, e.g. {missing[:3]}"
    assert not extra, f"{len(extra)} stale or extra rows, e.g. {extra[:3]}"
    changed = [k for k in truth.rows if loaded.rows[k] != truth.rows[k]]
    assert not changed, (
        f"{len(changed)} rows differ, e.g. {changed[0]}: "
        f"{loaded.rows[changed[0]]} != {truth.rows[changed[0]]}"
    )

    for key in truth.rows:
        cutoff = truth.cutoffs[key[0]]
        is_open = cutoff is not None and period_end(key[3], key[2]) > cutoff
        assert loaded.provisional[key] == is_open, (key, cutoff)
        # README: data_cutoff_timestamp is null for final rows.
        assert loaded.cutoff[key] == (cutoff if is_open else None), (key, cutoff)
    return loaded


def assert_no_duplicate_keys(loader: Loader) -> None:
    """No two rows share (mailbox_id, user_id, period, start_date_time)."""
    duplicates = query(
        loader,
        "SELECT mailbox_id, user_id, period, start_date_time, count(*) "
        "FROM {ds}.mailbox_user_performance GROUP BY 1, 2, 3, 4 HAVING count(*) > 1",
    )
    assert duplicates == []


def resource_state(pipelines_dir: str) -> dict[str, Any]:
    """The connector's incremental state as dlt keeps it in the working dir."""
    path = Path(pipelines_dir) / "emailgistics" / "state.json"
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    sources = state.get("sources", {})
    source = sources.get("emailgistics", {})
    performance: dict[str, Any] = source.get("resources", {}).get(
        "mailbox_user_performance", {}
    )
    return performance


def table_snapshot(loader: Loader) -> list[tuple[Any, ...]]:
    """Every row of the performance table, sorted (empty before the first load)."""
    try:
        return sorted(
            query(loader, "SELECT * FROM {ds}.mailbox_user_performance"),
            key=repr,
        )
    except (duckdb.CatalogException, duckdb.IOException):
        return []


def our_requests(sim: RunningSimulator, key_name: str = "demo") -> list[dict[str, Any]]:
    """The public API requests our key made, oldest first."""
    return [r for r in sim.simulator.requests() if r["key_name"] == key_name]


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of half-open intervals that overlap at one instant."""
    edges = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda edge: (edge[0], edge[1]),
    )
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def max_in_window(times: Sequence[float], window_seconds: float) -> int:
    """The most `times` that fall inside any window of `window_seconds`."""
    ordered = sorted(times)
    peak = 0
    first = 0
    for last, moment in enumerate(ordered):
        while ordered[first] <= moment - window_seconds:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def runs_by_window(sim: RunningSimulator) -> dict[tuple[str, str, str], int]:
    """How many runs the simulator saw per (mailbox, start, end)."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for run in sim.simulator.runs():
        counts[(run["mailbox_id"], run["start"], run["end"])] += 1
    return dict(counts)


def cli_env(base_url: str, key: str = SIM_KEY, **settings: Any) -> dict[str, str]:
    """Environment for the command line: key, URL and compressed timings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SOURCES__", "DESTINATION__"))
    }
    values = {**FAST_SETTINGS, **settings}
    env.update(
        {
            f"SOURCES__EMAILGISTICS__{name.upper()}": str(value)
            for name, value in values.items()
        }
    )
    env["SOURCES__EMAILGISTICS__API_KEY"] = key
    env["SOURCES__EMAILGISTICS__BASE_URL"] = base_url
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def cli_command(*args: str) -> list[str]:
    """`python -m pipelines.emailgistics_pipeline ARGS --no-progress`."""
    return [
        sys.executable,
        "-m",
        "pipelines.emailgistics_pipeline",
        *args,
        "--no-progress",
    ]


def run_cli(
    args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Runs the command line as a user would and waits for it."""
    return subprocess.run(
        cli_command(*args),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
