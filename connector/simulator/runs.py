"""Report runs: their life cycle, and the result envelope with its pages."""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from connector.simulator.reports import ReportQuery, ReportResult

logger = logging.getLogger(__name__)

REPORT_PATH = "/api/v1/reports/mailboxUserPerformance"
RESULTS_PATH = "/api/v1/reports/results/"
FIRST_ROW_ID = 10001


@dataclass
class Run:
    """One report run, from submission until it expires.

    Real-time fields (`created_time`, `done_time`) are epoch seconds of the
    wall clock and drive `running`/`done`; simulated-time fields drive expiry.
    The rows may be dropped to save memory (`rows is None`) and are then
    recomputed from the query and the cutoff, which fix them completely.
    """

    run_id: str
    owner: str
    key_name: str
    account: str
    query: ReportQuery
    parameters: dict[str, Any]
    cutoff: int
    late_attribution_seconds: int
    created_time: float
    done_time: float
    created_sim: float
    expires_sim: float
    time_zone: str
    data_cutoff: str | None
    row_count: int
    rows: list[dict[str, Any]] | None = None
    ids: list[int] = field(default_factory=list)
    is_expired: bool = False

    def attach(self, result: ReportResult) -> None:
        """Numbers the result's rows and keeps them."""
        rows = result.rows
        for offset, row in enumerate(rows):
            row["id"] = str(FIRST_ROW_ID + offset)
        self.rows = rows
        self.ids = list(range(FIRST_ROW_ID, FIRST_ROW_ID + len(rows)))
        self.row_count = len(rows)

    def status(self, now_real: float) -> str:
        """Returns `running` or `done` at a wall-clock instant."""
        return "running" if now_real < self.done_time else "done"

    def summary(self, now_real: float, now_sim: float) -> dict[str, Any]:
        """Returns the run as `GET /_sim/runs` lists it."""
        status = self.status(now_real)
        if self.is_expired or now_sim >= self.expires_sim:
            status = "expired"
        return {
            "id": self.run_id,
            "key_name": self.key_name,
            "mailbox_id": self.query.mailbox_id,
            "period": self.query.period,
            "start": self.query.start.isoformat(),
            "end": self.query.end.isoformat(),
            "status": status,
            "rows": self.row_count,
            "created_time": self.created_time,
            "done_time": self.done_time,
        }


def link(href: str, method: str = "GET") -> dict[str, Any]:
    """Returns one `_links` entry."""
    return {"href": href, "method": method}


def origin_link(base_url: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Returns the `origin` link of a report run."""
    return {
        "href": base_url + REPORT_PATH,
        "method": "POST",
        "body": {"parameters": parameters},
    }


def _results_url(base_url: str, run_id: str, query: dict[str, Any]) -> str:
    return f"{base_url}{RESULTS_PATH}{run_id}?{urlencode(query)}"


@dataclass(frozen=True)
class PageRequest:
    """The page parameters of a results request (already validated)."""

    max_rows: int
    starting_after: int | None
    ending_before: int | None


def envelope(
    run: Run,
    page: PageRequest,
    base_url: str,
    now_real: float,
    defer_total: bool,
) -> dict[str, Any]:
    """Builds the result envelope of a run for one page.

    Args:
        run: The run; its rows must be attached if it is done.
        page: Which page to serve.
        base_url: Scheme, host and port for the absolute links.
        now_real: Wall-clock now, which decides running or done.
        defer_total: If true, `total` is null except on the last page.
    """
    self_query: dict[str, Any] = {"max": page.max_rows}
    if page.starting_after is not None:
        self_query["starting_after"] = page.starting_after
    if page.ending_before is not None:
        self_query["ending_before"] = page.ending_before
    links: dict[str, Any] = {
        "self": link(_results_url(base_url, run.run_id, self_query))
    }
    result: dict[str, Any] = {"total": None}

    if run.status(now_real) == "running":
        span = max(run.done_time - run.created_time, 1e-9)
        progress = int(100 * (now_real - run.created_time) / span)
        links["origin"] = origin_link(base_url, run.parameters)
        result["data"] = []
        result["timeZone"] = run.time_zone
        return {
            "_links": links,
            "status": "running",
            "progress": max(0, min(99, progress)),
            "result": result,
        }

    rows = run.rows or []
    ids = run.ids
    if page.starting_after is not None:
        first = bisect_right(ids, page.starting_after)
        last = min(len(rows), first + page.max_rows)
    elif page.ending_before is not None:
        last = bisect_left(ids, page.ending_before)
        first = max(0, last - page.max_rows)
    else:
        first, last = 0, min(len(rows), page.max_rows)

    if last < len(rows) and last > first:
        links["next"] = link(
            _results_url(
                base_url,
                run.run_id,
                {"max": page.max_rows, "starting_after": ids[last - 1]},
            )
        )
    if first > 0:
        before = ids[first] if first < len(ids) else ids[-1] + 1
        links["prev"] = link(
            _results_url(
                base_url, run.run_id, {"max": page.max_rows, "ending_before": before}
            )
        )
    links["origin"] = origin_link(base_url, run.parameters)

    is_last_page = last >= len(rows)
    result["total"] = None if defer_total and not is_last_page else len(rows)
    if run.data_cutoff is not None:
        result["dataCutoffTimestamp"] = run.data_cutoff
    result["timeZone"] = run.time_zone
    result["data"] = rows[first:last]
    return {"_links": links, "status": "done", "progress": 100, "result": result}
