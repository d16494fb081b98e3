"""Report runs: submit, poll to done, follow the pages into a spool file.

At most `max_concurrent_runs` runs are in flight: a run holds a slot from its
submission until a poll sees it done (the API frees its slot then), and the
pages are fetched after the slot is released. Pages go straight to a per-window
JSON-lines spool file (one page a line), so memory stays flat and a window that
fails halfway leaves nothing to load.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from connector.client import ApiClient
from connector.config import LoadConfig
from connector.errors import (
    EmailgisticsError,
    MailboxNotFoundError,
    RateLimitedError,
    ReportRunFailed,
    ReportTimeoutError,
    ResultExpiredError,
    RetriableApiError,
)
from connector.periods import Window, parse_wall_time
from connector.polling import PollSchedule, duration_estimate
from connector.responses import Envelope, path_of
from connector.settings import POST_RETRY_WAIT_SECONDS, RESUBMIT_EXPIRED_ATTEMPTS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowJob:
    """One report run to make: a mailbox, a grain and a window of whole periods."""

    mailbox_id: str
    period: str
    window: Window
    time_zone: str

    def describe(self) -> str:
        """E.g. `mailbox 5e0c..., day 2024-01-01T00:00..2024-04-01T00:00`."""
        return f"mailbox {self.mailbox_id}, {self.period} {self.window.label()}"


@dataclass(frozen=True)
class FetchedWindow:
    """A window whose rows all sit in `spool_path`, ready to load.

    Attributes:
        data_cutoff: The result's `dataCutoffTimestamp` as a naive wall time;
            None when the whole window is final.
        rows: Rows kept (inside the window).
        dropped_rows: Rows the API returned outside the window, not loaded.
    """

    job: WindowJob
    spool_path: Path
    rows: int
    pages: int
    data_cutoff: datetime | None
    time_zone: str
    dropped_rows: int = 0


@dataclass
class RunnerCounters:
    """Run-level counts for progress display."""

    submitted: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    pages: int = 0
    rows: int = 0
    resubmitted: int = 0
    longest_run_seconds: float = 0.0


@dataclass
class _Slots:
    semaphore: asyncio.Semaphore
    held_elsewhere: set[asyncio.Task[None]] = field(default_factory=set)


class ReportRunner:
    """Turns `WindowJob`s into `FetchedWindow`s under the run-slot limit.

    Args:
        client: The shared API client.
        config: The validated settings.
        spool_dir: Where spool files are written.
    """

    def __init__(self, client: ApiClient, config: LoadConfig, spool_dir: Path) -> None:
        self._client = client
        self._config = config
        self._spool_dir = spool_dir
        self._slots = _Slots(asyncio.Semaphore(config.max_concurrent_runs))
        self.counters = RunnerCounters()
        self._polls = PollSchedule(config.poll_initial_seconds, config.poll_max_seconds)
        self._submissions = 0
        self.refused_mailboxes: set[str] = set()

    async def fetch(self, job: WindowJob) -> FetchedWindow:
        """Runs the report for one window and spools all its rows.

        A result that expires before every page is read is submitted again, a
        bounded number of times.

        Raises:
            EmailgisticsError: Any failure of this window (the caller decides
                whether it is fatal).
        """
        spool_path = self._spool_dir / _spool_name(job)
        for attempt in range(1, RESUBMIT_EXPIRED_ATTEMPTS + 1):
            try:
                return await self._fetch_once(job, spool_path)
            except ResultExpiredError:
                if attempt == RESUBMIT_EXPIRED_ATTEMPTS:
                    self.counters.failed += 1
                    raise ReportRunFailed(
                        f"The result for {job.describe()} kept expiring "
                        f"({attempt} runs); run again later."
                    ) from None
                self.counters.resubmitted += 1
                logger.warning(
                    "Result for %s expired; submitting it again (attempt %d)",
                    job.describe(),
                    attempt + 1,
                )
            except EmailgisticsError:
                self.counters.failed += 1
                spool_path.unlink(missing_ok=True)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch_once(self, job: WindowJob, spool_path: Path) -> FetchedWindow:
        envelope, order = await self._run_to_done(job)

        rows = dropped = pages = 0
        data_cutoff = envelope.data_cutoff
        time_zone = envelope.time_zone
        with spool_path.open("wb") as spool:
            while True:
                data_cutoff = data_cutoff or envelope.data_cutoff
                time_zone = time_zone or envelope.time_zone
                kept = [r for r in envelope.rows if _inside(r, job.window)]
                dropped += len(envelope.rows) - len(kept)
                if kept:
                    spool.write(orjson.dumps(kept))
                    spool.write(b"\n")
                rows += len(kept)
                pages += 1
                self.counters.pages += 1
                self.counters.rows += len(kept)
                if not envelope.next_url:
                    break
                envelope = await self._client.get_result(
                    envelope.next_url, kind="page", order=order
                )

        if dropped:
            logger.warning(
                "Dropped %d rows outside %s returned by the API",
                dropped,
                job.describe(),
            )
        logger.info("Fetched %s: %d rows in %d pages", job.describe(), rows, pages)
        return FetchedWindow(
            job=job,
            spool_path=spool_path,
            rows=rows,
            pages=pages,
            data_cutoff=parse_wall_time(data_cutoff) if data_cutoff else None,
            time_zone=time_zone or job.time_zone,
            dropped_rows=dropped,
        )

    async def _run_to_done(self, job: WindowJob) -> tuple[Envelope, int]:
        """Submits the run and polls it to done while holding a run slot.

        Polls follow `PollSchedule`: the documented cadence, but never before
        the run's progress says it can be done, nor long after it should be.

        Returns:
            The done envelope (it carries page 1) and the run's submission
            number, which orders its page requests behind older runs'.
        """
        await self._slots.semaphore.acquire()
        try:
            if job.mailbox_id in self.refused_mailboxes:
                raise MailboxNotFoundError(
                    f"Mailbox {job.mailbox_id} was refused (404) for another "
                    "window: it is not in the API key's mailbox allowlist.",
                    path="",
                    mailbox_id=job.mailbox_id,
                )
            # Timed from before the POST: the server's clock for the run starts
            # while the POST is in flight, so progress never looks slower.
            started = time.monotonic()
            envelope = await self._submit(job)
            submit_seconds = time.monotonic() - started
            self._submissions += 1
            order = self._submissions
            self.counters.submitted += 1
            self.counters.running += 1
            try:
                envelope, elapsed = await self._poll_to_end(
                    job, envelope, started, submit_seconds
                )
            finally:
                self.counters.running -= 1
            self.counters.longest_run_seconds = max(
                self.counters.longest_run_seconds, elapsed
            )
        finally:
            self._slots.semaphore.release()

        if envelope.status != "done":
            raise ReportRunFailed(
                f"The run for {job.describe()} ended with status "
                f"{envelope.status!r} ({envelope.error_code}: "
                f"{envelope.error_message}); run again later."
            )
        self.counters.done += 1
        logger.info(
            "Run for %s done after %.1fs (%s)",
            job.describe(),
            elapsed,
            path_of(envelope.self_url),
        )
        return envelope, order

    async def _poll_to_end(
        self, job: WindowJob, envelope: Envelope, started: float, submit_seconds: float
    ) -> tuple[Envelope, float]:
        """Polls a submitted run until it is no longer running.

        Returns:
            The last envelope and the seconds from submit to its poll.
        """
        timeout_seconds = self._config.job_timeout_seconds
        polls = 0
        elapsed = 0.0
        last_running: tuple[float, int | None] = (0.0, None)
        next_poll = started + self._polls.first_delay(submit_seconds, envelope.progress)
        while envelope.status == "running":
            if time.monotonic() - started > timeout_seconds:
                raise ReportTimeoutError(
                    f"The run for {job.describe()} was still running after "
                    f"{timeout_seconds:g}s (job_timeout_seconds); run again later."
                )
            await asyncio.sleep(max(0.0, next_poll - time.monotonic()))

            elapsed = time.monotonic() - started
            envelope = await self._client.get_result(envelope.self_url)
            polls += 1
            if envelope.status == "running":
                last_running = (elapsed, envelope.progress)
                delay = self._polls.next_delay(elapsed, envelope.progress, polls)
                next_poll = started + elapsed + delay

        if envelope.status == "done":
            running_elapsed, running_progress = last_running
            self._polls.record_duration(
                duration_estimate(elapsed, running_elapsed, running_progress)
            )
        return envelope, elapsed

    async def _submit(self, job: WindowJob) -> Envelope:
        """POSTs the run; after an uncertain failure retries once.

        A POST that timed out or got a 5xx may have started a run anyway; that
        run holds one of the account's slots until it finishes. So the caller's
        slot passes to that possible run for a while, and the retry waits for
        a slot of its own.
        """
        try:
            return await self._client.submit_report(
                job.mailbox_id, job.period, job.window
            )
        except RetriableApiError as exc:
            if exc.code == "connect" or isinstance(exc, RateLimitedError):
                # Refused before any run could start: no slot is at stake.
                logger.warning(
                    "Submit for %s started no run (%s); retrying", job.describe(), exc
                )
                await asyncio.sleep(self._post_retry_wait())
            else:
                self._pass_slot_to_possible_run()
                logger.warning(
                    "Submit for %s failed (%s); a run may have started. Retrying "
                    "once in %.1fs",
                    job.describe(),
                    exc,
                    self._post_retry_wait(),
                )
                await asyncio.sleep(self._post_retry_wait())
                await self._slots.semaphore.acquire()
        return await self._client.submit_report(job.mailbox_id, job.period, job.window)

    def _post_retry_wait(self) -> float:
        return min(POST_RETRY_WAIT_SECONDS, self._config.poll_initial_seconds * 2)

    def _pass_slot_to_possible_run(self) -> None:
        """Keeps the caller's slot taken for a while, then gives it back."""
        # How long a run we may have started really lives is unknowable (no
        # list of runs exists); twice the longest run seen so far, at least two
        # maximal poll intervals, is a guess. Tracking the account's 429s on
        # submit would let the hold end as soon as slots are evidently free.
        hold_seconds = min(
            self._config.job_timeout_seconds,
            max(
                2 * self.counters.longest_run_seconds, 2 * self._config.poll_max_seconds
            ),
        )
        logger.info("Counting a run slot as taken for %.0fs", hold_seconds)

        async def hold() -> None:
            try:
                await asyncio.sleep(hold_seconds)
            finally:
                self._slots.semaphore.release()

        task = asyncio.get_running_loop().create_task(hold())
        self._slots.held_elsewhere.add(task)
        task.add_done_callback(self._slots.held_elsewhere.discard)

    async def aclose(self) -> None:
        """Cancels slot-holding timers still waiting."""
        for task in list(self._slots.held_elsewhere):
            task.cancel()


def _inside(row: Any, window: Window) -> bool:
    if not isinstance(row, dict):
        return False
    start = row.get("startDateTime")
    if not isinstance(start, str):
        return False
    try:
        return window.contains(parse_wall_time(start))
    except ValueError:
        return False


def _spool_name(job: WindowJob) -> str:
    stamp = job.window.start.format("YYYYMMDDHHmm")
    return f"{job.mailbox_id}-{job.period}-{stamp}.jsonl"
