"""Pages of report rows as Arrow tables with the warehouse's columns."""

from datetime import datetime
from typing import Any

import pyarrow as pa

from connector.arrow_pages import api_name, column_name, page_table

VALUE_COLUMNS = {"initial_replies": "bigint", "average_user_close_time": "double"}


def table(rows: list[dict[str, Any]], **changes: Any) -> pa.Table:
    values: dict[str, Any] = {
        "mailbox_id": "mbx",
        "period": "day",
        "time_zone": "Europe/London",
        "data_cutoff": None,
        "provisional_from": None,
        "value_columns": VALUE_COLUMNS,
    }
    values.update(changes)
    return page_table(rows, **values)


def test_names_convert_between_api_fields_and_columns() -> None:
    assert api_name("average_user_close_time") == "averageUserCloseTime"
    assert column_name("averageUserCloseTime") == "average_user_close_time"
    assert column_name("userActive") == "user_active"


def test_rows_are_enriched_and_typed() -> None:
    rows = [
        {
            "id": "10001",
            "startDateTime": "2026-04-30T00:00:00",
            "userId": "u1",
            "initialReplies": 3,
            "averageUserCloseTime": 12,
        }
    ]

    result = table(rows).to_pylist()

    assert result == [
        {
            "mailbox_id": "mbx",
            "user_id": "u1",
            "period": "day",
            "start_date_time": datetime(2026, 4, 30),
            "time_zone": "Europe/London",
            "data_cutoff_timestamp": None,
            "is_provisional": False,
            "initial_replies": 3,
            "average_user_close_time": 12.0,
        }
    ]


def test_missing_fields_are_null_not_zero() -> None:
    rows = [{"startDateTime": "2026-04-30T00:00:00", "userId": "u1"}]

    result = table(rows).to_pylist()[0]

    assert result["initial_replies"] is None
    assert result["average_user_close_time"] is None


def test_rows_from_the_cutoff_period_are_provisional_and_carry_it() -> None:
    rows = [
        {"startDateTime": "2026-04-30T00:00:00", "userId": "u1"},
        {"startDateTime": "2026-05-01T00:00:00", "userId": "u1"},
    ]
    cutoff = datetime(2026, 5, 1, 8, 14)

    result = table(
        rows, data_cutoff=cutoff, provisional_from=datetime(2026, 5, 1)
    ).to_pylist()

    assert [r["is_provisional"] for r in result] == [False, True]
    assert [r["data_cutoff_timestamp"] for r in result] == [None, cutoff]


def test_fields_the_api_added_later_are_kept() -> None:
    rows = [{"startDateTime": "2026-04-30T00:00:00", "userId": "u1", "newCount": 7}]

    assert table(rows).to_pylist()[0]["new_count"] == 7


def test_a_fraction_in_a_count_column_is_not_truncated() -> None:
    rows = [
        {"startDateTime": "2026-04-30T00:00:00", "userId": "u1", "initialReplies": 2.5}
    ]

    assert table(rows).to_pylist()[0]["initial_replies"] in (2.5, "2.5")


def test_key_columns_are_not_nullable() -> None:
    rows = [{"startDateTime": "2026-04-30T00:00:00", "userId": "u1"}]

    schema = table(rows).schema

    assert not schema.field("user_id").nullable
    assert not schema.field("start_date_time").nullable
    assert schema.field("initial_replies").nullable
