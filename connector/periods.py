"""Period arithmetic on the mailbox's wall clock.

The API reads and writes times as naive local wall times of the mailbox, and
buckets periods on that wall clock. So windows here are naive pendulum
`DateTime`s in the mailbox's zone: a day is always 24 wall-clock hours, the hour
skipped by a spring-forward transition simply has no row, and the repeated
autumn hour is one bucket. Real instants (tz-aware) only enter when "now" is
turned into the mailbox's wall time.

A window includes its start and excludes its end; both lie on period boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pendulum

from connector.errors import ConfigurationError
from connector.settings import PERIODS, WEEKDAYS

API_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True, order=True)
class Window:
    """A half-open range `[start, end)` of whole periods, in local wall time."""

    start: pendulum.DateTime
    end: pendulum.DateTime

    @property
    def is_empty(self) -> bool:
        """True when the window holds no period at all."""
        return self.end <= self.start

    def contains(self, wall_time: datetime) -> bool:
        """Tells whether a naive wall time lies inside the window."""
        return self.start <= wall_time < self.end

    def api_range(self) -> tuple[str, str]:
        """The `start` and `end` strings to send for exactly this window.

        Results run from the period containing `start` to the period containing
        `end`, so `end` is sent one second before the window's end.
        """
        return format_wall_time(self.start), format_wall_time(
            self.end.subtract(seconds=1)
        )

    def label(self) -> str:
        """A short human-readable form, e.g. `2024-01-01T00:00..2024-04-01T00:00`."""
        pattern = "YYYY-MM-DDTHH:mm"
        return f"{self.start.format(pattern)}..{self.end.format(pattern)}"


def check_period(period: str) -> str:
    """Returns `period` if the API knows it.

    Raises:
        ConfigurationError: For anything but hour, day, week or month.
    """
    if period not in PERIODS:
        raise ConfigurationError(
            f"Unknown period {period!r}: use one of {', '.join(PERIODS)}."
        )
    return period


def weekday_index(week_start: str) -> int:
    """Maps a weekday name to 0 (Monday) .. 6 (Sunday).

    Raises:
        ConfigurationError: For a name that is not an English weekday.
    """
    name = week_start.strip().lower()
    if name not in WEEKDAYS:
        raise ConfigurationError(
            f"Unknown week_start {week_start!r}: use a weekday name such as "
            "'monday' or 'sunday'."
        )
    return WEEKDAYS.index(name)


def naive(value: datetime) -> pendulum.DateTime:
    """Converts a naive `datetime` into a naive pendulum `DateTime`."""
    return pendulum.naive(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def align(
    wall_time: datetime, period: str, week_start: str = "monday"
) -> pendulum.DateTime:
    """The start of the period containing `wall_time`.

    Args:
        wall_time: A naive local wall time.
        period: hour, day, week or month.
        week_start: The weekday weeks begin on.
    """
    moment = naive(wall_time)
    if period == "hour":
        return moment.start_of("hour")
    if period == "day":
        return moment.start_of("day")
    if period == "week":
        day = moment.start_of("day")
        back = (day.weekday() - weekday_index(week_start)) % 7
        return day.subtract(days=back)
    if period == "month":
        return moment.start_of("month")
    raise ConfigurationError(f"Unknown period {period!r}.")


def add_periods(
    boundary: pendulum.DateTime, period: str, count: int
) -> pendulum.DateTime:
    """Moves a period boundary `count` whole periods forward (or back if negative)."""
    if period == "hour":
        return boundary.add(hours=count)
    if period == "day":
        return boundary.add(days=count)
    if period == "week":
        return boundary.add(weeks=count)
    if period == "month":
        return boundary.add(months=count)
    raise ConfigurationError(f"Unknown period {period!r}.")


def align_up(
    wall_time: datetime, period: str, week_start: str = "monday"
) -> pendulum.DateTime:
    """The first period boundary at or after `wall_time`."""
    floor = align(wall_time, period, week_start)
    if floor == naive(wall_time):
        return floor
    return add_periods(floor, period, 1)


def split_windows(
    start: datetime,
    end: datetime,
    period: str,
    periods_per_window: int,
    week_start: str = "monday",
) -> list[Window]:
    """Splits `[start, end)` into consecutive windows of whole periods.

    `start` is moved back to its period's start and `end` forward to the next
    boundary, so every period touched by the range is covered once.

    Returns:
        The windows in order; empty when the range is empty.
    """
    first = align(start, period, week_start)
    last = align_up(end, period, week_start)
    windows: list[Window] = []
    cursor = first
    while cursor < last:
        window_end = min(add_periods(cursor, period, periods_per_window), last)
        windows.append(Window(cursor, window_end))
        cursor = window_end
    return windows


def local_wall_time(instant: pendulum.DateTime, time_zone: str) -> pendulum.DateTime:
    """The naive wall time a tz-aware instant shows in `time_zone`."""
    local = instant.in_timezone(time_zone)
    return pendulum.naive(
        local.year, local.month, local.day, local.hour, local.minute, local.second
    )


def parse_wall_time(text: str) -> datetime:
    """Parses an API timestamp as a naive wall time, ignoring any zone designator."""
    value = datetime.fromisoformat(text.strip().replace("Z", ""))
    return value.replace(tzinfo=None)


def format_wall_time(value: datetime) -> str:
    """Formats a wall time the way the API's examples do: `2026-04-01T00:00:00`."""
    return value.strftime(API_FORMAT)


