"""`make demo`: a local simulator, a backfill and a nightly run into ./warehouse.duckdb.

Everything runs as subprocesses, exactly as a user would type it: the simulator
(`python -m connector.simulator`) on a free port, then `emailgistics-load`
(`python -m pipelines.emailgistics_pipeline`) twice, then a few rows are read
back from the warehouse.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import pendulum

DEMO_KEY = "sim-demo-key"
WAREHOUSE = Path("warehouse.duckdb")
BACKFILL_DAYS = 120
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def simulator(port: int) -> Iterator[str]:
    """Starts the simulator in a subprocess; yields its base URL."""
    command = [
        sys.executable,
        "-m",
        "connector.simulator",
        "--port",
        str(port),
        "--run-seconds",
        "1",
        "--log-level",
        "warning",
    ]
    print(f"$ python {shlex.join(command[1:])} &", flush=True)
    process = subprocess.Popen(command)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the simulator exited before it started listening")
        try:
            httpx.get(f"{base_url}/_sim/clock", timeout=1.0).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the simulator did not start in time")


def load(args: list[str], env: dict[str, str]) -> None:
    """Runs `emailgistics-load` with `args`, echoing the command line."""
    print(f"\n$ emailgistics-load {shlex.join(args)}", flush=True)
    command = [sys.executable, "-m", "pipelines.emailgistics_pipeline", *args]
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"emailgistics-load exited with {completed.returncode}")


def show_rows() -> None:
    """Prints a few rows and per-mailbox totals from the warehouse."""
    with duckdb.connect(str(WAREHOUSE), read_only=True) as connection:
        print("\nA few rows of emailgistics.mailbox_user_performance:", flush=True)
        connection.sql(
            """
            SELECT m.mailbox_name, u.user_name, p.start_date_time,
                   p.initial_replies, p.average_user_initial_reply_time,
                   p.closed_archived, p.is_provisional
            FROM emailgistics.mailbox_user_performance AS p
            JOIN emailgistics.mailboxes AS m USING (mailbox_id)
            LEFT JOIN emailgistics.mailbox_users AS u USING (mailbox_id, user_id)
            ORDER BY p.start_date_time DESC, m.mailbox_name, u.user_name
            LIMIT 8
            """
        ).show(max_width=160)
        connection.sql(
            """
            SELECT m.mailbox_name, count(*) AS rows,
                   sum(p.initial_replies) AS initial_replies,
                   count(*) FILTER (WHERE p.is_provisional) AS provisional_rows
            FROM emailgistics.mailbox_user_performance AS p
            JOIN emailgistics.mailboxes AS m USING (mailbox_id)
            GROUP BY ALL ORDER BY 1
            """
        ).show()


def main() -> int:
    """Runs the demo; returns the exit code."""
    started = time.monotonic()
    today = pendulum.today("UTC")
    backfill_start = today.subtract(days=BACKFILL_DAYS).to_date_string()
    backfill_end = today.subtract(days=2).to_date_string()

    with (
        tempfile.TemporaryDirectory(prefix="emailgistics-demo-") as pipelines_dir,
        simulator(free_port()) as base_url,
    ):
        env = {
            **os.environ,
            "SOURCES__EMAILGISTICS__API_KEY": DEMO_KEY,
            "SOURCES__EMAILGISTICS__BASE_URL": base_url,
            "SOURCES__EMAILGISTICS__POLL_INITIAL_SECONDS": "1",
        }
        common = ["--pipelines-dir", pipelines_dir, "--duckdb-path", str(WAREHOUSE)]
        print(
            "\nThe key and the base URL come from the environment: "
            "SOURCES__EMAILGISTICS__API_KEY and\n"
            f"SOURCES__EMAILGISTICS__BASE_URL={base_url}"
        )
        load(["--start", backfill_start, "--end", backfill_end, *common], env)
        load(common, env)
    show_rows()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f}s; data is in {WAREHOUSE}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
