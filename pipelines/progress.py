"""Progress while a load runs: a live line on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from connector.summary import ProgressSnapshot

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 15.0


def describe(snapshot: ProgressSnapshot) -> str:
    """One line of counts, e.g. for a cron log."""
    windows_done = snapshot.windows_total - snapshot.windows_outstanding
    parts = [
        f"runs {snapshot.runs_submitted} submitted/{snapshot.runs_running} running/"
        f"{snapshot.runs_done} done",
        f"windows {windows_done}/{snapshot.windows_total}",
        f"rows {snapshot.rows_loaded} loaded/{snapshot.rows_fetched} fetched",
        f"{snapshot.requests} requests",
    ]
    if snapshot.windows_failed:
        parts.append(f"{snapshot.windows_failed} failed")
    if snapshot.rate_limited:
        parts.append(f"{snapshot.rate_limited} x 429")
    if snapshot.retries:
        parts.append(f"{snapshot.retries} retries")
    return " | ".join(parts)


class LiveProgress:
    """A single live status line on the terminal (rich)."""

    def __init__(self, console: Console) -> None:
        self._live = Live(console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, traceback)

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Redraws the status line."""
        self._live.update(Text(describe(snapshot), style="cyan"))


class LogProgress:
    """Logs the counts every `LOG_EVERY_SECONDS` while they change."""

    def __init__(self) -> None:
        self._last_logged = time.monotonic()
        self._last_line = ""

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Logs the counts when they changed and enough time has passed."""
        line = describe(snapshot)
        now = time.monotonic()
        if line != self._last_line and now - self._last_logged >= LOG_EVERY_SECONDS:
            logger.info("Progress: %s", line)
            self._last_logged = now
            self._last_line = line
