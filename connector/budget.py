"""The account's request budget: at most N requests in any window, by priority.

The API counts every call against one budget per account (100 a minute), in
a window that slides. A request counts from the moment it is sent until a
full window after its response arrived: the server saw it somewhere in
between, so spacing by response times can never put more than N requests in
any window the server looks at, whatever the network's delays. That allows
the full burst of N the window permits, which evenly spaced requests give
away.

When requests wait for the budget, the most useful go first: submits (they
keep the run slots busy), then polls (a run found done frees its slot and
carries its first page), then pages, the oldest run's first so windows
complete and load early. Within a class, first come first served.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

PRIORITY_SUBMIT = 0
PRIORITY_POLL = 1
PRIORITY_PAGE = 2

Priority = tuple[int, int]


class RequestBudget:
    """Grants permission to send, never more than ``limit`` per window.

    Args:
        limit: Requests allowed in any window.
        window_seconds: The window's length.
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window_seconds = window_seconds
        self._clock = clock
        self._in_flight = 0
        self._finished: deque[float] = deque()
        self._waiters: list[tuple[Priority, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def used(self) -> int:
        """Requests that count against the budget right now."""
        self._forget_expired()
        return self._in_flight + len(self._finished)

    @asynccontextmanager
    async def slot(self, priority: Priority) -> AsyncIterator[None]:
        """Wait for the budget, then hold one request's place while it is sent.

        Args:
            priority: ``(class, order)``; lower goes first.
        """
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: Priority) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._grant()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._in_flight -= 1
                self._grant()
            raise

    def _release(self) -> None:
        self._in_flight -= 1
        self._finished.append(self._clock())
        self._grant()

    def _forget_expired(self) -> None:
        horizon = self._clock() - self._window_seconds
        while self._finished and self._finished[0] <= horizon:
            self._finished.popleft()

    def _grant(self) -> None:
        self._forget_expired()
        while self._waiters and self._in_flight + len(self._finished) < self._limit:
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self._in_flight += 1
            future.set_result(None)
        self._waiters = [w for w in self._waiters if not w[2].done()]
        heapq.heapify(self._waiters)
        if self._waiters and self._finished and self._timer is None:
            delay = self._finished[0] + self._window_seconds - self._clock()
            self._timer = asyncio.get_running_loop().call_later(
                max(0.0, delay), self._on_timer
            )

    def _on_timer(self) -> None:
        self._timer = None
        self._grant()
