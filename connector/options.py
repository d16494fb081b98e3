"""How one invocation runs, beyond the source's settings: range, clock, destination."""

from __future__ import annotations

from dataclasses import dataclass

import pendulum

from connector.errors import ConfigurationError
from connector.settings import DATASET_NAME
from connector.state import BACKFILL, NIGHTLY


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
