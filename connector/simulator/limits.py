"""Account limits: the sliding-window request rate."""

from __future__ import annotations

import logging
import threading
from collections import deque

logger = logging.getLogger(__name__)


class SlidingWindowLimiter:
    """Allows at most `limit` requests in any window of `window_seconds`.

    The window slides: a request is refused when `limit` accepted requests
    already fall within the last `window_seconds`. Refused requests are not
    counted, so a client that keeps retrying gets through as soon as the
    oldest accepted request leaves the window.
    """

    def __init__(self) -> None:
        """Creates a limiter with no history."""
        self._accepted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def try_acquire(
        self, account: str, now: float, limit: int, window_seconds: float
    ) -> bool:
        """Counts one request for `account` unless that would exceed the limit.

        Returns:
            True if the request is within the limit (and was counted).
        """
        with self._lock:
            accepted = self._accepted.setdefault(account, deque())
            while accepted and accepted[0] <= now - window_seconds:
                accepted.popleft()
            if len(accepted) >= limit:
                return False
            accepted.append(now)
            return True

    def reset(self) -> None:
        """Forgets every counted request."""
        with self._lock:
            self._accepted.clear()
