"""Incremental state per (mailbox, period) and the rules that move it.

The state lives in the `mailbox_user_performance` resource's dlt state and is
committed with the load that carries the rows, so a failed load moves nothing:

    {"mailboxes": {"<mailbox id>": {"<period>": {
        "final_through": "2024-05-01T00:00:00",   # data before this is final
        "time_zone": "America/New_York",
        "week_start": "monday",                   # week entries only
        "last_cutoff": "2024-05-01T08:14:00",     # last dataCutoffTimestamp seen
        "updated_at": "2024-05-01T12:20:05Z",
        "backfill": {"start": ..., "end": ..., "done": ["<window start>", ...]},
        # or, once every window of that range loaded:
        # "backfill": {"start": ..., "end": ..., "complete_before": "<end>"},
    }}}}

All times but `updated_at` are the mailbox's naive local wall times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pendulum

from connector.config import LoadConfig
from connector.periods import (
    Window,
    add_periods,
    align,
    format_wall_time,
    local_wall_time,
    naive,
    parse_wall_time,
    split_windows,
)
from connector.settings import DEFAULT_INITIAL_LOOKBACK_DAYS

NIGHTLY = "nightly"
BACKFILL = "backfill"


@dataclass(frozen=True)
class Backfill:
    """An explicit range to load: `[start, end)` in local wall time."""

    start: pendulum.DateTime
    end: pendulum.DateTime


@dataclass
class MailboxPlan:
    """The windows to load for one (mailbox, period) and how far they got.

    Attributes:
        entry: The state entry as read at the start (updated as windows load).
        loaded: Window start -> the wall time up to which that window is final.
    """

    mailbox_id: str
    period: str
    time_zone: str
    mode: str
    windows: list[Window]
    entry: dict[str, Any]
    backfill_range: Backfill | None = None
    week_start: str = "monday"
    loaded: dict[pendulum.DateTime, pendulum.DateTime] = field(default_factory=dict)
    rows: int = 0

    @property
    def is_complete(self) -> bool:
        """True when every planned window has loaded."""
        return all(w.start in self.loaded for w in self.windows)

    @property
    def final_through(self) -> pendulum.DateTime | None:
        """How far this (mailbox, period) is final, per the state entry."""
        value = self.entry.get("final_through")
        return naive(parse_wall_time(value)) if value else None

    def record(
        self,
        window: Window,
        data_cutoff: datetime | None,
        now: pendulum.DateTime,
        rows: int,
    ) -> dict[str, Any]:
        """Notes a loaded window and returns the state entry to commit with it.

        The nightly cursor only moves forward, and only across windows that
        loaded without a gap from where it stood.
        """
        final_point = window.end
        if data_cutoff is not None:
            final_point = min(
                align(data_cutoff, self.period, self.week_start), window.end
            )
        self.loaded[window.start] = final_point
        self.rows += rows

        entry = dict(self.entry)
        entry["time_zone"] = self.time_zone
        if self.period == "week":
            entry["week_start"] = self.week_start
        entry["updated_at"] = now.in_timezone("UTC").to_iso8601_string()
        if data_cutoff is not None:
            entry["last_cutoff"] = format_wall_time(data_cutoff)
        reach = self._reach()
        if reach is not None:
            entry["final_through"] = format_wall_time(reach)
        if self.mode == BACKFILL and self.backfill_range is not None:
            if self.is_complete:
                # Kept, small, so that a rerun of the same range can tell a
                # resume (some mailbox unfinished) from a deliberate refresh.
                entry["backfill"] = {
                    "start": format_wall_time(self.backfill_range.start),
                    "end": format_wall_time(self.backfill_range.end),
                    "complete_before": format_wall_time(self.windows[-1].end),
                }
            else:
                entry["backfill"] = {
                    "start": format_wall_time(self.backfill_range.start),
                    "end": format_wall_time(self.backfill_range.end),
                    "done": sorted(
                        set(entry.get("backfill", {}).get("done", []))
                        | {format_wall_time(s) for s in self.loaded}
                    ),
                }
        self.entry = entry
        return entry

    def _reach(self) -> pendulum.DateTime | None:
        current = self.final_through
        if current is None:
            if self.mode != NIGHTLY or not self.windows:
                return None
            current = self.windows[0].start
        reach = current
        for window in self.windows:
            if window.start > reach:
                break
            final_point = self.loaded.get(window.start)
            if final_point is None:
                if window.end > reach:
                    break
                continue
            if final_point > reach:
                reach = final_point
            if final_point < window.end:
                break
        return max(reach, current)


def read_entry(
    resource_state: dict[str, Any], mailbox_id: str, period: str
) -> dict[str, Any]:
    """The state entry of one (mailbox, period); empty when never loaded."""
    entry = resource_state.get("mailboxes", {}).get(mailbox_id, {}).get(period, {})
    return dict(entry) if isinstance(entry, dict) else {}


def write_entry(
    resource_state: dict[str, Any], mailbox_id: str, period: str, entry: dict[str, Any]
) -> None:
    """Stores one (mailbox, period) entry in the resource state."""
    resource_state.setdefault("mailboxes", {}).setdefault(mailbox_id, {})[period] = (
        entry
    )


def plan_nightly(
    config: LoadConfig,
    mailbox_id: str,
    time_zone: str,
    entry: dict[str, Any],
    now: pendulum.DateTime,
) -> MailboxPlan:
    """Plans an incremental run: from (final_through - lookback) to now.

    Without state the run starts at `initial_start`, or
    `DEFAULT_INITIAL_LOOKBACK_DAYS` before now when that is unset.
    """
    period = config.period
    local_now = local_wall_time(now, time_zone)
    final_through = entry.get("final_through")
    if final_through:
        start = naive(parse_wall_time(final_through)).subtract(
            seconds=int(config.lookback.total_seconds())
        )
    elif config.initial_start is not None:
        start = config.initial_start
    else:
        start = local_now.subtract(days=DEFAULT_INITIAL_LOOKBACK_DAYS)
    start = align(start, period, config.week_start)
    end = add_periods(align(local_now, period, config.week_start), period, 1)
    windows = split_windows(
        start, end, period, config.periods_per_window[period], config.week_start
    )
    return MailboxPlan(
        mailbox_id,
        period,
        time_zone,
        NIGHTLY,
        windows,
        entry,
        week_start=config.week_start,
    )


def plan_backfill(
    config: LoadConfig,
    mailbox_id: str,
    time_zone: str,
    entry: dict[str, Any],
    backfill: Backfill,
    now: pendulum.DateTime,
    *,
    resume: bool = True,
) -> MailboxPlan:
    """Plans a backfill of `[start, end)`, skipping windows an interrupted run of
    the same range already loaded. Periods after the one containing now are
    never requested.

    Args:
        resume: Also skip the windows of a completed run of the same range;
            False fetches them again (a refresh).
    """
    period = config.period
    local_now = local_wall_time(now, time_zone)
    limit = add_periods(align(local_now, period, config.week_start), period, 1)
    end = min(backfill.end, limit)
    windows = split_windows(
        backfill.start,
        end,
        period,
        config.periods_per_window[period],
        config.week_start,
    )
    plan = MailboxPlan(
        mailbox_id,
        period,
        time_zone,
        BACKFILL,
        windows,
        entry,
        backfill_range=backfill,
        week_start=config.week_start,
    )
    previous = entry.get("backfill") or {}
    if not _is_same_range(previous, backfill):
        return plan
    complete_before = previous.get("complete_before")
    if complete_before:
        if resume:
            limit = naive(parse_wall_time(complete_before))
            for window in windows:
                if window.end <= limit:
                    plan.loaded[window.start] = window.end
        return plan
    done = {naive(parse_wall_time(s)) for s in previous.get("done", [])}
    for window in windows:
        if window.start in done:
            plan.loaded[window.start] = window.end
    return plan


def is_backfill_complete(entry: dict[str, Any], backfill: Backfill) -> bool:
    """True when the entry records this exact range as completely loaded."""
    previous = entry.get("backfill") or {}
    return _is_same_range(previous, backfill) and bool(previous.get("complete_before"))


def _is_same_range(previous: dict[str, Any], backfill: Backfill) -> bool:
    return previous.get("start") == format_wall_time(backfill.start) and previous.get(
        "end"
    ) == format_wall_time(backfill.end)


def pending_windows(plan: MailboxPlan) -> list[Window]:
    """Windows of the plan that still need loading."""
    return [w for w in plan.windows if w.start not in plan.loaded]
