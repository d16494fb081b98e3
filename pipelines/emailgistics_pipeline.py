"""Command line: nightly incremental loads and backfills of Emailgistics reports.

    emailgistics-load                                   # nightly incremental run
    emailgistics-load --start 2024-01-01 --end 2024-07-01   # backfill [start, end)

Settings come from `.dlt/config.toml`, `.dlt/secrets.toml` and
`SOURCES__EMAILGISTICS__<KEY>` environment variables; the options below win
over them for this run.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import FrameType
from typing import Any

from dlt.common.pipeline import get_dlt_pipelines_dir
from rich.console import Console
from rich.logging import RichHandler

from connector.config import load_config
from connector.destination import DESTINATIONS
from connector.errors import (
    ConfigurationError,
    DestinationError,
    EmailgisticsError,
    FatalApiError,
    LoadInterrupted,
    PipelineLockedError,
    root_cause,
)
from connector.loading import RunOptions, run_load
from connector.periods import parse_instant, parse_user_time
from connector.redaction import SecretRedactingFilter
from connector.settings import DATASET_NAME, DEFAULT_DUCKDB_FILE, PERIODS
from connector.summary import LoadSummary
from pipelines.progress import LiveProgress, LogProgress

logger = logging.getLogger("pipelines.emailgistics_pipeline")

QUIET_LOGGERS = ("httpx", "httpcore", "connector.runner", "connector.client")
# Their DEBUG lines (lock polling, selector choice, connection pools) drown -v.
NOISY_LOGGERS = ("filelock", "asyncio", "urllib3")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# dlt formats its own logger with str.format fields; the same line as ours.
DLT_LOG_FORMAT = "{asctime} {levelname} {name}: {message}"

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_CONFIG = 2
EXIT_API = 3
EXIT_LOCKED = 4
EXIT_LOAD = 5
# 128 + the signal's number, as a shell reports a process a signal ended.
EXIT_INTERRUPTED = 128

EPILOG = """\
exit codes: 0 all loaded; 1 some mailboxes or windows failed (the others loaded);
2 bad settings or arguments; 3 the API refused the key or the request (400/401/403);
4 another run of this pipeline is in progress; 5 the destination failed;
130/143 interrupted by Ctrl-C/SIGTERM (what was committed stays; rerun to resume).
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `emailgistics-load`."""
    parser = argparse.ArgumentParser(
        prog="emailgistics-load",
        description=(
            "Load Emailgistics Mailbox User Performance reports into DuckDB or\n"
            "Postgres. Without --start/--end: a nightly incremental run from the\n"
            "last final period (minus lookback) to now. With them: a backfill of\n"
            "[start, end) in each mailbox's local time, resumable if interrupted."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--start", help="backfill start, local date or datetime (e.g. 2024-01-01)"
    )
    parser.add_argument(
        "--end", help="backfill end, exclusive (e.g. 2024-07-01 loads through June)"
    )
    parser.add_argument(
        "--period", choices=PERIODS, help="grain to load (default: config, 'day')"
    )
    parser.add_argument(
        "--mailbox",
        action="append",
        metavar="MAILBOX_ID",
        help="load only this mailbox (repeatable; default: every mailbox the key sees)",
    )
    parser.add_argument(
        "--destination", choices=DESTINATIONS, default="duckdb", help="default: duckdb"
    )
    parser.add_argument(
        "--dataset",
        default=DATASET_NAME,
        help=f"dataset/schema (default: {DATASET_NAME})",
    )
    parser.add_argument(
        "--duckdb-path",
        help=f"DuckDB file (default: DESTINATION__DUCKDB__CREDENTIALS or "
        f"./{DEFAULT_DUCKDB_FILE})",
    )
    parser.add_argument("--base-url", help="API base URL (default: config)")
    parser.add_argument(
        "--now",
        metavar="ISO",
        help="treat this instant as now (UTC unless offset given)",
    )
    parser.add_argument(
        "--pipelines-dir",
        help="dlt's working directory (default here: "
        f"{get_dlt_pipelines_dir()}; dlt uses ~/.dlt/pipelines, /var/dlt/pipelines "
        "as root, /tmp/dlt/pipelines without a home directory)",
    )
    parser.add_argument(
        "--wait-for-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run of the pipeline to finish (default: 0)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no live display on a terminal"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    # dlt sends anonymous usage data to an outside host on each load unless
    # told not to; .dlt/config.toml says so too, but the CLI may run elsewhere.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    is_live = console.is_terminal and not args.no_progress
    touched = [
        logging.getLogger(name) for name in (None, *QUIET_LOGGERS, *NOISY_LOGGERS)
    ]
    saved = [(lg, lg.handlers[:], lg.level) for lg in touched]
    redacting_filter = _setup_logging(console, is_live, args.verbose)
    received: list[int] = []
    previous_handler = _catch_sigterm(received)
    try:
        return _run(args, console, is_live, redacting_filter)
    except KeyboardInterrupt:
        return _fail(
            EXIT_INTERRUPTED + (received[0] if received else signal.SIGINT),
            "interrupted before anything was loaded; run the same command again.",
            prefix="",
        )
    except LoadInterrupted as exc:
        return _fail(
            EXIT_INTERRUPTED + (received[0] if received else signal.SIGINT),
            str(exc),
            prefix="",
        )
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        for lg, handlers, level in saved:
            lg.handlers, lg.level = handlers, level


def _catch_sigterm(received: list[int]) -> Any:
    """Turns SIGTERM into KeyboardInterrupt, so both stop the run the same way.

    Returns:
        The handler it replaced, or None off the main thread (nothing installed).
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, interrupt)


