"""An independent, slow computation of report rows from the raw event log.

It follows the metric definitions in docs/simulator.md from scratch: local
labels come from converting each event's instant with zoneinfo, durations
from replaying each conversation, mailbox hours by walking local days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

USER_ACTIONS = {
    "initialReply",
    "additionalReply",
    "initiate",
    "closeArchive",
    "closeDelete",
    "closeJunk",
    "closeSentItems",
}
CLOSE_FIELDS = {
    "closeArchive": "closedArchived",
    "closeDelete": "closedDeleted",
    "closeJunk": "closedJunk",
    "closeSentItems": "closedSentItems",
}


def local(epoch: int, zone: ZoneInfo) -> datetime:
    """Naive local wall time of an instant."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).replace(tzinfo=None)


def label(moment: datetime, period: str, anchor: date) -> str:
    """The startDateTime of the period containing a local wall time."""
    if period == "hour":
        return moment.replace(minute=0, second=0, microsecond=0).isoformat()
    day = moment.date()
    if period == "week":
        day = anchor + timedelta(days=7 * ((day - anchor).days // 7))
    elif period == "month":
        day = day.replace(day=1)
    return datetime.combine(day, time()).isoformat()


def business_seconds(start: int, end: int, zone: ZoneInfo) -> int:
    """Seconds within Mon-Fri 08:00-18:00 local between two instants."""
    total = 0
    day = local(start, zone).date()
    last = local(end, zone).date()
    while day <= last:
        if day.weekday() < 5:
            opening = datetime.combine(day, time(8), zone).timestamp()
            closing = datetime.combine(day, time(18), zone).timestamp()
            total += max(0, int(min(end, closing) - max(start, opening)))
        day += timedelta(days=1)
    return total


def reference_rows(
    events: list[dict[str, Any]],
    zone_name: str,
    period: str,
    start: datetime,
    end: datetime,
    cutoff: int,
    late_seconds: int,
    groups: tuple[str, ...] = ("replyData",),
) -> list[dict[str, Any]]:
    """Rows (without ids) a report would return, from raw events."""
    zone = ZoneInfo(zone_name)
    anchor = start.date()
    first_label = label(start, period, anchor)
    last_label = label(end, period, anchor)
    arrival: dict[int, int] = {}
    assigned_at: dict[int, int] = {}
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: defaultdict(int, replied=set(), active=set())
    )

    for event in sorted(events, key=lambda e: e["time"]):
        when, kind, conv = event["time"], event["kind"], event["conversationId"]
        actor = event["userId"] or "unknown"
        if kind == "arrival":
            arrival[conv] = when
        previous_assignment = assigned_at.get(conv)
        if kind in ("assign", "reassign"):
            assigned_at[conv] = when
        if when >= cutoff or kind == "arrival":
            continue
        if kind in USER_ACTIONS and when >= cutoff - late_seconds:
            actor = "unknown"
        key_label = label(local(when, zone), period, anchor)
        if not first_label <= key_label <= last_label:
            continue
        cell = cells[(key_label, actor)]
        if kind in ("assign", "reassign"):
            cell["assigned"] += 1
            cell["active"].add(conv)
            if kind == "reassign":
                cells[(key_label, event["fromUserId"])]["reassigned"] += 1
        elif kind == "initialReply":
            cell["initialReplies"] += 1
            cell["replied"].add(conv)
            cell["active"].add(conv)
            cell["userReply"] += when - previous_assignment
            cell["userReplyN"] += 1
            cell["mailboxReply"] += business_seconds(arrival[conv], when, zone)
            cell["elapsedReply"] += when - arrival[conv]
        elif kind == "additionalReply":
            cell["additionalReplies"] += 1
            cell["replied"].add(conv)
            cell["active"].add(conv)
        elif kind == "initiate":
            cell["initiated"] += 1
            cell["active"].add(conv)
        else:
            cell[CLOSE_FIELDS[kind]] += 1
            if previous_assignment is not None:
                cell["userClose"] += when - previous_assignment
                cell["userCloseN"] += 1

    def average(seconds: int, count: int) -> float:
        return round(seconds / count / 60, 1)

    rows = []
    for (row_label, user), cell in sorted(cells.items()):
        row: dict[str, Any] = {"startDateTime": row_label, "userId": user}
        row["assigned"] = cell["assigned"]
        row["reassigned"] = cell["reassigned"]
        activity = [cell["assigned"], cell["reassigned"]]
        if "replyData" in groups:
            row["initiated"] = cell["initiated"]
            row["initialReplies"] = cell["initialReplies"]
            row["additionalReplies"] = cell["additionalReplies"]
            if cell["userReplyN"]:
                row["averageUserInitialReplyTime"] = average(
                    cell["userReply"], cell["userReplyN"]
                )
            if cell["initialReplies"]:
                n = cell["initialReplies"]
                row["averageMailboxInitialReplyTime"] = average(cell["mailboxReply"], n)
                row["averageElapsedInitialReplyTime"] = average(cell["elapsedReply"], n)
            row["replyConversations"] = len(cell["replied"])
            row["activeConversations"] = len(cell["active"])
            activity += [
                row["initiated"],
                row["initialReplies"],
                row["additionalReplies"],
            ]
        if "closeData" in groups:
            for field in CLOSE_FIELDS.values():
                row[field] = cell[field]
                activity.append(cell[field])
            if cell["userCloseN"]:
                row["averageUserCloseTime"] = average(
                    cell["userClose"], cell["userCloseN"]
                )
        if any(activity):
            rows.append(row)
    return rows
