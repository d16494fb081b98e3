"""One page of report rows as an Arrow table with the warehouse's columns.

dlt loads Arrow tables almost as they are: it skips its row-by-row
normalization, which costs several times more CPU than fetching and parsing
the rows. So each page is turned into columns here, once, with the declared
types: the enrichment columns (`mailbox_id`, `period`, `time_zone`,
`is_provisional`, and `data_cutoff_timestamp` on provisional rows only),
`start_date_time` as a timestamp without time zone, the metrics and details
of the requested groups in snake_case, and any field the API added since
(kept, with its inferred type, as the API's versioning rules ask).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

WALL_TIME = pa.timestamp("us")
ARROW_TYPES: Mapping[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
}
_REQUIRED_COLUMNS = frozenset(
    {"mailbox_id", "user_id", "period", "start_date_time", "is_provisional"}
)
_SKIPPED_FIELDS = frozenset({"id", "startDateTime", "userId"})
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def api_name(column: str) -> str:
    """Give the API's camelCase field name for a snake_case column."""
    first, *rest = column.split("_")
    return first + "".join(part.title() for part in rest)


def column_name(field: str) -> str:
    """Give the snake_case column for an API field name."""
    return _CAMEL_BOUNDARY.sub("_", field).lower()


def page_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    mailbox_id: str,
    period: str,
    time_zone: str,
    data_cutoff: datetime | None,
    provisional_from: datetime | None,
    value_columns: Mapping[str, str],
) -> pa.Table:
    """Build the Arrow table for one page of rows.

    Args:
        rows: The page's rows as the API sent them.
        mailbox_id: The mailbox the run was for.
        period: The run's grain.
        time_zone: The mailbox's IANA time zone.
        data_cutoff: The result's cutoff as a naive wall time, if any.
        provisional_from: Rows starting at or after this are provisional.
        value_columns: Metric and detail columns with their dlt data types.

    Returns:
        One row per API row; a missing field is null, never zero.
    """
    count = len(rows)
    start = pa.array([row.get("startDateTime") for row in rows], pa.string())
    start = start.cast(WALL_TIME)
    if provisional_from is None:
        provisional = pa.array([False] * count, pa.bool_())
    else:
        boundary = pa.scalar(provisional_from, WALL_TIME)
        provisional = pc.fill_null(pc.greater_equal(start, boundary), False)

    columns: dict[str, pa.Array] = {
        "mailbox_id": pa.array([mailbox_id] * count, pa.string()),
        "user_id": pa.array([row.get("userId") for row in rows], pa.string()),
        "period": pa.array([period] * count, pa.string()),
        "start_date_time": start,
        "time_zone": pa.array([time_zone] * count, pa.string()),
        "data_cutoff_timestamp": _cutoff_column(data_cutoff, provisional),
        "is_provisional": provisional,
    }
    known = set(_SKIPPED_FIELDS)
    for column, data_type in value_columns.items():
        field = api_name(column)
        known.add(field)
        values = [row.get(field) for row in rows]
        columns[column] = _typed(values, ARROW_TYPES[data_type])

    extra = sorted({field for row in rows for field in row} - known)
    for field in extra:
        name = column_name(field)
        if name not in columns:
            columns[name] = _typed([row.get(field) for row in rows], None)
    schema = pa.schema(
        pa.field(name, array.type, nullable=name not in _REQUIRED_COLUMNS)
        for name, array in columns.items()
    )
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def _cutoff_column(data_cutoff: datetime | None, provisional: pa.Array) -> pa.Array:
    """The cutoff on provisional rows; final rows have none."""
    if data_cutoff is None:
        return pa.nulls(len(provisional), WALL_TIME)
    return pc.if_else(
        provisional, pa.scalar(data_cutoff, WALL_TIME), pa.scalar(None, WALL_TIME)
    )


def _typed(values: list[Any], arrow_type: pa.DataType | None) -> pa.Array:
    try:
        array = pa.array(values)
        if arrow_type is None or array.type == arrow_type:
            return array
        return array.cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed or unexpected types (never seen from the API): keep the values
        # as text rather than lose them; the column then needs a look.
        return pa.array([None if v is None else str(v) for v in values], pa.string())
