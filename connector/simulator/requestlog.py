"""The log of every public API request, for tests to inspect."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

MAX_LOGGED_REQUESTS = 100_000


@dataclass
class RequestRecord:
    """One request: it names the key, never holds its value."""

    method: str
    path: str
    query: str
    status: int
    time: float
    sim_time: str
    key_name: str | None
    run_id: str | None = None
    fault: str | None = None
    duration_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Returns the record as `GET /_sim/requests` lists it."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "time": self.time,
            "sim_time": self.sim_time,
            "key_name": self.key_name,
            "run_id": self.run_id,
            "fault": self.fault,
            "duration_seconds": round(self.duration_seconds, 6),
        }


class RequestLog:
    """A bounded, thread-safe list of request records."""

    def __init__(self) -> None:
        """Creates an empty log."""
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Adds a record; past the cap the oldest tenth is dropped."""
        with self._lock:
            self._records.append(record)
            if len(self._records) > MAX_LOGGED_REQUESTS:
                del self._records[: MAX_LOGGED_REQUESTS // 10]

    def to_json(self) -> list[dict[str, Any]]:
        """Returns every record, oldest first."""
        with self._lock:
            return [r.to_json() for r in self._records]

    def clear(self) -> None:
        """Forgets every record."""
        with self._lock:
            self._records.clear()
