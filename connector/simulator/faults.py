"""Injected faults: which request each one hits."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from connector.simulator.settings import Fault

logger = logging.getLogger(__name__)


@dataclass
class _FaultState:
    fault: Fault
    matched: int = 0


class FaultBook:
    """The active faults, each with a count of the requests it has matched."""

    def __init__(self, faults: list[Fault]) -> None:
        """Starts with `faults`, all counters at zero."""
        self._lock = threading.Lock()
        self._states = [_FaultState(f) for f in faults]

    def replace(self, faults: list[Fault]) -> None:
        """Replaces every fault (their counters restart)."""
        with self._lock:
            self._states = [_FaultState(f) for f in faults]
        logger.info("faults set: %s", [f.kind for f in faults])

    def to_json(self) -> list[dict[str, Any]]:
        """Returns the faults with their `matched` counts."""
        with self._lock:
            return [{**s.fault.to_dict(), "matched": s.matched} for s in self._states]

    def match(self, method: str, path: str, mailbox_id: str | None) -> Fault | None:
        """Counts a request against every fault it matches.

        Args:
            method: The request method.
            path: The request path (a fault matches by prefix).
            mailbox_id: The mailbox the request concerns, if known.

        Returns:
            The first fault whose window (`after+1 .. after+times`) contains
            this request, or None.
        """
        chosen = None
        with self._lock:
            for state in self._states:
                fault = state.fault
                if fault.method is not None and fault.method.upper() != method:
                    continue
                if not path.startswith(fault.path):
                    continue
                if fault.mailbox_id is not None and fault.mailbox_id != mailbox_id:
                    continue
                state.matched += 1
                is_due = fault.after < state.matched <= fault.after + fault.times
                if chosen is None and is_due:
                    chosen = fault
        return chosen
