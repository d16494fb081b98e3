"""Command line: `python -m connector.simulator --port 8765 [options]`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from connector.simulator.server import serve
from connector.simulator.settings import SimulatorSettings

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Returns the command-line parser."""
    defaults = SimulatorSettings()
    parser = argparse.ArgumentParser(
        prog="emailgistics-simulator",
        description="Serve a local Emailgistics-compatible API on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--mailboxes", type=int, default=defaults.mailbox_count)
    parser.add_argument("--users", type=int, default=defaults.users_per_mailbox)
    parser.add_argument("--history-start", default=defaults.history_start)
    parser.add_argument("--clock", choices=("real", "manual"), default=defaults.clock)
    parser.add_argument("--now", default=None, help="simulated now, UTC ISO 8601")
    parser.add_argument("--run-seconds", type=float, default=defaults.run_seconds)
    parser.add_argument(
        "--requests-per-minute", type=int, default=defaults.requests_per_minute
    )
    parser.add_argument(
        "--rate-window-seconds", type=float, default=defaults.rate_window_seconds
    )
    parser.add_argument(
        "--max-running-runs", type=int, default=defaults.max_running_runs
    )
    parser.add_argument(
        "--late-attribution-minutes",
        type=float,
        default=defaults.late_attribution_minutes,
    )
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the simulator in the foreground."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    settings = SimulatorSettings(
        seed=args.seed,
        mailbox_count=args.mailboxes,
        users_per_mailbox=args.users,
        history_start=args.history_start,
        clock=args.clock,
        now=args.now,
        run_seconds=args.run_seconds,
        requests_per_minute=args.requests_per_minute,
        rate_window_seconds=args.rate_window_seconds,
        max_running_runs=args.max_running_runs,
        late_attribution_minutes=args.late_attribution_minutes,
    )
    print(
        f"Emailgistics simulator on http://127.0.0.1:{args.port} "
        f"(demo key: {settings.keys[0].key})",
        flush=True,
    )
    serve(settings, args.port, args.log_level.lower())
    return 0


if __name__ == "__main__":
    sys.exit(main())
