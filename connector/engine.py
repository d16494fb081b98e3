"""One background thread with one event loop for every API call of a load.

The main thread plans and loads; this engine submits, polls and pages for all
mailboxes and windows at once, so fetching never waits for a load to finish.
Outcomes (a fetched window or a failure) arrive on a thread-safe queue in the
order they complete.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from connector.client import ApiClient
from connector.config import LoadConfig
from connector.errors import EmailgisticsError, MailboxNotFoundError, root_cause
from connector.runner import FetchedWindow, ReportRunner, WindowJob

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class WindowFailure:
    """A window that could not be fetched, and why."""

    job: WindowJob
    error: EmailgisticsError


Outcome = FetchedWindow | WindowFailure


class Engine:
    """Runs the async client and runner on a private loop in a daemon thread.

    Use as a context manager; leaving it cancels whatever is still in flight.

    Args:
        config: The validated settings.
        spool_dir: Where fetched pages are spooled.
        transport: An httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        config: LoadConfig,
        spool_dir: Path,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="emailgistics-engine", daemon=True
        )
        self._thread.start()
        self.client: ApiClient = self.call(_make_client(config, transport))
        self.runner = ReportRunner(self.client, config, spool_dir)
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._refused = self.runner.refused_mailboxes
        self.scheduled = 0

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs a coroutine on the engine's loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def list_mailboxes(self) -> list[dict[str, Any]]:
        """The mailbox list, fetched on the engine's loop."""
        return self.call(self.client.list_mailboxes())

    def schedule(self, jobs: list[WindowJob]) -> None:
        """Starts fetching `jobs`; their outcomes arrive on `outcomes`."""
        self.scheduled += len(jobs)
        self._loop.call_soon_threadsafe(self._start_tasks, jobs)

    def _start_tasks(self, jobs: list[WindowJob]) -> None:
        for job in jobs:
            task = self._loop.create_task(self._fetch(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch(self, job: WindowJob) -> None:
        if job.mailbox_id in self._refused:
            self.outcomes.put(WindowFailure(job, _refused_error(job.mailbox_id)))
            return
        try:
            fetched = await self.runner.fetch(job)
        except MailboxNotFoundError as exc:
            self._refused.add(job.mailbox_id)
            self.outcomes.put(WindowFailure(job, exc))
        except EmailgisticsError as exc:
            self.outcomes.put(WindowFailure(job, exc))
        except Exception as exc:
            logger.exception("Unexpected failure fetching %s", job.describe())
            cause = root_cause(exc)
            self.outcomes.put(
                WindowFailure(
                    job,
                    EmailgisticsError(
                        f"{job.describe()}: {type(cause).__name__}: {cause}"
                    ),
                )
            )
        else:
            self.outcomes.put(fetched)

    def take(self, timeout_seconds: float) -> list[Outcome]:
        """Waits up to `timeout_seconds` for one outcome, then drains the queue."""
        try:
            taken = [self.outcomes.get(timeout=timeout_seconds)]
        except queue.Empty:
            return []
        while True:
            try:
                taken.append(self.outcomes.get_nowait())
            except queue.Empty:
                return taken

    def close(self) -> None:
        """Cancels pending work, closes the client and stops the loop."""
        if not self._thread.is_alive():
            return
        try:
            self.call(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    async def _shutdown(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.runner.aclose()
        await self.client.aclose()


async def _make_client(
    config: LoadConfig, transport: httpx.AsyncBaseTransport | None
) -> ApiClient:
    # Built on the engine's loop: the limiter and the connection pool bind to it.
    return ApiClient(config, transport)


def _refused_error(mailbox_id: str) -> MailboxNotFoundError:
    return MailboxNotFoundError(
        f"Mailbox {mailbox_id} was refused (404) for an earlier window: it is not "
        "in the API key's mailbox allowlist, or no longer exists.",
        path="",
        mailbox_id=mailbox_id,
    )
