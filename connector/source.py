"""The dlt source `emailgistics`: loads fetched windows and commits their state.

The API work happens elsewhere (see `connector.engine`); a source here is built
for one batch of windows whose rows already sit in spool files. Reading them
page by page keeps memory flat, and the state entries for those windows are
written into the resource state during the same extraction, so they commit
with the rows or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
import orjson
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.extract.resource import DltResource

from connector.arrow_pages import page_table
from connector.config import LoadConfig
from connector.periods import align
from connector.runner import FetchedWindow
from connector.settings import DETAIL_COLUMNS, METRIC_COLUMNS, SOURCE_NAME
from connector.state import write_entry

logger = logging.getLogger(__name__)

PERFORMANCE_TABLE = "mailbox_user_performance"
PRIMARY_KEY = ("mailbox_id", "user_id", "period", "start_date_time")
MERGE_KEY = ("mailbox_id", "period", "start_date_time")

_WALL_TIME: TColumnSchema = {"data_type": "timestamp", "timezone": False}
PAGES_PER_TABLE = 20
_VALUE_COLUMNS = frozenset(
    {name for group in METRIC_COLUMNS.values() for name in group} | set(DETAIL_COLUMNS)
)


@dataclass
class LoadBatch:
    """What one `pipeline.run` loads.

    Attributes:
        windows: Fetched windows whose spool files hold the rows.
        state_updates: (mailbox id, period, entry) to commit with the rows.
        mailboxes: Mailbox objects from the mailbox list, or None to skip the
            `mailboxes` and `mailbox_users` tables in this batch.
    """

    windows: list[FetchedWindow] = field(default_factory=list)
    state_updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    mailboxes: list[dict[str, Any]] | None = None
    week_start: str = "monday"


def performance_columns(config: LoadConfig) -> TTableSchemaColumns:
    """Column hints for `mailbox_user_performance`, declared up front.

    Declaring every metric of the requested groups keeps its type fixed (no
    variant columns when an average happens to be whole) and creates columns
    that are null in the first load.
    """
    columns: TTableSchemaColumns = {
        "mailbox_id": {"data_type": "text", "nullable": False},
        "user_id": {"data_type": "text", "nullable": False},
        "period": {"data_type": "text", "nullable": False},
        "start_date_time": {**_WALL_TIME, "nullable": False},
        "time_zone": {"data_type": "text"},
        "data_cutoff_timestamp": {**_WALL_TIME, "nullable": True},
        "is_provisional": {"data_type": "bool", "nullable": False},
    }
    for group in config.field_groups:
        for name, data_type in METRIC_COLUMNS[group].items():
            columns[name] = {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]
    if config.include_details:
        for name, data_type in DETAIL_COLUMNS.items():
            columns[name] = {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]
    for name, column in columns.items():
        column["name"] = name
    return columns


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def emailgistics(config: LoadConfig, batch: LoadBatch) -> Sequence[DltResource]:
    """The Emailgistics source for one batch of fetched windows.

    Args:
        config: The validated settings (column hints depend on field groups).
        batch: The windows, state updates and mailbox list to load.

    Returns:
        `mailbox_user_performance`, plus `mailboxes` and `mailbox_users` when the
        batch carries the mailbox list.
    """
    value_columns = {
        name: str(column["data_type"])
        for name, column in performance_columns(config).items()
        if name in _VALUE_COLUMNS
    }
    resources = [
        dlt.resource(
            _performance_rows(batch, value_columns),
            name=PERFORMANCE_TABLE,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key=list(PRIMARY_KEY),
            merge_key=list(MERGE_KEY),
            columns=performance_columns(config),
        )
    ]
    if batch.mailboxes is not None:
        resources.append(
            dlt.resource(
                _mailbox_rows(batch.mailboxes),
                name="mailboxes",
                write_disposition="merge",
                primary_key="mailbox_id",
                columns={
                    "mailbox_id": {"data_type": "text", "nullable": False},
                    "mailbox_name": {"data_type": "text"},
                    "mailbox_email": {"data_type": "text"},
                    "active": {"data_type": "bool"},
                    "time_zone": {"data_type": "text"},
                },
            )
        )
        resources.append(
            dlt.resource(
                _user_rows(batch.mailboxes),
                name="mailbox_users",
                write_disposition="merge",
                primary_key=["mailbox_id", "user_id"],
                columns={
                    "mailbox_id": {"data_type": "text", "nullable": False},
                    "user_id": {"data_type": "text", "nullable": False},
                    "user_name": {"data_type": "text"},
                    "user_email": {"data_type": "text"},
                    "active": {"data_type": "bool"},
                },
            )
        )
    return resources


# Known gap: the merge key only deletes periods that still have at least one
# row in the new batch. If every row of a previously loaded period vanished
# (not just moved to another user), its old rows would stay. Emitting a
# hard-delete tombstone for each provisional period without rows would close it.
def _performance_rows(
    batch: LoadBatch, value_columns: dict[str, str]
) -> Iterator[pa.Table]:
    for fetched in batch.windows:
        yield from _window_pages(fetched, batch.week_start, value_columns)

    resource_state = dlt.current.resource_state()
    for mailbox_id, period, entry in batch.state_updates:
        write_entry(resource_state, mailbox_id, period, entry)


def _window_pages(
    fetched: FetchedWindow, week_start: str, value_columns: dict[str, str]
) -> Iterator[pa.Table]:
    """Yields a window's rows as Arrow tables of up to `PAGES_PER_TABLE` pages.

    dlt's fixed cost per item (schema checks) is paid per table, not per page,
    while memory stays bounded by one table's rows.
    """
    job = fetched.job
    cutoff = fetched.data_cutoff
    provisional_from = (
        align(cutoff, job.period, week_start) if cutoff is not None else None
    )
    tables: list[pa.Table] = []
    with fetched.spool_path.open("rb") as spool:
        for line in spool:
            tables.append(
                page_table(
                    orjson.loads(line),
                    mailbox_id=job.mailbox_id,
                    period=job.period,
                    time_zone=fetched.time_zone,
                    data_cutoff=cutoff,
                    provisional_from=provisional_from,
                    value_columns=value_columns,
                )
            )
            if len(tables) == PAGES_PER_TABLE:
                yield pa.concat_tables(tables, promote_options="permissive")
                tables = []
    if tables:
        yield pa.concat_tables(tables, promote_options="permissive")


def _mailbox_rows(mailboxes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for mailbox in mailboxes:
        yield {
            "mailbox_id": mailbox.get("mailboxId"),
            "mailbox_name": mailbox.get("mailboxName"),
            "mailbox_email": mailbox.get("mailboxEmail"),
            "active": mailbox.get("active"),
            "time_zone": mailbox.get("timeZone"),
        }


def _user_rows(mailboxes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for mailbox in mailboxes:
        for user in mailbox.get("users") or []:
            if isinstance(user, dict):
                yield {
                    "mailbox_id": mailbox.get("mailboxId"),
                    "user_id": user.get("userId"),
                    "user_name": user.get("userName"),
                    "user_email": user.get("userEmail"),
                    "active": user.get("active"),
                }
