"""Comparing what landed in the warehouse with the simulator's ground truth."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import httpx

from connector.simulator import RunningSimulator
from tests.conftest import SIM_KEY

METRICS = (
    ("assigned", "assigned"),
    ("reassigned", "reassigned"),
    ("initiated", "initiated"),
    ("initialReplies", "initial_replies"),
    ("additionalReplies", "additional_replies"),
    ("averageUserInitialReplyTime", "average_user_initial_reply_time"),
    ("averageMailboxInitialReplyTime", "average_mailbox_initial_reply_time"),
    ("averageElapsedInitialReplyTime", "average_elapsed_initial_reply_time"),
    ("replyConversations", "reply_conversations"),
    ("activeConversations", "active_conversations"),
    ("closedArchived", "closed_archived"),
    ("closedDeleted", "closed_deleted"),
    ("closedJunk", "closed_junk"),
    ("closedSentItems", "closed_sent_items"),
    ("averageUserCloseTime", "average_user_close_time"),
)

Key = tuple[str, str, datetime]


def truth(
    sim: RunningSimulator,
    mailbox_id: str,
    period: str,
    start: str,
    end: str,
    users: str | None = None,
) -> dict[Key, dict[str, Any]]:
    """The simulator's rows for `[start, end]` keyed like the table's primary key.

    `users` is the report's user filter, comma-separated, as the truth takes it.
    """
    params = {
        "mailboxId": mailbox_id,
        "period": period,
        "start": start,
        "end": end,
        "fieldGroup": "replyData,closeData",
    }
    if users is not None:
        params["users"] = users
    result = sim.simulator.truth(params)
    rows: dict[Key, dict[str, Any]] = {}
    for row in result["rows"]:
        key = (mailbox_id, row["userId"], datetime.fromisoformat(row["startDateTime"]))
        rows[key] = {column: row.get(field) for field, column in METRICS}
    return rows


def truth_for_every_mailbox(
    sim: RunningSimulator,
    period: str,
    start: str,
    end: str,
    users: str | None = None,
) -> dict[Key, dict[str, Any]]:
    """`truth` for every mailbox the demo key lists, in one mapping."""
    rows: dict[Key, dict[str, Any]] = {}
    for mailbox in listed_mailboxes(sim):
        rows.update(truth(sim, mailbox["mailboxId"], period, start, end, users))
    return rows


def warehouse_rows(
    path: str, where: str = "TRUE", dataset: str = "emailgistics"
) -> dict[Key, dict[str, Any]]:
    """The table's rows keyed by (mailbox_id, user_id, start_date_time)."""
    columns = ", ".join(column for _, column in METRICS)
    with duckdb.connect(path, read_only=True) as connection:
        result = connection.sql(
            f"SELECT mailbox_id, user_id, start_date_time, {columns} "
            f"FROM {dataset}.mailbox_user_performance WHERE {where}"
        ).fetchall()
    return {
        (r[0], r[1], r[2]): dict(zip([c for _, c in METRICS], r[3:], strict=True))
        for r in result
    }


def listed_mailboxes(sim: RunningSimulator, key: str = SIM_KEY) -> list[dict[str, Any]]:
    """The mailbox list exactly as the API serves it to `key`."""
    response = httpx.get(
        f"{sim.base_url}/api/v1/admin/mailboxes",
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    listed: list[dict[str, Any]] = response.json()["mailboxes"]
    return listed
