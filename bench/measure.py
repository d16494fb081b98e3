"""What one benchmark case measured: the connector process and the simulator's logs.

The connector runs as a child process, so its CPU time and peak memory come
from the kernel's accounting of that one child (``os.wait4``); the simulator
runs in the benchmark's own process and never counts as "our side". The
simulator's request log and run list give the requests, the 429s, and the
real durations and sizes of the runs that feed the lower bound.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.lower_bound import RunCost, pages_for_rows

API_PREFIX = "/api/v1/"


@dataclass(frozen=True)
class ProcessUsage:
    """What the connector process used.

    Attributes:
        exit_code: The process's exit status.
        started_epoch: When it was started (epoch seconds).
        wall_seconds: From start to exit.
        cpu_seconds: User plus system CPU time of the process.
        peak_rss_mb: Its peak resident memory in MiB.
        output: Its combined stdout and stderr.
    """

    exit_code: int
    started_epoch: float
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str


@dataclass(frozen=True)
class ApiUsage:
    """What the simulator saw.

    Attributes:
        requests: Calls to the public API (``/api/v1/...``).
        rate_limited: Of those, how many were answered 429.
        early_polls: Result GETs sent while their run was still running.
        notice_lag_seconds: Mean time from a run's finish to the first
            request that could see it done.
        first_request_epoch: When the first public call arrived.
        last_request_epoch: When the last one arrived.
        runs: Each report run's server-side duration and page count.
        rows: Rows across every run's result.
    """

    requests: int
    rate_limited: int
    early_polls: int
    notice_lag_seconds: float
    first_request_epoch: float
    last_request_epoch: float
    runs: tuple[RunCost, ...]
    rows: int


def run_process(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path
) -> ProcessUsage:
    """Run ``command`` to completion and account for its resources.

    Args:
        command: The program and its arguments.
        env: Its whole environment.
        cwd: Its working directory.
        log_path: Where its stdout and stderr go.

    Returns:
        Its exit code, wall time, CPU time and peak memory.
    """
    with log_path.open("wb") as log:
        started_epoch = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=log, stderr=log
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall_seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)

    return ProcessUsage(
        exit_code=process.returncode,
        started_epoch=started_epoch,
        wall_seconds=wall_seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        output=log_path.read_text(errors="replace"),
    )


def read_api_usage(base_url: str) -> ApiUsage:
    """Read the simulator's request log and run list after a backfill.

    Args:
        base_url: The simulator's base URL.

    Returns:
        The requests made, the 429s, and every run's duration and pages.
    """
    with httpx.Client(base_url=base_url, timeout=120.0) as client:
        log = client.get("/_sim/requests").raise_for_status().json()["requests"]
        listed = client.get("/_sim/runs").raise_for_status().json()["runs"]

        public = [entry for entry in log if entry["path"].startswith(API_PREFIX)]
        times = [float(entry["time"]) for entry in public] or [0.0]
        early_polls, notice_lag = _poll_timing(public, listed)
        runs: list[RunCost] = []
        total_rows = 0
        for run in listed:
            rows = int(run["rows"])
            total_rows += rows
            runs.append(
                RunCost(
                    duration_seconds=_run_duration(run),
                    pages=pages_for_rows(rows),
                )
            )

    return ApiUsage(
        requests=len(public),
        rate_limited=sum(1 for entry in public if entry["status"] == 429),
        early_polls=early_polls,
        notice_lag_seconds=notice_lag,
        first_request_epoch=min(times),
        last_request_epoch=max(times),
        runs=tuple(runs),
        rows=total_rows,
    )


def _poll_timing(
    log: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]]
) -> tuple[int, float]:
    done_times = {
        run["id"]: float(run["done_time"])
        for run in runs
        if run.get("done_time") is not None
    }
    early = 0
    first_after_done: dict[str, float] = {}
    for entry in log:
        run_id = entry.get("run_id")
        if entry["method"] != "GET" or run_id not in done_times:
            continue
        sent = float(entry["time"])
        if sent < done_times[run_id]:
            early += 1
        elif run_id not in first_after_done:
            first_after_done[run_id] = sent - done_times[run_id]
    lags = list(first_after_done.values())
    return early, (sum(lags) / len(lags) if lags else 0.0)


def _run_duration(run: Mapping[str, Any]) -> float:
    done = run.get("done_time")
    if done is None:
        return 0.0
    return max(0.0, float(done) - float(run["created_time"]))
