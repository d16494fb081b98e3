"""Local wall-clock arithmetic for one mailbox zone: days, hours, periods.

Days are identified by their proleptic Gregorian ordinal (`date.toordinal`)
and instants by integer epoch seconds. Every period is a set of whole local
days (day, week, month) or one local wall-clock hour:

- an hour bucket runs from the first instant of a wall hour to the first
  instant of the next existing wall hour, so the hour skipped in spring has
  no bucket and the hour repeated in autumn is one bucket of two real hours;
- a day runs from local midnight to the next local midnight (23, 24 or 25
  real hours);
- a week is 7 local days anchored at the request's start date;
- a month is a calendar month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

PERIODS = ("hour", "day", "week", "month")
BUSINESS_OPEN_HOUR = 8
BUSINESS_CLOSE_HOUR = 18


@dataclass(frozen=True)
class Period:
    """One reporting period.

    Attributes:
        label: The period's start as naive local `YYYY-MM-DDTHH:MM:SS`.
        first_day: Ordinal of the first local day the period covers.
        end_day: Ordinal of the first day after it (equal to `first_day + 1`
            for an hour period, which covers part of `first_day`).
        hour: The wall hour for an hour period, else None.
        start: First instant (epoch seconds).
        end: First instant after the period (epoch seconds).
    """

    label: str
    first_day: int
    end_day: int
    hour: int | None
    start: int
    end: int


def _label(day: int, hour: int = 0) -> str:
    return f"{date.fromordinal(day).isoformat()}T{hour:02d}:00:00"


class LocalCalendar:
    """Cached wall-clock boundaries of one IANA zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        """Creates the calendar for `zone`."""
        self.zone = zone
        self._day_starts: dict[int, int] = {}
        self._hours: dict[int, tuple[tuple[int, int, int], ...]] = {}
        self._business: dict[int, tuple[int, int] | None] = {}

    def to_epoch(self, local: datetime) -> int:
        """Returns the instant of a naive local wall time (earlier one if repeated).

        A wall time in the spring gap maps forward by the gap's length.
        """
        return int(local.replace(tzinfo=self.zone, fold=0).timestamp())

    def to_local(self, epoch_seconds: float) -> datetime:
        """Returns the naive local wall time of an instant."""
        return (
            datetime.fromtimestamp(epoch_seconds, UTC)
            .astimezone(self.zone)
            .replace(tzinfo=None)
        )

    def day_start(self, day: int) -> int:
        """Returns the instant of local midnight starting `day`."""
        start = self._day_starts.get(day)
        if start is None:
            start = self.to_epoch(datetime.combine(date.fromordinal(day), time()))
            self._day_starts[day] = start
        return start

    def day_of(self, epoch_seconds: int, hint: int) -> int:
        """Returns the local day containing an instant, searching from `hint`."""
        day = hint
        while epoch_seconds < self.day_start(day):
            day -= 1
        while epoch_seconds >= self.day_start(day + 1):
            day += 1
        return day

    def hour_buckets(self, day: int) -> tuple[tuple[int, int, int], ...]:
        """Returns `(hour, start, end)` for each existing wall hour of `day`."""
        buckets = self._hours.get(day)
        if buckets is None:
            base = date.fromordinal(day)
            starts = [
                self.to_epoch(datetime.combine(base, time(hour))) for hour in range(24)
            ]
            starts.append(self.day_start(day + 1))
            buckets = tuple(
                (hour, starts[hour], starts[hour + 1])
                for hour in range(24)
                if starts[hour + 1] > starts[hour]
            )
            self._hours[day] = buckets
        return buckets

    def business_window(self, day: int) -> tuple[int, int] | None:
        """Returns the mailbox-hours window of `day` (Mon-Fri 08:00-18:00).

        Mailbox schedules and holidays are not modelled: every mailbox has
        the same hours, so `averageMailboxInitialReplyTime` ignores holidays.
        A per-mailbox schedule in `world.py` passed here would lift this.
        """
        if day in self._business:
            return self._business[day]
        base = date.fromordinal(day)
        window: tuple[int, int] | None = None
        if base.weekday() < 5:
            window = (
                self.to_epoch(datetime.combine(base, time(BUSINESS_OPEN_HOUR))),
                self.to_epoch(datetime.combine(base, time(BUSINESS_CLOSE_HOUR))),
            )
        self._business[day] = window
        return window

    def business_seconds(self, start: int, end: int, start_day: int) -> int:
        """Returns the mailbox-hours seconds between two instants.

        Args:
            start: The earlier instant.
            end: The later instant.
            start_day: The local day containing `start`.
        """
        total = 0
        day = start_day
        while self.day_start(day) < end:
            window = self.business_window(day)
            if window is not None:
                low = max(start, window[0])
                high = min(end, window[1])
                if high > low:
                    total += high - low
            day += 1
        return total

    def periods(self, period: str, start: datetime, end: datetime) -> list[Period]:
        """Lists the periods from the one containing `start` to the one with `end`.

        Args:
            period: `hour`, `day`, `week` or `month`.
            start: Naive local start of the range.
            end: Naive local end of the range (not before `start`).
        """
        first = start.date().toordinal()
        last = end.date().toordinal()
        if period == "hour":
            return self._hour_periods(start, end, first, last)
        if period == "day":
            bounds = [(d, d + 1) for d in range(first, last + 1)]
        elif period == "week":
            bounds = [(d, d + 7) for d in range(first, last + 1, 7)]
        else:
            bounds = []
            month = date(start.year, start.month, 1)
            while month <= end.date():
                following = (month + timedelta(days=32)).replace(day=1)
                bounds.append((month.toordinal(), following.toordinal()))
                month = following
        return [
            Period(_label(a), a, b, None, self.day_start(a), self.day_start(b))
            for a, b in bounds
        ]

    def _hour_periods(
        self, start: datetime, end: datetime, first: int, last: int
    ) -> list[Period]:
        start_instant = self.to_epoch(start)
        end_instant = self.to_epoch(end)
        result = []
        for day in range(first - 1, last + 2):
            for hour, low, high in self.hour_buckets(day):
                if high > start_instant and low <= end_instant:
                    result.append(
                        Period(_label(day, hour), day, day + 1, hour, low, high)
                    )
        return result


def format_cutoff(calendar: LocalCalendar, epoch_seconds: float) -> str:
    """Formats the cutoff as naive local time with one fractional digit."""
    local = calendar.to_local(epoch_seconds)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 100000}"
