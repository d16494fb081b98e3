"""Defaults, limits and fixed names shared by the connector's modules."""

from __future__ import annotations

from typing import Final

SOURCE_NAME: Final = "emailgistics"
PIPELINE_NAME: Final = "emailgistics"
DATASET_NAME: Final = "emailgistics"
DEFAULT_DUCKDB_FILE: Final = "warehouse.duckdb"

DEFAULT_BASE_URL: Final = "https://c1.emailgistics.com"
MAILBOXES_PATH: Final = "/api/v1/admin/mailboxes"
REPORT_PATH: Final = "/api/v1/reports/mailboxUserPerformance"

PERIODS: Final = ("hour", "day", "week", "month")
DEFAULT_PERIOD: Final = "day"
FIELD_GROUPS: Final = ("replyData", "closeData")
WEEKDAYS: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
DEFAULT_WEEK_START: Final = "monday"

MAX_PAGE_SIZE: Final = 500
DEFAULT_PAGE_SIZE: Final = 500
DEFAULT_MAX_CONCURRENT_RUNS: Final = 3
DEFAULT_REQUESTS_PER_MINUTE: Final = 100
DEFAULT_POLL_INITIAL_SECONDS: Final = 2.0
DEFAULT_POLL_MAX_SECONDS: Final = 30.0
DEFAULT_JOB_TIMEOUT_SECONDS: Final = 40 * 60.0
DEFAULT_RATE_LIMIT_WAIT_SECONDS: Final = 60.0
DEFAULT_LOOKBACK: Final = "P1D"
DEFAULT_INITIAL_LOOKBACK_DAYS: Final = 30

# One report run covers at most this many whole periods (a nightly run's windows
# are exactly this long). Backfills size their windows below it from the users
# and `window_target_rows` (see sizing.py): a day of 30 users is ~30 rows, so
# two years of days fit one 25k-row run, while an hour of the same users is
# sparse and a month of hours stays well under the API's ~30 minute ceiling.
PERIODS_PER_WINDOW: Final = {"hour": 31 * 24, "day": 731, "week": 105, "month": 24}

HTTP_TIMEOUT_SECONDS: Final = 60.0
GET_RETRY_ATTEMPTS: Final = 6
GET_RETRY_MAX_WAIT_SECONDS: Final = 30.0
RATE_LIMIT_MAX_ATTEMPTS: Final = 8
RATE_LIMIT_MAX_WAIT_SECONDS: Final = 600.0
RESUBMIT_EXPIRED_ATTEMPTS: Final = 3
POST_RETRY_WAIT_SECONDS: Final = 5.0

# The request budget is N requests in any window of this length (see budget.py).
DEFAULT_RATE_WINDOW_SECONDS: Final = 60.0

# A backfill run should return about this many rows at most (estimated as one row
# per user and period): 50 full pages. Fewer, larger runs spend less of the
# budget on submits and polls and less slot time on each run's fixed start-up;
# see sizing.py for how the range, grain and users set each window.
DEFAULT_WINDOW_TARGET_ROWS: Final = 25_000

# Fetched windows are loaded in batches while fetching goes on. Each dlt run
# costs ~0.4 s of CPU whatever its size, so a long backfill loads every 100k
# rows or 20 s, not every few seconds; a nightly run loads once at the end.
LOAD_BATCH_SECONDS: Final = 20.0
LOAD_BATCH_ROWS: Final = 100_000

METRIC_COLUMNS: Final = {
    "replyData": {
        "assigned": "bigint",
        "reassigned": "bigint",
        "initiated": "bigint",
        "initial_replies": "bigint",
        "additional_replies": "bigint",
        "average_user_initial_reply_time": "double",
        "average_mailbox_initial_reply_time": "double",
        "average_elapsed_initial_reply_time": "double",
        "reply_conversations": "bigint",
        "active_conversations": "bigint",
    },
    "closeData": {
        "assigned": "bigint",
        "reassigned": "bigint",
        "closed_archived": "bigint",
        "closed_deleted": "bigint",
        "closed_junk": "bigint",
        "closed_sent_items": "bigint",
        "average_user_close_time": "double",
    },
}
DETAIL_COLUMNS: Final = {
    "user_name": "text",
    "user_email": "text",
    "user_active": "bool",
}