def _parse(
    text: str, what: str, expected: str, **options: Any
) -> pendulum.Date | pendulum.Time | pendulum.DateTime | pendulum.Duration:
    """Parses `text` with pendulum, naming `what` and the `expected` form on error."""
    try:
        return pendulum.parse(text.strip(), **options)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise ConfigurationError(
            f"Cannot read {what} {text!r}: use {expected}."
        ) from exc


def parse_user_time(text: str, what: str) -> pendulum.DateTime:
    """Parses a date or datetime typed by a user into a naive wall time.

    Raises:
        ConfigurationError: Naming `what` (e.g. `--start`) when it does not parse
            or carries a zone designator (the value means local wall time in
            each mailbox's zone).
    """
    parsed = _parse(
        text,
        what,
        "an ISO date such as 2024-03-01 or 2024-03-01T06:00",
        exact=True,
        tz=None,
    )
    if isinstance(parsed, pendulum.DateTime) and parsed.tzinfo is not None:
        raise ConfigurationError(
            f"{what} {text!r} has a time zone: dates are local wall times in each "
            "mailbox's own zone, so drop the offset or Z (e.g. "
            f"{parsed.format('YYYY-MM-DDTHH:mm:ss')})."
        )
    if isinstance(parsed, pendulum.DateTime):
        return naive(parsed.naive())
    if isinstance(parsed, pendulum.Date):
        return pendulum.naive(parsed.year, parsed.month, parsed.day)
    raise ConfigurationError(
        f"Cannot read {what} {text!r}: it is not a date or a date and time."
    )


def parse_instant(text: str, what: str) -> pendulum.DateTime:
    """Parses an ISO instant (UTC when no offset is given).

    Raises:
        ConfigurationError: Naming `what` when it does not parse.
    """
    parsed = _parse(text, what, "an ISO instant such as 2024-03-01T06:00:00Z", tz="UTC")
    if not isinstance(parsed, pendulum.DateTime):
        raise ConfigurationError(f"Cannot read {what} {text!r}: it is not an instant.")
    return parsed


def parse_duration(text: str, what: str) -> pendulum.Duration:
    """Parses an ISO 8601 duration such as `P1D` or `PT6H`.

    Raises:
        ConfigurationError: Naming `what` when it does not parse or is negative.
    """
    parsed = _parse(
        text,
        what,
        "an ISO 8601 duration such as P1D (one day) or PT6H (six hours)",
    )
    if not isinstance(parsed, pendulum.Duration):
        raise ConfigurationError(
            f"Cannot read {what} {text!r}: use an ISO 8601 duration such as P1D."
        )
    if parsed.total_seconds() < 0:
        raise ConfigurationError(f"{what} {text!r} must not be negative.")
    return parsed
