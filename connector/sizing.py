"""How many periods one report run of a backfill covers.

A run costs a submit and at least one poll whatever its size, and the API
takes a fixed time to start each one, so tiny runs waste requests and run
slots. A huge run holds a slot long after the others are done and leaves the
request budget idle at the end. The backfill's windows are therefore sized
from the range, the grain and the mailboxes' user counts:

- a run should return at most ``target_rows`` rows, estimated as one row per
  user (plus the "unknown" user) per period, an upper bound since users with
  no activity in a period have no row;
- the backfill should have at least as many runs as the account has run
  slots, so a small backfill still keeps every slot busy, as long as each
  run still fills a page (``min_rows``): splitting smaller saves no time;
- within that, as few runs as possible: each mailbox gets its share of the
  runs in proportion to its estimated rows, and every window of a mailbox
  has the same number of periods.

The caller caps the result at `periods_per_window` for the grain, and
`window_periods`, when set, replaces it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

_DAYS_PER_PERIOD = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}


@dataclass(frozen=True)
class MailboxSize:
    """What sizing needs to know about one mailbox of a backfill.

    Attributes:
        periods: Periods of the grain in the mailbox's backfill range.
        users: Users listed for the mailbox (active or not).
    """

    periods: int
    users: int

    @property
    def estimated_rows(self) -> int:
        """At most one row per user, plus "unknown", per period."""
        return self.periods * (self.users + 1)


def periods_per_window(
    mailboxes: Mapping[str, MailboxSize],
    target_rows: int,
    run_slots: int,
    min_rows: int,
) -> dict[str, int]:
    """Choose each mailbox's window length, in periods, for one backfill.

    Args:
        mailboxes: The mailboxes of the backfill, by id.
        target_rows: The most rows one run should return (estimated).
        run_slots: Report runs the account may have in flight.
        min_rows: The fewest rows worth a run of its own (a page).

    Returns:
        Periods per window for every mailbox with a non-empty range.
    """
    sized = {key: size for key, size in mailboxes.items() if size.periods > 0}
    total_rows = sum(size.estimated_rows for size in sized.values())
    if not sized:
        return {}
    runs_wanted = max(
        math.ceil(total_rows / target_rows), min(run_slots, total_rows // min_rows)
    )

    lengths: dict[str, int] = {}
    for key, size in sized.items():
        share = round(runs_wanted * size.estimated_rows / total_rows)
        by_rows = math.ceil(size.estimated_rows / target_rows)
        windows = min(size.periods, max(1, share, by_rows))
        lengths[key] = math.ceil(size.periods / windows)
    return lengths


def count_periods(start: datetime, end: datetime, period: str) -> int:
    """Count, roughly, the periods of the grain in ``[start, end)``.

    Args:
        start: The range's start.
        end: The range's end.
        period: `hour`, `day`, `week` or `month`.

    Returns:
        The number of periods, rounded up; 0 for an empty range.
    """
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return 0
    if period == "hour":
        return math.ceil(seconds / 3600)
    return math.ceil(seconds / 86400 / _DAYS_PER_PERIOD[period])
