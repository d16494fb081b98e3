"""One invocation of the connector: plan, fetch in the background, load in batches.

`run_load` is the in-process entry point used by the command line, the demo and
the tests. It plans windows per (mailbox, period) from the committed state (or a
backfill range), hands them to the `Engine`, and loads completed windows in
batches, each with the state it earns, so an interrupted run resumes where the
last successful load left it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dlt
import httpx
import pendulum

from connector.config import LoadConfig
from connector.destination import (
    LOADER_FILE_FORMATS,
    CheckedDestination,
    check_destination,
    destination_failure,
    make_pipeline,
    pipeline_lock,
)
from connector.engine import Engine, Outcome, WindowFailure
from connector.errors import ConfigurationError, FatalApiError, LoadInterrupted
from connector.periods import format_wall_time, local_wall_time
from connector.runner import FetchedWindow, WindowJob
from connector.settings import (
    DATASET_NAME,
    LOAD_BATCH_ROWS,
    LOAD_BATCH_SECONDS,
    MAX_PAGE_SIZE,
)
from connector.sizing import MailboxSize, count_periods, periods_per_window
from connector.source import PERFORMANCE_TABLE, LoadBatch, emailgistics
from connector.state import (
    BACKFILL,
    NIGHTLY,
    Backfill,
    MailboxPlan,
    is_backfill_complete,
    pending_windows,
    plan_backfill,
    plan_nightly,
    read_entry,
)
from connector.summary import LoadSummary, MailboxSummary, ProgressSnapshot, plural

logger = logging.getLogger(__name__)


class ProgressReporter(Protocol):
    """Receives progress snapshots while a load runs."""

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Shows the latest counts."""


@dataclass(frozen=True)
class RunOptions:
    """How to run, beyond the source's settings.

    Attributes:
        start, end: A backfill range `[start, end)` in each mailbox's local wall
            time; both None means a nightly incremental run.
        now: Treat this instant as now (default: the real clock).
        lock_wait_seconds: How long to wait for another run's lock.
    """

    start: pendulum.DateTime | None = None
    end: pendulum.DateTime | None = None
    now: pendulum.DateTime | None = None
    destination: str = "duckdb"
    dataset_name: str = DATASET_NAME
    duckdb_path: str | None = None
    postgres_credentials: str | None = None
    pipelines_dir: str | None = None
    lock_wait_seconds: float = 0.0

    @property
    def mode(self) -> str:
        """`backfill` with dates, else `nightly`."""
        return BACKFILL if self.start is not None else NIGHTLY

    def validate(self) -> None:
        """Checks the backfill range.

        Raises:
            ConfigurationError: For a half-given or reversed range.
        """
        if (self.start is None) != (self.end is None):
            raise ConfigurationError(
                "A backfill needs both --start and --end (or neither, for a "
                "nightly run)."
            )
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ConfigurationError(
                f"--end {self.end.to_iso8601_string()} is not after --start "
                f"{self.start.to_iso8601_string()}."
            )
        if self.lock_wait_seconds < 0:
            raise ConfigurationError(
                f"--wait-for-lock must be 0 or more seconds, got "
                f"{self.lock_wait_seconds:g}."
            )


@dataclass
class _Batcher:
    """Collects fetched windows until a load is worth its fixed cost."""

    windows: list[FetchedWindow] = field(default_factory=list)
    rows: int = 0
    last_load_end: float = field(default_factory=time.monotonic)

    def add(self, fetched: FetchedWindow) -> None:
        self.windows.append(fetched)
        self.rows += fetched.rows

    def is_due(self, *, is_final_round: bool) -> bool:
        """Tells whether to load now.

        Args:
            is_final_round: Every window still to come is already in flight:
                loading at once keeps the load left after the last fetch small.
        """
        if not self.windows:
            return False
        waited = time.monotonic() - self.last_load_end
        return (
            is_final_round
            or self.rows >= LOAD_BATCH_ROWS
            or waited >= LOAD_BATCH_SECONDS
        )

    def take(self) -> list[FetchedWindow]:
        taken, self.windows, self.rows = self.windows, [], 0
        return taken