def _run(
    args: argparse.Namespace,
    console: Console,
    is_live: bool,
    redacting_filter: SecretRedactingFilter,
) -> int:
    try:
        config = load_config(
            {
                "period": args.period,
                "mailbox_ids": args.mailbox,
                "base_url": args.base_url,
            }
        )
        redacting_filter.add_secret(config.api_key.reveal())
        options = RunOptions(
            start=parse_user_time(args.start, "--start") if args.start else None,
            end=parse_user_time(args.end, "--end") if args.end else None,
            now=parse_instant(args.now, "--now") if args.now else None,
            destination=args.destination,
            dataset_name=args.dataset,
            duckdb_path=args.duckdb_path,
            pipelines_dir=args.pipelines_dir,
            lock_wait_seconds=args.wait_for_lock,
        )
        options.validate()
        reporter: AbstractContextManager[LiveProgress | LogProgress] = (
            LiveProgress(console) if is_live else LogProgress()
        )
        with reporter as progress:
            summary = run_load(config, options, progress=progress)
    except ConfigurationError as exc:
        return _fail(EXIT_CONFIG, str(exc))
    except PipelineLockedError as exc:
        return _fail(EXIT_LOCKED, str(exc))
    except FatalApiError as exc:
        return _fail(EXIT_API, str(exc))
    except DestinationError as exc:
        logger.debug("Load failed", exc_info=True)
        return _fail(EXIT_LOAD, str(exc))
    except LoadInterrupted:
        raise
    except EmailgisticsError as exc:
        return _fail(EXIT_PARTIAL, str(exc))
    except Exception as exc:
        logger.debug("Load failed", exc_info=True)
        cause = root_cause(exc)
        lines = str(cause).strip().splitlines()
        return _fail(
            EXIT_LOAD,
            f"unexpected failure ({type(cause).__name__}): "
            f"{lines[0] if lines else 'no message'} - nothing after the last "
            "completed load was committed; run with -v for details.",
        )

    _print_summary(summary)
    return EXIT_OK if summary.ok else EXIT_PARTIAL


def _print_summary(summary: LoadSummary) -> None:
    print(summary.render())


def _fail(code: int, message: str, prefix: str = "error: ") -> int:
    print(f"{prefix}{message}", file=sys.stderr)
    return code


def _setup_logging(
    console: Console, is_live: bool, verbose: bool
) -> SecretRedactingFilter:
    handler: logging.Handler
    os.environ.setdefault("RUNTIME__LOG_FORMAT", DLT_LOG_FORMAT)
    if verbose:
        os.environ["RUNTIME__LOG_LEVEL"] = "INFO"
    if is_live:
        handler = RichHandler(
            console=console,
            show_path=False,
            rich_tracebacks=False,
            log_time_format="[%Y-%m-%d %H:%M:%S]",
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    redacting_filter = SecretRedactingFilter()
    handler.addFilter(redacting_filter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request's full URL, query string included, at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if not verbose:
        # Per-run INFO lines drown a long backfill; the loader's lines remain.
        for name in ("connector.runner", "connector.client"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return redacting_filter


if __name__ == "__main__":
    sys.exit(main())
