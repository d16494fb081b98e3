"""Report queries: validation, and computing their rows from the event log."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from connector.simulator.calendar import PERIODS, LocalCalendar, Period, format_cutoff
from connector.simulator.events import EventSource
from connector.simulator.metrics import (
    FIELD_GROUPS,
    RowShaper,
    UserTotals,
    accumulate,
    merge,
)
from connector.simulator.settings import SimulatorSettings
from connector.simulator.world import UNKNOWN_USER_ID, Mailbox

logger = logging.getLogger(__name__)

_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DAY_CACHE_SIZE = 4096
_HOUR_CACHE_SIZE = 512


_Value = TypeVar("_Value")


class _LruCache(Generic[_Value]):
    """Totals of final days, least recently read dropped first past `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int], _Value] = OrderedDict()

    def get(self, key: tuple[str, int]) -> _Value | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: tuple[str, int], value: _Value) -> None:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)


class ValidationError(ValueError):
    """A request parameter is missing or invalid (answered with 400)."""


@dataclass(frozen=True)
class ReportQuery:
    """A validated Mailbox User Performance request."""

    mailbox_id: str
    start: datetime
    end: datetime
    period: str
    users: tuple[str, ...] | None
    field_groups: tuple[str, ...]
    include_details: bool


@dataclass(frozen=True)
class ReportResult:
    """The rows of a report (without ids) and the result metadata."""

    rows: list[dict[str, Any]]
    time_zone: str
    data_cutoff: str | None


def parse_local_datetime(name: str, value: Any) -> datetime:
    """Parses a naive local wall time; any zone designator is ignored.

    Raises:
        ValidationError: The value is not an ISO 8601 datetime.
    """
    match = _DATETIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(
            f"'{name}' must be an ISO 8601 datetime such as 2026-04-01T00:00:00, "
            f"got {value!r}"
        )
    try:
        return datetime.fromisoformat(match.group(1))
    except ValueError as error:
        raise ValidationError(f"'{name}' is not a valid datetime: {value!r}") from error


def parse_field_groups(value: str | None) -> tuple[str, ...]:
    """Parses the comma-separated `fieldGroup` parameter (default `replyData`).

    Raises:
        ValidationError: A group is unknown or the list is empty.
    """
    if value is None:
        return ("replyData",)
    groups = tuple(dict.fromkeys(part.strip() for part in value.split(",")))
    if not groups or any(group not in FIELD_GROUPS for group in groups):
        raise ValidationError(
            "'fieldGroup' must be a comma-separated list of "
            f"{', '.join(FIELD_GROUPS)}; got {value!r}"
        )
    return groups


def parse_boolean(name: str, value: str | None, default: bool) -> bool:
    """Parses a `true`/`false` query parameter.

    Raises:
        ValidationError: The value is neither.
    """
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValidationError(f"'{name}' must be true or false, got {value!r}")


def parse_report_body(
    body: Any, field_groups: tuple[str, ...], include_details: bool
) -> ReportQuery:
    """Validates a report body into a query.

    Raises:
        ValidationError: A field is missing or invalid.
    """
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    for name in ("mailboxId", "start", "end", "period"):
        if body.get(name) in (None, ""):
            raise ValidationError(f"'{name}' is required")
    if not isinstance(body["mailboxId"], str):
        raise ValidationError("'mailboxId' must be a string")
    start = parse_local_datetime("start", body["start"])
    end = parse_local_datetime("end", body["end"])
    if start > end:
        raise ValidationError("'start' must not be after 'end'")
    period = body["period"]
    if period not in PERIODS:
        raise ValidationError(
            f"'period' must be one of {', '.join(PERIODS)}; got {period!r}"
        )
    users = body.get("users")
    if users is not None and (
        not isinstance(users, list) or not all(isinstance(u, str) for u in users)
    ):
        raise ValidationError("'users' must be a list of user id strings")
    return ReportQuery(
        mailbox_id=body["mailboxId"],
        start=start,
        end=end,
        period=period,
        users=tuple(users) if users else None,
        field_groups=field_groups,
        include_details=include_details,
    )


class ReportEngine:
    """Computes report rows from the mailboxes' event logs, with caches.

    Only days that are final (wholly before the late-attribution window)
    are cached; days touching the cutoff are recomputed on every request,
    because their numbers depend on the clock.
    """

    def __init__(
        self, settings: SimulatorSettings, mailboxes: tuple[Mailbox, ...]
    ) -> None:
        """Creates the engine for an account's mailboxes."""
        first_day = date.fromisoformat(settings.history_start).toordinal()
        self.mailboxes = {m.mailbox_id: m for m in mailboxes}
        self.calendars = {m.mailbox_id: LocalCalendar(m.zone) for m in mailboxes}
        self.sources = {
            m.mailbox_id: EventSource(
                settings.seed,
                m,
                self.calendars[m.mailbox_id],
                first_day,
                settings.conversations_per_user_day,
                settings.initiated_per_user_day,
            )
            for m in mailboxes
        }
        self._days: _LruCache[UserTotals] = _LruCache(_DAY_CACHE_SIZE)
        self._hours: _LruCache[dict[object, UserTotals]] = _LruCache(_HOUR_CACHE_SIZE)
        self._lock = threading.Lock()

    def compute(
        self, query: ReportQuery, cutoff: int, late_attribution_seconds: int
    ) -> ReportResult:
        """Computes a report as seen with data cut off at `cutoff`.

        Args:
            query: The validated query; its mailbox must exist.
            cutoff: Epoch seconds; events from this instant on are not visible.
            late_attribution_seconds: User actions this close before the
                cutoff are reported under the unknown user; 0 disables.
        """
        mailbox = self.mailboxes[query.mailbox_id]
        calendar = self.calendars[query.mailbox_id]
        periods = calendar.periods(query.period, query.start, query.end)
        late_from = cutoff - late_attribution_seconds
        shaper = RowShaper(mailbox, query.field_groups, query.include_details)
        allowed = self._allowed_users(mailbox, query.users)

        rows: list[dict[str, Any]] = []
        with self._lock:
            for period in periods:
                totals = self._period_totals(
                    query.mailbox_id, period, cutoff, late_from
                )
                ordered = sorted(
                    (shaper.user_id(user), user, acc)
                    for user, acc in totals.items()
                    if allowed is None or user in allowed
                )
                for _, user, acc in ordered:
                    row = shaper.row(period.label, user, acc)
                    if row is not None:
                        rows.append(row)

        has_cutoff = bool(periods) and periods[-1].end > cutoff
        return ReportResult(
            rows=rows,
            time_zone=mailbox.time_zone,
            data_cutoff=format_cutoff(calendar, cutoff) if has_cutoff else None,
        )

    @staticmethod
    def _allowed_users(
        mailbox: Mailbox, users: tuple[str, ...] | None
    ) -> set[int] | None:
        if users is None:
            return None
        allowed = {u.index for u in mailbox.users if u.user_id in users}
        if UNKNOWN_USER_ID in users:
            allowed.add(-1)
        return allowed

    def _period_totals(
        self, mailbox_id: str, period: Period, cutoff: int, late_from: int
    ) -> UserTotals:
        if period.hour is not None:
            by_hour = self._hour_totals(mailbox_id, period.first_day, cutoff, late_from)
            return by_hour.get(period.hour, {})
        days = [
            self._day_totals(mailbox_id, day, cutoff, late_from)
            for day in range(period.first_day, period.end_day)
        ]
        if len(days) == 1:
            return days[0]
        return merge(days)

    def _day_totals(
        self, mailbox_id: str, day: int, cutoff: int, late_from: int
    ) -> UserTotals:
        calendar = self.calendars[mailbox_id]
        if calendar.day_start(day) >= cutoff:
            return {}
        is_final = calendar.day_start(day + 1) <= min(cutoff, late_from)
        key = (mailbox_id, day)
        if is_final:
            cached = self._days.get(key)
            if cached is not None:
                return cached
        events = self.sources[mailbox_id].events_on(day)
        if is_final:
            totals = accumulate(events, None, None, None).get(None, {})
            self._days.put(key, totals)
            return totals
        return accumulate(events, None, cutoff, late_from).get(None, {})

    def _hour_totals(
        self, mailbox_id: str, day: int, cutoff: int, late_from: int
    ) -> dict[object, UserTotals]:
        calendar = self.calendars[mailbox_id]
        if calendar.day_start(day) >= cutoff:
            return {}
        is_final = calendar.day_start(day + 1) <= min(cutoff, late_from)
        key = (mailbox_id, day)
        if is_final:
            cached_hours = self._hours.get(key)
            if cached_hours is not None:
                return cached_hours
        buckets = calendar.hour_buckets(day)

        def hour_of(instant: int) -> int:
            for hour, _, end in buckets:
                if instant < end:
                    return hour
            return buckets[-1][0]

        events = self.sources[mailbox_id].events_on(day)
        if is_final:
            totals = accumulate(events, hour_of, None, None)
            self._hours.put(key, totals)
            return totals
        return accumulate(events, hour_of, cutoff, late_from)

    def event_log(
        self, mailbox_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Returns the raw events of local days `start.date()` to `end.date()`."""
        with self._lock:
            return self.sources[mailbox_id].event_log(
                start.date().toordinal(), end.date().toordinal() + 1
            )
