"""The simulated clock: what "now" is for the simulated Emailgistics account."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

logger = logging.getLogger(__name__)


def parse_utc(value: str) -> float:
    """Parses an ISO 8601 instant into epoch seconds; a naive value is UTC.

    Raises:
        ValueError: The value is not an ISO 8601 datetime.
    """
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_utc(epoch_seconds: float) -> str:
    """Formats epoch seconds as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`."""
    text = datetime.fromtimestamp(epoch_seconds, UTC).isoformat()
    return text.replace("+00:00", "Z")


class SimClock:
    """A clock that either follows real time or stands still until moved.

    In `real` mode, now is the wall clock plus an offset (the gap to the
    configured start, plus every advance). In `manual` mode, now only
    changes through `advance` or `set`.
    """

    def __init__(
        self,
        mode: str,
        now: str | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Creates the clock.

        Args:
            mode: `real` or `manual`.
            now: The simulated now at start (UTC ISO 8601); default the wall
                clock.
            wall: Source of real time, replaceable in tests.
        """
        self._mode = mode
        self._wall = wall
        self._lock = threading.Lock()
        start = parse_utc(now) if now else wall()
        self._manual_now = start
        self._offset = start - wall()

    @property
    def mode(self) -> str:
        """`real` or `manual`."""
        return self._mode

    def now(self) -> float:
        """Returns the simulated now as epoch seconds."""
        with self._lock:
            if self._mode == "manual":
                return self._manual_now
            return self._wall() + self._offset

    def advance(self, seconds: float) -> float:
        """Moves the clock forward (or back, if negative) and returns now."""
        with self._lock:
            self._manual_now += seconds
            self._offset += seconds
        logger.info("clock advanced by %.1f s", seconds)
        return self.now()

    def set(self, now: str) -> float:
        """Sets the simulated now (UTC ISO 8601) and returns it."""
        target = parse_utc(now)
        with self._lock:
            self._manual_now = target
            self._offset = target - self._wall()
        logger.info("clock set to %s", now)
        return target
