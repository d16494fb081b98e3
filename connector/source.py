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
from datetime import datetime
from typing import Any

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.extract.resource import DltResource

from connector.arrow_pages import WALL_TIME, page_table
from connector.config import LoadConfig
from connector.periods import add_periods, align
from connector.runner import FetchedWindow, WindowJob
from connector.settings import DETAIL_COLUMNS, METRIC_COLUMNS, SOURCE_NAME
from connector.state import write_entry

logger = logging.getLogger(__name__)

PERFORMANCE_TABLE = "mailbox_user_performance"
PRIMARY_KEY = ("mailbox_id", "user_id", "period", "start_date_time")
MERGE_KEY = ("mailbox_id", "period", "start_date_time")
# Set only on the marker rows of fetched periods that came back empty: the merge
# key deletes what the period held, and dlt inserts no row flagged this way.
EMPTIED_PERIOD_COLUMN = "_period_emptied"
_NULLABLE_MARKER_COLUMNS = frozenset({"time_zone", EMPTIED_PERIOD_COLUMN})

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
        EMPTIED_PERIOD_COLUMN: {
            "data_type": "bool",
            "nullable": True,
            "hard_delete": True,
        },
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
    starts_with_rows: set[datetime] = set()
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
            starts_with_rows.update(
                pc.unique(tables[-1]["start_date_time"]).to_pylist()
            )
            if len(tables) == PAGES_PER_TABLE:
                yield pa.concat_tables(tables, promote_options="permissive")
                tables = []
    if tables:
        yield pa.concat_tables(tables, promote_options="permissive")

    emptied = [s for s in _period_starts(job) if s not in starts_with_rows]
    if emptied:
        yield _emptied_period_markers(job, fetched.time_zone, emptied)


def _period_starts(job: WindowJob) -> Iterator[datetime]:
    """Every period start in the job's window, as naive wall times."""
    start = job.window.start
    while start < job.window.end:
        yield datetime(start.year, start.month, start.day, start.hour, start.minute)
        start = add_periods(start, job.period, 1)


def _emptied_period_markers(
    job: WindowJob, time_zone: str, starts: list[datetime]
) -> pa.Table:
    """Marker rows for fetched periods without any row.

    A period that held rows in an earlier load (a provisional one, say) and now
    has none must lose them: the merge key deletes by (mailbox, period, start)
    only for starts present in the batch, so each empty period gets a marker
    that dlt deletes by and never inserts.
    """
    count = len(starts)
    columns = {
        "mailbox_id": pa.array([job.mailbox_id] * count, pa.string()),
        "user_id": pa.array([""] * count, pa.string()),
        "period": pa.array([job.period] * count, pa.string()),
        "start_date_time": pa.array(starts, WALL_TIME),
        "time_zone": pa.array([time_zone] * count, pa.string()),
        "is_provisional": pa.array([False] * count, pa.bool_()),
        EMPTIED_PERIOD_COLUMN: pa.array([True] * count, pa.bool_()),
    }
    schema = pa.schema(
        pa.field(name, array.type, nullable=name in _NULLABLE_MARKER_COLUMNS)
        for name, array in columns.items()
    )
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


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