def run_load(
    config: LoadConfig,
    options: RunOptions | None = None,
    *,
    progress: ProgressReporter | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> LoadSummary:
    """Runs one nightly load or backfill and returns what it did.

    Window failures do not raise: they are in the summary (`summary.ok` is
    False) after every other window has loaded.

    Raises:
        ConfigurationError: Bad options, before any request.
        PipelineLockedError: Another run of the pipeline is in progress.
        FatalApiError: 400, 401 or 403; nothing further was loaded.
    """
    options = options or RunOptions()
    options.validate()
    now = options.now or pendulum.now("UTC")
    _check_initial_start(config, options, now)
    started = time.monotonic()
    target = check_destination(
        options.destination,
        options.dataset_name,
        duckdb_file=options.duckdb_path,
        postgres_credentials=options.postgres_credentials,
    )
    with pipeline_lock(options.pipelines_dir, options.lock_wait_seconds):
        pipeline = make_pipeline(
            options.destination,
            options.dataset_name,
            duckdb_file=options.duckdb_path,
            postgres_credentials=options.postgres_credentials,
            pipelines_dir=options.pipelines_dir,
        )
        summary = LoadSummary(mode=options.mode, period=config.period)
        try:
            _finish_pending_load(pipeline, target)
            resource_state = _resource_state(pipeline)
            _check_week_start(config, resource_state)
            with (
                tempfile.TemporaryDirectory(prefix="emailgistics-") as spool_dir,
                Engine(config, Path(spool_dir), transport) as engine,
            ):
                _run(
                    config,
                    options,
                    now,
                    pipeline,
                    engine,
                    resource_state,
                    progress,
                    target,
                    summary,
                )
        except KeyboardInterrupt:
            committed = sum(m.windows_loaded_now for m in summary.mailboxes.values())
            raise LoadInterrupted(committed) from None
    summary.duration_seconds = time.monotonic() - started
    return summary


def _run(
    config: LoadConfig,
    options: RunOptions,
    now: pendulum.DateTime,
    pipeline: dlt.Pipeline,
    engine: Engine,
    resource_state: dict[str, Any],
    progress: ProgressReporter | None,
    target: CheckedDestination,
    summary: LoadSummary,
) -> None:
    mailboxes = engine.list_mailboxes()
    selected, failures = _select_mailboxes(config, mailboxes)
    resume = _is_resume(config, options, selected, resource_state)
    lengths = _backfill_window_lengths(config, options, selected, now)
    plans = {
        m["mailboxId"]: _plan(
            config,
            options,
            m,
            resource_state,
            now,
            resume,
            lengths.get(m["mailboxId"]),
        )
        for m in selected
    }
    summary.failures.extend(failures)
    for mailbox in selected:
        plan = plans[mailbox["mailboxId"]]
        summary.mailboxes[plan.mailbox_id] = MailboxSummary(
            mailbox_id=plan.mailbox_id,
            mailbox_name=str(mailbox.get("mailboxName") or ""),
            time_zone=plan.time_zone,
            windows_planned=len(plan.windows),
            windows_loaded=len(plan.loaded),
        )

    for plan in plans.values():
        logger.debug(
            "Mailbox %s (%s): %s planned, %d already loaded",
            plan.mailbox_id,
            plan.time_zone,
            plural(len(plan.windows), "window"),
            len(plan.loaded),
        )
    jobs = [
        WindowJob(plan.mailbox_id, plan.period, window, plan.time_zone)
        for plan in plans.values()
        for window in pending_windows(plan)
    ]
    logger.info(
        "%s run: %s, %s to fetch (%s)",
        options.mode.capitalize(),
        plural(len(plans), "mailbox", "mailboxes"),
        plural(len(jobs), "window"),
        config.period,
    )
    engine.schedule(jobs)

    batcher = _Batcher()
    pending_mailboxes: list[dict[str, Any]] | None = selected
    outstanding = len(jobs)
    while outstanding or batcher.windows or pending_mailboxes is not None:
        for outcome in engine.take(timeout_seconds=0.25) if outstanding else []:
            outstanding -= 1
            _note_outcome(outcome, summary, batcher)
        if progress is not None:
            progress.update(_snapshot(engine, summary, outstanding))
        is_final_round = outstanding <= config.max_concurrent_runs
        if batcher.is_due(is_final_round=is_final_round) or (
            not outstanding and pending_mailboxes is not None
        ):
            _load(
                config,
                pipeline,
                plans,
                batcher.take(),
                pending_mailboxes,
                summary,
                now,
                target,
            )
            pending_mailboxes = None
            batcher.last_load_end = time.monotonic()

    for plan in plans.values():
        mailbox_summary = summary.mailboxes[plan.mailbox_id]
        mailbox_summary.final_through = plan.entry.get("final_through")
        mailbox_summary.windows_loaded = len(plan.loaded)
    summary.requests = engine.client.counters.requests
    summary.rate_limited = engine.client.counters.rate_limited
    summary.retries = engine.client.counters.retries
    if progress is not None:
        progress.update(_snapshot(engine, summary, 0))


def _check_initial_start(
    config: LoadConfig, options: RunOptions, now: pendulum.DateTime
) -> None:
    """Refuses an initial_start after now in every time zone (UTC+14 is the
    furthest ahead): each window would be empty and the run would say nothing."""
    if options.mode != NIGHTLY or config.initial_start is None:
        return
    latest_wall_time = local_wall_time(now, "Etc/GMT-14")
    if config.initial_start > latest_wall_time:
        raise ConfigurationError(
            f"initial_start {format_wall_time(config.initial_start)} is in the "
            f"future (now is {now.in_timezone('UTC').to_iso8601_string()}): set "
            "it to a past date, or unset it to start 30 days ago."
        )


def _check_week_start(config: LoadConfig, resource_state: dict[str, Any]) -> None:
    """Refuses weeks that start on another day than the weeks already loaded:
    both would sit under period 'week' and every week would count twice."""
    if config.period != "week":
        return
    for mailbox_id, entries in sorted(resource_state.get("mailboxes", {}).items()):
        if config.mailbox_ids is not None and mailbox_id not in config.mailbox_ids:
            continue
        used = (entries.get("week") or {}).get("week_start")
        if used and used != config.week_start:
            raise ConfigurationError(
                f"week_start is {config.week_start!r} but the week rows of mailbox "
                f"{mailbox_id} were loaded with weeks starting on {used!r}; both "
                f"would count every week twice. Keep week_start = {used!r}, or load "
                "weeks into a new dataset with its own dlt state (--dataset NAME "
                "--pipelines-dir DIR)."
            )


def _finish_pending_load(pipeline: dlt.Pipeline, target: CheckedDestination) -> None:
    """Syncs with the destination and loads a package an interrupted run left.

    Such a package holds rows and the state they earn, committed together or
    not at all. Left pending, dlt would load it in place of the next batch and
    silently skip that batch's extraction.
    """
    try:
        pipeline.sync_destination()
        if pipeline.has_pending_data:
            logger.warning(
                "Finishing the load an interrupted run left pending (its rows "
                "and state commit together)"
            )
            pipeline.run()
    except Exception as exc:
        _reraise_interrupt(exc)
        raise destination_failure(target, exc) from exc


def _reraise_interrupt(error: BaseException) -> None:
    """dlt wraps a KeyboardInterrupt inside a step into PipelineStepFailed."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        seen.add(id(current))
        current = current.__cause__ or current.__context__


def _note_outcome(outcome: Outcome, summary: LoadSummary, batcher: _Batcher) -> None:
    if isinstance(outcome, WindowFailure):
        if isinstance(outcome.error, FatalApiError):
            raise outcome.error
        logger.error("%s failed: %s", outcome.job.describe(), outcome.error)
        summary.add_failure(
            outcome.job.mailbox_id, f"{outcome.job.describe()}: {outcome.error}"
        )
        return
    batcher.add(outcome)


def _load(
    config: LoadConfig,
    pipeline: dlt.Pipeline,
    plans: dict[str, MailboxPlan],
    windows: list[FetchedWindow],
    mailboxes: list[dict[str, Any]] | None,
    summary: LoadSummary,
    now: pendulum.DateTime,
    target: CheckedDestination,
) -> None:
    updates: list[tuple[str, str, dict[str, Any]]] = []
    for fetched in sorted(windows, key=lambda f: (f.job.mailbox_id, f.job.window)):
        plan = plans[fetched.job.mailbox_id]
        entry = plan.record(fetched.job.window, fetched.data_cutoff, now, fetched.rows)
        updates.append((plan.mailbox_id, plan.period, entry))
    batch = LoadBatch(
        windows=windows,
        state_updates=updates,
        mailboxes=mailboxes,
        week_start=config.week_start,
    )

    rows = sum(f.rows for f in windows)
    load_started = time.monotonic()
    try:
        pipeline.run(
            emailgistics(config, batch),
            loader_file_format=LOADER_FILE_FORMATS[
                pipeline.destination.destination_name
            ],
        )
    except Exception as exc:
        _reraise_interrupt(exc)
        raise destination_failure(target, exc) from exc
    logger.info(
        "Loaded %s, %s in %.1fs",
        plural(len(windows), "window"),
        plural(rows, "row"),
        time.monotonic() - load_started,
    )

    summary.loads += 1
    for fetched in windows:
        mailbox_summary = summary.mailboxes[fetched.job.mailbox_id]
        mailbox_summary.add_window(fetched.job.window, fetched.rows)
        summary.rows_loaded += fetched.rows
        fetched.spool_path.unlink(missing_ok=True)


def _select_mailboxes(
    config: LoadConfig, mailboxes: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    by_id = {str(m.get("mailboxId")): m for m in mailboxes if m.get("mailboxId")}
    if config.mailbox_ids is None:
        return list(by_id.values()), []
    failures = [
        f"mailbox {mailbox_id}: not among the mailboxes this API key can see "
        "(check mailbox_ids or the key's allowlist)"
        for mailbox_id in config.mailbox_ids
        if mailbox_id not in by_id
    ]
    if len(failures) == len(config.mailbox_ids):
        raise ConfigurationError(
            f"No mailbox matched: none of {', '.join(config.mailbox_ids)} is among "
            f"the {plural(len(by_id), 'mailbox', 'mailboxes')} this API key can "
            "see. Check --mailbox / mailbox_ids, or the key's mailbox allowlist."
        )
    return [by_id[m] for m in config.mailbox_ids if m in by_id], failures


def _is_resume(
    config: LoadConfig,
    options: RunOptions,
    selected: list[dict[str, Any]],
    resource_state: dict[str, Any],
) -> bool:
    """A rerun of a backfill resumes (skips every window already loaded) unless
    every selected mailbox completed that exact range: then it is a refresh."""
    if options.start is None or options.end is None or not selected:
        return True
    backfill = Backfill(options.start, options.end)
    is_refresh = all(
        is_backfill_complete(
            read_entry(resource_state, str(m["mailboxId"]), config.period), backfill
        )
        for m in selected
    )
    if is_refresh:
        logger.info(
            "Every selected mailbox already loaded this range: fetching it all "
            "again (refresh)"
        )
    return not is_refresh


def _plan(
    config: LoadConfig,
    options: RunOptions,
    mailbox: dict[str, Any],
    resource_state: dict[str, Any],
    now: pendulum.DateTime,
    resume: bool = True,
    window_periods: int | None = None,
) -> MailboxPlan:
    mailbox_id = str(mailbox["mailboxId"])
    time_zone = str(mailbox.get("timeZone") or "UTC")
    entry = read_entry(resource_state, mailbox_id, config.period)
    if entry.get("time_zone") and entry["time_zone"] != time_zone:
        logger.warning(
            "Mailbox %s changed time zone from %s to %s; using the new one",
            mailbox_id,
            entry["time_zone"],
            time_zone,
        )
    if options.start is not None and options.end is not None:
        if window_periods is not None:
            config = config.replace(
                periods_per_window={
                    **config.periods_per_window,
                    config.period: window_periods,
                }
            )
        backfill = Backfill(options.start, options.end)
        return plan_backfill(
            config, mailbox_id, time_zone, entry, backfill, now, resume=resume
        )
    return plan_nightly(config, mailbox_id, time_zone, entry, now)


def _backfill_window_lengths(
    config: LoadConfig,
    options: RunOptions,
    mailboxes: list[dict[str, Any]],
    now: pendulum.DateTime,
) -> dict[str, int]:
    """Periods per run for each mailbox of a backfill (none for a nightly run)."""
    if options.start is None or options.end is None:
        return {}
    ids = [str(m["mailboxId"]) for m in mailboxes]
    if config.window_periods is not None:
        return dict.fromkeys(ids, config.window_periods)

    end = min(options.end, now.naive())
    periods = count_periods(options.start, end, config.period)
    sizes = {
        str(m["mailboxId"]): MailboxSize(
            periods=periods,
            users=len(config.users) if config.users else len(m.get("users") or []),
        )
        for m in mailboxes
    }
    cap = config.periods_per_window[config.period]
    lengths = {
        mailbox_id: min(length, cap)
        for mailbox_id, length in periods_per_window(
            sizes,
            config.window_target_rows,
            config.max_concurrent_runs,
            MAX_PAGE_SIZE,
        ).items()
    }
    logger.info(
        "Backfill windows of %s %s(s) for %d mailboxes",
        ", ".join(str(n) for n in sorted(set(lengths.values()))) or "no",
        config.period,
        len(ids),
    )
    return lengths


def _resource_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    sources = pipeline.state.get("sources", {})
    source_state = sources.get(pipeline.default_schema_name or "emailgistics", {})
    if not source_state:
        source_state = sources.get("emailgistics", {})
    resources = source_state.get("resources", {})
    state = resources.get(PERFORMANCE_TABLE, {})
    return state if isinstance(state, dict) else {}


def _snapshot(
    engine: Engine, summary: LoadSummary, outstanding: int
) -> ProgressSnapshot:
    runner = engine.runner.counters
    client = engine.client.counters
    return ProgressSnapshot(
        runs_submitted=runner.submitted,
        runs_running=runner.running,
        runs_done=runner.done,
        windows_total=engine.scheduled,
        windows_outstanding=outstanding,
        windows_failed=runner.failed,
        pages=runner.pages,
        rows_fetched=runner.rows,
        rows_loaded=summary.rows_loaded,
        loads=summary.loads,
        requests=client.requests,
        rate_limited=client.rate_limited,
        retries=client.retries,
    )
