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
from connector.errors import FatalApiError, LoadInterrupted, reraise_interrupt
from connector.options import RunOptions
from connector.planning import plan_mailboxes
from connector.preflight import (
    check_initial_start,
    check_week_start,
    finish_pending_load,
    select_mailboxes,
)
from connector.runner import FetchedWindow, WindowJob
from connector.settings import LOAD_BATCH_ROWS, LOAD_BATCH_SECONDS
from connector.source import PERFORMANCE_TABLE, LoadBatch, emailgistics
from connector.state import MailboxPlan, pending_windows
from connector.summary import LoadSummary, MailboxSummary, ProgressSnapshot, plural

__all__ = ["ProgressReporter", "RunOptions", "run_load"]

logger = logging.getLogger(__name__)


class ProgressReporter(Protocol):
    """Receives progress snapshots while a load runs."""

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Shows the latest counts."""


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
    check_initial_start(config, options, now)
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
            finish_pending_load(pipeline, target)
            resource_state = _resource_state(pipeline)
            check_week_start(config, resource_state)
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
    selected, failures = select_mailboxes(config, mailboxes)
    plans = plan_mailboxes(config, options, selected, resource_state, now)
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
        reraise_interrupt(exc)
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
