"""Per-user metrics: aggregating events into periods and shaping report rows.

An accumulator holds, for one user and one period, the counters and the
duration sums every field is computed from, plus the sets of conversations
behind the two distinct counts. Accumulators of days add up to weeks and
months (the sets are unioned, so distinct counts stay distinct).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from connector.simulator.events import (
    ASSIGN,
    CLOSE_ARCHIVE,
    CLOSE_DELETE,
    CLOSE_JUNK,
    CLOSE_SENT_ITEMS,
    FIRST_USER_ACTION,
    INITIATE,
    NO_USER,
    REASSIGN,
    REPLY_ADDITIONAL,
    REPLY_INITIAL,
    Event,
)
from connector.simulator.world import UNKNOWN_USER_ID, Mailbox

logger = logging.getLogger(__name__)

FIELD_GROUPS = ("replyData", "closeData")

(
    ASSIGNED,
    REASSIGNED,
    INITIATED,
    INITIAL_REPLIES,
    ADDITIONAL_REPLIES,
    USER_REPLY_SECONDS,
    USER_REPLY_COUNT,
    MAILBOX_REPLY_SECONDS,
    ELAPSED_REPLY_SECONDS,
    CLOSED_ARCHIVED,
    CLOSED_DELETED,
    CLOSED_JUNK,
    CLOSED_SENT_ITEMS,
    USER_CLOSE_SECONDS,
    USER_CLOSE_COUNT,
) = range(15)
_SIZE = 15

_CLOSE_SLOT = {
    CLOSE_ARCHIVE: CLOSED_ARCHIVED,
    CLOSE_DELETE: CLOSED_DELETED,
    CLOSE_JUNK: CLOSED_JUNK,
    CLOSE_SENT_ITEMS: CLOSED_SENT_ITEMS,
}
_REPLY_ACTIVITY = (ASSIGNED, REASSIGNED, INITIATED, INITIAL_REPLIES, ADDITIONAL_REPLIES)
_CLOSE_ACTIVITY = (
    ASSIGNED,
    REASSIGNED,
    CLOSED_ARCHIVED,
    CLOSED_DELETED,
    CLOSED_JUNK,
    CLOSED_SENT_ITEMS,
)


class Accumulator:
    """Counters and sums for one user in one period."""

    __slots__ = ("active", "counts", "replied")

    def __init__(self) -> None:
        """Creates an empty accumulator."""
        self.counts: list[int] = [0] * _SIZE
        self.replied: set[int] = set()
        self.active: set[int] = set()

    def add(self, other: Accumulator) -> None:
        """Adds another accumulator (of a disjoint stretch of time) into this one."""
        counts = self.counts
        for index, value in enumerate(other.counts):
            counts[index] += value
        self.replied |= other.replied
        self.active |= other.active


UserTotals = dict[int, Accumulator]


def accumulate(
    events: Iterable[Event],
    bucket_of: Callable[[int], object] | None,
    visible_before: int | None,
    late_from: int | None,
) -> dict[object, UserTotals]:
    """Aggregates events into per-bucket, per-user accumulators.

    Args:
        events: The events to count.
        bucket_of: Maps an event's instant to its bucket; None puts every
            event in the single bucket None.
        visible_before: Events at or after this instant are not counted
            (the data cutoff); None counts every event.
        late_from: User actions at or after this instant are counted under
            the unknown user (late attribution); None disables it.

    Returns:
        Accumulators by bucket, then by user index (`NO_USER` for unknown).
    """
    result: dict[object, UserTotals] = {}
    for time, kind, actor, conversation, other, user_s, mailbox_s, elapsed_s in events:
        if visible_before is not None and time >= visible_before:
            continue
        if kind < ASSIGN:
            continue
        if late_from is not None and kind >= FIRST_USER_ACTION and time >= late_from:
            actor = NO_USER
        bucket = None if bucket_of is None else bucket_of(time)
        users = result.get(bucket)
        if users is None:
            users = result[bucket] = {}
        acc = users.get(actor)
        if acc is None:
            acc = users[actor] = Accumulator()
        counts = acc.counts

        if kind == ASSIGN:
            counts[ASSIGNED] += 1
            acc.active.add(conversation)
        elif kind == REASSIGN:
            counts[ASSIGNED] += 1
            acc.active.add(conversation)
            source = users.get(other)
            if source is None:
                source = users[other] = Accumulator()
            source.counts[REASSIGNED] += 1
        elif kind == REPLY_INITIAL:
            counts[INITIAL_REPLIES] += 1
            counts[USER_REPLY_SECONDS] += user_s
            counts[USER_REPLY_COUNT] += 1
            counts[MAILBOX_REPLY_SECONDS] += mailbox_s
            counts[ELAPSED_REPLY_SECONDS] += elapsed_s
            acc.replied.add(conversation)
            acc.active.add(conversation)
        elif kind == REPLY_ADDITIONAL:
            counts[ADDITIONAL_REPLIES] += 1
            acc.replied.add(conversation)
            acc.active.add(conversation)
        elif kind == INITIATE:
            counts[INITIATED] += 1
            acc.active.add(conversation)
        else:
            counts[_CLOSE_SLOT[kind]] += 1
            if user_s >= 0:
                counts[USER_CLOSE_SECONDS] += user_s
                counts[USER_CLOSE_COUNT] += 1
    return result


def merge(parts: Iterable[UserTotals]) -> UserTotals:
    """Adds per-user accumulators of disjoint stretches of time."""
    total: UserTotals = {}
    for part in parts:
        for user, acc in part.items():
            into = total.get(user)
            if into is None:
                into = total[user] = Accumulator()
            into.add(acc)
    return total


def _average_minutes(seconds: int, count: int) -> float:
    return round(seconds / count / 60.0, 1)


class RowShaper:
    """Turns accumulators into report rows for a chosen set of field groups."""

    def __init__(
        self, mailbox: Mailbox, groups: tuple[str, ...], include_details: bool
    ) -> None:
        """Creates the shaper.

        Args:
            mailbox: The mailbox the rows are for (user ids and details).
            groups: Requested field groups, a subset of `FIELD_GROUPS`.
            include_details: Whether rows carry user name, email and active flag.
        """
        self._users = mailbox.users
        self._reply = "replyData" in groups
        self._close = "closeData" in groups
        self._details = include_details
        activity: set[int] = set()
        if self._reply:
            activity.update(_REPLY_ACTIVITY)
        if self._close:
            activity.update(_CLOSE_ACTIVITY)
        self._activity = tuple(sorted(activity))

    def user_id(self, user: int) -> str:
        """Returns the API id of a user index."""
        return UNKNOWN_USER_ID if user == NO_USER else self._users[user].user_id

    def row(self, label: str, user: int, acc: Accumulator) -> dict[str, Any] | None:
        """Returns the row for one user and period, or None without activity.

        Counts are always present; an average is omitted when there is
        nothing to average. The `id` is filled in later, by the result.
        """
        counts = acc.counts
        if not any(counts[index] for index in self._activity):
            return None
        row: dict[str, Any] = {
            "id": "",
            "startDateTime": label,
            "userId": self.user_id(user),
        }
        if self._details and user != NO_USER:
            member = self._users[user]
            row["userName"] = member.name
            row["userEmail"] = member.email
            row["userActive"] = member.is_active
        row["assigned"] = counts[ASSIGNED]
        row["reassigned"] = counts[REASSIGNED]
        if self._reply:
            replies = counts[INITIAL_REPLIES]
            row["initiated"] = counts[INITIATED]
            row["initialReplies"] = replies
            row["additionalReplies"] = counts[ADDITIONAL_REPLIES]
            if counts[USER_REPLY_COUNT]:
                row["averageUserInitialReplyTime"] = _average_minutes(
                    counts[USER_REPLY_SECONDS], counts[USER_REPLY_COUNT]
                )
            if replies:
                row["averageMailboxInitialReplyTime"] = _average_minutes(
                    counts[MAILBOX_REPLY_SECONDS], replies
                )
                row["averageElapsedInitialReplyTime"] = _average_minutes(
                    counts[ELAPSED_REPLY_SECONDS], replies
                )
            row["replyConversations"] = len(acc.replied)
            row["activeConversations"] = len(acc.active)
        if self._close:
            row["closedArchived"] = counts[CLOSED_ARCHIVED]
            row["closedDeleted"] = counts[CLOSED_DELETED]
            row["closedJunk"] = counts[CLOSED_JUNK]
            row["closedSentItems"] = counts[CLOSED_SENT_ITEMS]
            if counts[USER_CLOSE_COUNT]:
                row["averageUserCloseTime"] = _average_minutes(
                    counts[USER_CLOSE_SECONDS], counts[USER_CLOSE_COUNT]
                )
        return row
