"""Backfill benchmark: how close the connector gets to the fastest time the API allows.

Usage: ``python -m bench.backfill [--speedup 10] [--cases NAME ...] [--markdown]``.

Each case starts a simulator with every duration divided by ``speedup``
(report runs, the request window, the connector's poll and back-off
timings), runs the connector's command line as a child process for one
backfill into a fresh DuckDB file, and prints wall time against the lower
bound, requests against the minimum, 429s, rows, CPU time and peak memory.
It prints figures and never fails on timings.

The simulated API works like the real one sped up: a run takes
``REAL_RUN_SECONDS`` plus ``REAL_RUN_SECONDS_PER_1000_ROWS`` per thousand
rows, and the account gets 100 requests a minute. Our side does not speed
up, so two figures scale back to real time: the CPU share is judged against
the real time the API needs, ``cpu_seconds / (wall_seconds * speedup)``, and
"real wall/bound" multiplies the span from the first to the last API request
by the speedup and adds our start-up and final load once, against the bound
times the speedup. "wall/bound" is the raw ratio in compressed time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from bench.lower_bound import AccountLimits, lower_bound, minimum_requests
from bench.measure import ApiUsage, ProcessUsage, read_api_usage, run_process
from connector.settings import DATASET_NAME
from connector.simulator.server import serve_in_thread
from connector.simulator.settings import DEMO_KEY, SimulatorSettings
from connector.source import PERFORMANCE_TABLE

REAL_RUN_SECONDS = 30.0
REAL_RUN_SECONDS_PER_1000_ROWS = 2.0
REAL_WINDOW_SECONDS = 60.0
REQUESTS_PER_WINDOW = 100
RUN_SLOTS = 3
REAL_POLL_INITIAL_SECONDS = 2.0
REAL_POLL_MAX_SECONDS = 30.0
REAL_RATE_LIMIT_WAIT_SECONDS = 60.0

USERS_PER_MAILBOX = 30
SIMULATED_NOW = "2026-06-01T12:00:00Z"
TWO_YEARS = ("2024-01-01", "2026-01-01")
NINETY_DAYS = ("2025-10-03", "2026-01-01")
RESULTS_DIR = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Case:
    """One backfill to measure.

    Attributes:
        name: Short label for the table.
        mailboxes: Mailboxes on the account (all are loaded).
        period: The grain.
        start: First local day of the range.
        end: Local day the range stops before.
    """

    name: str
    mailboxes: int
    period: str
    start: str
    end: str


CASES: tuple[Case, ...] = (
    Case("1 mbx, 1 day, day", 1, "day", "2025-12-31", "2026-01-01"),
    Case("1 mbx, 90 d, day", 1, "day", *NINETY_DAYS),
    Case("1 mbx, 2 y, day", 1, "day", *TWO_YEARS),
    Case("10 mbx, 90 d, day", 10, "day", *NINETY_DAYS),
    Case("10 mbx, 2 y, week", 10, "week", *TWO_YEARS),
    Case("10 mbx, 30 d, hour", 10, "hour", "2025-12-02", "2026-01-01"),
    Case("10 mbx, 2 y, day", 10, "day", *TWO_YEARS),
    Case("50 mbx, 90 d, day", 50, "day", *NINETY_DAYS),
    Case("50 mbx, 2 y, day", 50, "day", *TWO_YEARS),
)


@dataclass(frozen=True)
class CaseResult:
    """The figures one case printed."""

    name: str
    mailboxes: int
    exit_code: int
    rows_loaded: int
    rows_expected: int
    runs: int
    wall_seconds: float
    startup_seconds: float
    api_span_seconds: float
    bound_seconds: float
    request_bound_seconds: float
    slot_bound_seconds: float
    requests: int
    minimum_requests: int
    rate_limited: int
    early_polls: int
    notice_lag_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    speedup: float

    @property
    def ratio(self) -> float:
        """Wall time over the lower bound."""
        return self.wall_seconds / self.bound_seconds if self.bound_seconds else 0.0

    @property
    def projected_real_seconds(self) -> float:
        """Wall time against the real API: the API's share scaled back up.

        The span from the first to the last API request is the API's time and
        is multiplied by the speedup; start-up and the final load are ours
        and do not speed up, so they are counted once.
        """
        return self.api_span_seconds * self.speedup + (
            self.wall_seconds - self.api_span_seconds
        )

    @property
    def projected_ratio(self) -> float:
        """Projected real wall time over the real (uncompressed) lower bound."""
        if not self.bound_seconds:
            return 0.0
        return self.projected_real_seconds / (self.bound_seconds * self.speedup)

    @property
    def request_ratio(self) -> float:
        """Requests made over the fewest needed."""
        return self.requests / self.minimum_requests

    @property
    def rows_per_second(self) -> float:
        """Rows loaded per second of wall time."""
        return self.rows_loaded / self.wall_seconds

    @property
    def cpu_share_of_api_time(self) -> float:
        """CPU time over the uncompressed time the API took."""
        return self.cpu_seconds / (self.wall_seconds * self.speedup)


def simulator_settings(case: Case, speedup: float) -> SimulatorSettings:
    """Build the simulator for ``case`` with every duration divided by ``speedup``.

    Args:
        case: The backfill to measure.
        speedup: How many times faster than the real API the simulator runs.

    Returns:
        The simulator's settings.
    """
    return SimulatorSettings(
        mailbox_count=case.mailboxes,
        users_per_mailbox=USERS_PER_MAILBOX,
        inactive_mailbox_count=0,
        clock="manual",
        now=SIMULATED_NOW,
        run_seconds=REAL_RUN_SECONDS / speedup,
        run_seconds_per_1000_rows=REAL_RUN_SECONDS_PER_1000_ROWS / speedup,
        requests_per_minute=REQUESTS_PER_WINDOW,
        rate_window_seconds=REAL_WINDOW_SECONDS / speedup,
        max_running_runs=RUN_SLOTS,
    )


def connector_environment(case: Case, speedup: float, workdir: Path) -> dict[str, str]:
    """Build the connector's environment: its settings, scaled like the simulator.

    Args:
        case: The backfill to measure.
        speedup: How many times faster than the real API the simulator runs.
        workdir: A fresh directory for dlt's pipeline state.

    Returns:
        The child process's whole environment.
    """
    env = dict(os.environ)
    prefix = "SOURCES__EMAILGISTICS__"
    env.update(
        {
            "DLT_DATA_DIR": str(workdir / "dlt"),
            f"{prefix}API_KEY": DEMO_KEY,
            f"{prefix}PERIOD": case.period,
            f"{prefix}REQUESTS_PER_MINUTE": str(REQUESTS_PER_WINDOW),
            f"{prefix}RATE_WINDOW_SECONDS": str(REAL_WINDOW_SECONDS / speedup),
            f"{prefix}MAX_CONCURRENT_RUNS": str(RUN_SLOTS),
            f"{prefix}POLL_INITIAL_SECONDS": str(REAL_POLL_INITIAL_SECONDS / speedup),
            f"{prefix}POLL_MAX_SECONDS": str(REAL_POLL_MAX_SECONDS / speedup),
            f"{prefix}RATE_LIMIT_WAIT_SECONDS": str(
                REAL_RATE_LIMIT_WAIT_SECONDS / speedup
            ),
        }
    )
    return env


def run_case(case: Case, speedup: float, workdir: Path) -> CaseResult:
    """Run one backfill against a fresh simulator and measure it.

    Args:
        case: The backfill to measure.
        speedup: How many times faster than the real API the simulator runs.
        workdir: A fresh directory for the case's files.

    Returns:
        The case's figures.
    """
    duckdb_path = workdir / "bench.duckdb"
    with serve_in_thread(simulator_settings(case, speedup)) as simulator:
        command = [
            sys.executable,
            "-m",
            "pipelines.emailgistics_pipeline",
            "--start",
            case.start,
            "--end",
            case.end,
            "--base-url",
            simulator.base_url,
            "--now",
            SIMULATED_NOW,
            "--duckdb-path",
            str(duckdb_path),
            "--period",
            case.period,
            "--pipelines-dir",
            str(workdir / "pipelines"),
            "--no-progress",
        ]
        env = connector_environment(case, speedup, workdir)
        usage = run_process(command, env, workdir, workdir / "connector.log")
        api = read_api_usage(simulator.base_url)

    return _result(case, speedup, usage, api, _rows_loaded(duckdb_path))


def _result(
    case: Case, speedup: float, usage: ProcessUsage, api: ApiUsage, rows_loaded: int
) -> CaseResult:
    limits = AccountLimits(
        max_running_runs=RUN_SLOTS,
        requests_per_window=REQUESTS_PER_WINDOW,
        window_seconds=REAL_WINDOW_SECONDS / speedup,
    )
    bound = lower_bound(api.runs, limits)
    return CaseResult(
        name=case.name,
        mailboxes=case.mailboxes,
        exit_code=usage.exit_code,
        rows_loaded=rows_loaded,
        rows_expected=api.rows,
        runs=len(api.runs),
        wall_seconds=usage.wall_seconds,
        startup_seconds=max(0.0, api.first_request_epoch - usage.started_epoch),
        api_span_seconds=api.last_request_epoch - api.first_request_epoch,
        bound_seconds=bound.seconds,
        request_bound_seconds=bound.request_seconds,
        slot_bound_seconds=bound.slot_seconds,
        requests=api.requests,
        minimum_requests=minimum_requests(api.runs) if api.runs else 1,
        rate_limited=api.rate_limited,
        early_polls=api.early_polls,
        notice_lag_seconds=api.notice_lag_seconds,
        cpu_seconds=usage.cpu_seconds,
        peak_rss_mb=usage.peak_rss_mb,
        speedup=speedup,
    )


def _rows_loaded(duckdb_path: Path) -> int:
    if not duckdb_path.exists():
        return 0
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        schemas = connection.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_name = ? AND table_schema = ?",
            [PERFORMANCE_TABLE, DATASET_NAME],
        ).fetchall()
        total = 0
        for (schema,) in schemas:
            row = connection.execute(
                f'SELECT count(*) FROM "{schema}"."{PERFORMANCE_TABLE}"'
            ).fetchone()
            total += int(row[0]) if row else 0
    return total


HEADER = (
    "case",
    "rows",
    "runs",
    "wall s",
    "bound s",
    "wall/bound",
    "start-up s",
    "real wall/bound",
    "requests",
    "min req",
    "req ratio",
    "429s",
    "early polls",
    "notice lag s",
    "rows/s",
    "CPU s",
    "CPU/wall",
    "CPU/API time",
    "peak MiB",
)


def table_rows(results: Sequence[CaseResult]) -> list[tuple[str, ...]]:
    """Format the results as table cells, one tuple per case."""
    rows = []
    for result in results:
        rows_cell = f"{result.rows_loaded:,}"
        if result.rows_loaded != result.rows_expected:
            rows_cell += f" (of {result.rows_expected:,})"
        if result.exit_code:
            rows_cell += f" exit {result.exit_code}"
        rows.append(
            (
                result.name,
                rows_cell,
                str(result.runs),
                f"{result.wall_seconds:.1f}",
                f"{result.bound_seconds:.1f}",
                f"{result.ratio:.2f}",
                f"{result.startup_seconds:.1f}",
                f"{result.projected_ratio:.2f}",
                str(result.requests),
                str(result.minimum_requests),
                f"{result.request_ratio:.2f}",
                str(result.rate_limited),
                str(result.early_polls),
                f"{result.notice_lag_seconds:.2f}",
                f"{result.rows_per_second:,.0f}",
                f"{result.cpu_seconds:.1f}",
                f"{result.cpu_seconds / result.wall_seconds:.0%}",
                f"{result.cpu_share_of_api_time:.1%}",
                f"{result.peak_rss_mb:.0f}",
            )
        )
    return rows


def format_table(results: Sequence[CaseResult], markdown: bool) -> str:
    """Lay the results out as a plain or a Markdown table."""
    rows = [HEADER, *table_rows(results)]
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "|".join("---" for _ in HEADER) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )


def memory_note(results: Sequence[CaseResult]) -> str | None:
    """Compare peak memory of the largest case with a case about ten times smaller."""
    loaded = sorted((r for r in results if r.rows_loaded), key=lambda r: r.rows_loaded)
    if len(loaded) < 2:
        return None
    largest = loaded[-1]
    smaller = min(
        loaded[:-1], key=lambda r: abs(r.rows_loaded * 10 - largest.rows_loaded)
    )
    return (
        f"Peak memory: {largest.name} {largest.peak_rss_mb:.0f} MiB vs "
        f"{smaller.name} {smaller.peak_rss_mb:.0f} MiB "
        f"({largest.rows_loaded / smaller.rows_loaded:.1f}x the rows): "
        f"{largest.peak_rss_mb / smaller.peak_rss_mb:.2f}x."
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speedup", type=float, default=10.0)
    parser.add_argument(
        "--cases", nargs="*", help="substrings of case names (default: all)"
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    cases = [
        case
        for case in CASES
        if not args.cases or any(part in case.name for part in args.cases)
    ]
    results: list[CaseResult] = []
    RESULTS_DIR.mkdir(exist_ok=True)
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            result = run_case(case, args.speedup, Path(tmp))
            if result.exit_code:
                log = (Path(tmp) / "connector.log").read_text(errors="replace")
                print(f"{case.name}: exit {result.exit_code}\n{log[-3000:]}")
        results.append(result)
        print(format_table([result], markdown=False).splitlines()[-1], flush=True)

    print()
    print(
        f"Simulated API {args.speedup:g}x faster than real: "
        f"{REQUESTS_PER_WINDOW} requests per "
        f"{REAL_WINDOW_SECONDS / args.speedup:g} s, {RUN_SLOTS} run slots, "
        f"runs of {REAL_RUN_SECONDS / args.speedup:g} s + "
        f"{REAL_RUN_SECONDS_PER_1000_ROWS / args.speedup:g} s per 1000 rows."
    )
    print(format_table(results, markdown=args.markdown))
    note = memory_note(results)
    if note:
        print(note)
    (RESULTS_DIR / "backfill.json").write_text(
        json.dumps([asdict(result) for result in results], indent=2)
    )


if __name__ == "__main__":
    main()
