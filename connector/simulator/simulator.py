"""The simulator's state and operations, shared by the HTTP app and the tests.

All mutable state sits behind one lock, so tests may steer the simulator from
their own thread while the server thread answers requests.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from connector.simulator.clock import SimClock, format_utc, parse_utc
from connector.simulator.faults import FaultBook
from connector.simulator.limits import SlidingWindowLimiter
from connector.simulator.reports import (
    ReportEngine,
    ReportQuery,
    ValidationError,
    parse_boolean,
    parse_field_groups,
    parse_local_datetime,
    parse_report_body,
)
from connector.simulator.requestlog import RequestLog, RequestRecord
from connector.simulator.runs import Run
from connector.simulator.settings import (
    ApiKey,
    Fault,
    SimulatorSettings,
    settings_to_dict,
    updated_settings,
)
from connector.simulator.world import Mailbox, build_mailboxes

logger = logging.getLogger(__name__)

MAX_STORED_ROWS = 200_000
REPORTING_SCOPE = "reporting"
RATE_LIMITED_MESSAGE = "Rate limit exceeded."


class ApiError(Exception):
    """An error answer: HTTP status, message, and whether to add `_links`."""

    def __init__(self, status: int, message: str, with_links: bool = True) -> None:
        """Creates the error.

        Args:
            status: The HTTP status.
            message: The human-readable `error.message`.
            with_links: Whether the envelope carries `_links.origin`; the
                documented 403 and 429 bodies do not.
        """
        super().__init__(message)
        self.status = status
        self.message = message
        self.with_links = with_links


class Simulator:
    """One simulated Emailgistics account: data, clock, keys, runs and faults."""

    def __init__(self, settings: SimulatorSettings | None = None) -> None:
        """Creates the simulator; the data is derived lazily from the seed."""
        self._settings = settings or SimulatorSettings()
        self.clock = SimClock(self._settings.clock, self._settings.now)
        self.mailboxes: tuple[Mailbox, ...] = build_mailboxes(self._settings)
        self.engine = ReportEngine(self._settings, self.mailboxes)
        self._limiter = SlidingWindowLimiter()
        self._lock = threading.RLock()
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._stored_rows = 0
        self._faults = FaultBook(self._settings.faults)
        self._requests = RequestLog()

    @property
    def settings(self) -> SimulatorSettings:
        """The current settings."""
        return self._settings

    # Keys, limits and access.

    def authenticate(self, authorization: str | None) -> ApiKey:
        """Returns the key of a request's `Authorization` header.

        Raises:
            ApiError: 401 if the header is missing, malformed, unknown or expired.
        """
        if not authorization:
            raise ApiError(401, "Missing API key.")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(
                401, "Malformed Authorization header; expected 'Bearer <key>'."
            )
        value = value.strip()
        for key in self._settings.keys:
            if key.key == value:
                if key.expires is not None and self.clock.now() >= parse_utc(
                    key.expires
                ):
                    raise ApiError(401, "API key expired.")
                return key
        raise ApiError(401, "Invalid API key.")

    def check_rate(self, key: ApiKey) -> None:
        """Counts a request against the account's rate limit.

        Raises:
            ApiError: 429 past the limit.
        """
        settings = self._settings
        if not self._limiter.try_acquire(
            key.account,
            time.time(),
            settings.requests_per_minute,
            settings.rate_window_seconds,
        ):
            logger.info("rate limit reached for account %s", key.account)
            raise ApiError(429, RATE_LIMITED_MESSAGE, with_links=False)

    @staticmethod
    def check_scope(key: ApiKey, scope: str = REPORTING_SCOPE) -> None:
        """Raises a 403 ApiError unless the key holds `scope`."""
        if scope not in key.scopes:
            raise ApiError(
                403,
                f"The API key is missing the required scope '{scope}'.",
                with_links=False,
            )

    def allowed_mailboxes(self, key: ApiKey) -> list[Mailbox]:
        """Returns the mailboxes in the key's allowlist."""
        if key.mailbox_ids is None:
            return list(self.mailboxes)
        return [m for m in self.mailboxes if m.mailbox_id in key.mailbox_ids]

    def mailbox_for(self, key: ApiKey, mailbox_id: str) -> Mailbox:
        """Returns a mailbox the key may use.

        Raises:
            ApiError: 404 if it does not exist or is outside the allowlist.
        """
        for mailbox in self.allowed_mailboxes(key):
            if mailbox.mailbox_id == mailbox_id:
                return mailbox
        raise ApiError(404, "Mailbox not found.")

    # Runs.

    def cutoff(self) -> int:
        """Returns the data cutoff instant (epoch seconds)."""
        return int(self.clock.now() - self._settings.cutoff_lag_minutes * 60)

    def reserve_run(
        self, key: ApiKey, query: ReportQuery, parameters: dict[str, Any]
    ) -> Run:
        """Creates a run that holds a concurrency slot until its rows are attached.

        Raises:
            ApiError: 429 if the account already has the maximum of running runs.
        """
        settings = self._settings
        now_real = time.time()
        now_sim = self.clock.now()
        with self._lock:
            self._purge_expired(now_sim)
            running = sum(
                1
                for run in self._runs.values()
                if run.account == key.account and run.status(now_real) == "running"
            )
            if running >= settings.max_running_runs:
                logger.info("concurrency limit reached for account %s", key.account)
                raise ApiError(429, RATE_LIMITED_MESSAGE, with_links=False)
            run = Run(
                run_id=str(uuid.uuid4()),
                owner=key.key,
                key_name=key.name,
                account=key.account,
                query=query,
                parameters=parameters,
                cutoff=self.cutoff(),
                late_attribution_seconds=int(settings.late_attribution_minutes * 60),
                created_time=now_real,
                done_time=math.inf,
                created_sim=now_sim,
                expires_sim=now_sim + settings.result_ttl_hours * 3600,
                time_zone=self.engine.mailboxes[query.mailbox_id].time_zone,
                data_cutoff=None,
                row_count=0,
            )
            self._runs[run.run_id] = run
        return run

    def compute_run(self, run: Run) -> None:
        """Computes a reserved run's rows and starts its `running` time.

        Blocking: call it from a worker thread in async code.
        """
        result = self.engine.compute(
            run.query, run.cutoff, run.late_attribution_seconds
        )
        settings = self._settings
        with self._lock:
            run.attach(result)
            run.data_cutoff = result.data_cutoff
            self._stored_rows += run.row_count
            duration = settings.run_seconds + settings.run_seconds_per_1000_rows * (
                run.row_count / 1000
            )
            run.done_time = run.created_time + duration
            self._evict_rows(keep=run.run_id)
        logger.info(
            "run %s: %s %s rows for %s", run.run_id, run.row_count, run.query.period,
            run.query.mailbox_id,
        )  # fmt: skip

    def discard_run(self, run: Run) -> None:
        """Forgets a run whose computation failed, freeing its slot."""
        with self._lock:
            self._runs.pop(run.run_id, None)

    def ensure_rows(self, run: Run) -> None:
        """Recomputes the rows of a run whose rows were evicted (blocking)."""
        if run.rows is not None:
            return
        result = self.engine.compute(
            run.query, run.cutoff, run.late_attribution_seconds
        )
        with self._lock:
            if run.rows is None:
                run.attach(result)
                self._stored_rows += run.row_count
                self._evict_rows(keep=run.run_id)

    def find_run(self, key: ApiKey, run_id: str) -> Run:
        """Returns a run of this key that has not expired.

        Raises:
            ApiError: 404 if unknown, expired, or started by another key.
        """
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.owner != key.key:
                raise ApiError(404, "Report result not found.")
            if run.is_expired or self.clock.now() >= run.expires_sim:
                raise ApiError(404, "Report result not found or expired.")
            self._runs.move_to_end(run_id)
            return run

    def expire_run(self, run_id: str) -> None:
        """Expires a run at once (its results answer 404 from now on)."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                run.is_expired = True

    def run_mailbox(self, run_id: str) -> str | None:
        """Returns the mailbox of a run, for fault matching."""
        run = self._runs.get(run_id)
        return None if run is None else run.query.mailbox_id

    def _purge_expired(self, now_sim: float) -> None:
        for run_id in [
            r.run_id for r in self._runs.values() if now_sim >= r.expires_sim
        ]:
            run = self._runs.pop(run_id)
            if run.rows is not None:
                self._stored_rows -= run.row_count

    def _evict_rows(self, keep: str) -> None:
        for run in self._runs.values():
            if self._stored_rows <= MAX_STORED_ROWS:
                return
            if run.run_id != keep and run.rows is not None:
                run.rows = None
                run.ids = []
                self._stored_rows -= run.row_count

    def runs(self) -> list[dict[str, Any]]:
        """Lists every run not yet purged."""
        now_real, now_sim = time.time(), self.clock.now()
        with self._lock:
            runs = sorted(self._runs.values(), key=lambda r: r.created_time)
            return [r.summary(now_real, now_sim) for r in runs]

    # Faults.

    def set_faults(self, faults: list[Fault]) -> None:
        """Replaces the injected faults (their counters restart)."""
        self._faults.replace(faults)

    def faults(self) -> list[dict[str, Any]]:
        """Returns the injected faults with how many requests each has matched."""
        return self._faults.to_json()

    def match_fault(
        self, method: str, path: str, mailbox_id: str | None
    ) -> Fault | None:
        """Counts a request against the faults; returns the one to apply."""
        return self._faults.match(method, path, mailbox_id)

    def record(self, record: RequestRecord) -> None:
        """Appends a request to the log."""
        self._requests.append(record)

    def requests(self) -> list[dict[str, Any]]:
        """Returns the request log, oldest first."""
        return self._requests.to_json()

    def clear_requests(self) -> None:
        """Empties the request log."""
        self._requests.clear()

    def clock_state(self) -> dict[str, Any]:
        """Returns now and the cutoff as UTC ISO strings."""
        now = self.clock.now()
        return {
            "now": format_utc(now),
            "cutoff": format_utc(now - self._settings.cutoff_lag_minutes * 60),
            "mode": self.clock.mode,
        }

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Moves simulated time forward and returns the new clock state."""
        self.clock.advance(seconds)
        return self.clock_state()

    def set_now(self, now: str) -> dict[str, Any]:
        """Sets simulated now (UTC ISO 8601) and returns the new clock state."""
        self.clock.set(now)
        return self.clock_state()

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Changes timing, limit or key settings at run time.

        Raises:
            ValueError: A field is unknown or fixed.
        """
        with self._lock:
            self._settings = updated_settings(self._settings, changes)
            return settings_to_dict(self._settings)

    def settings_json(self) -> dict[str, Any]:
        """Returns the settings with key values redacted."""
        return settings_to_dict(self._settings)

    def reset_limits(self) -> None:
        """Forgets the request-rate history."""
        self._limiter.reset()

    # Ground truth.

    def truth(self, params: dict[str, str]) -> dict[str, Any]:
        """Returns the rows (without ids) a report submitted now would return.

        Args:
            params: `mailboxId`, `period`, `start`, `end`, and optionally
                `fieldGroup`, `includeDetails` and `users` (comma-separated).

        Raises:
            ValidationError: A parameter is missing or invalid.
        """
        body: dict[str, Any] = {
            k: params.get(k) for k in ("mailboxId", "start", "end", "period")
        }
        if params.get("users"):
            body["users"] = params["users"].split(",")
        query = parse_report_body(
            body,
            parse_field_groups(params.get("fieldGroup")),
            parse_boolean("includeDetails", params.get("includeDetails"), False),
        )
        if query.mailbox_id not in self.engine.mailboxes:
            raise ValidationError(f"unknown mailboxId {query.mailbox_id!r}")
        late = int(self._settings.late_attribution_minutes * 60)
        result = self.engine.compute(query, self.cutoff(), late)
        return {
            "timeZone": result.time_zone,
            "dataCutoffTimestamp": result.data_cutoff,
            "rows": [
                {k: v for k, v in row.items() if k != "id"} for row in result.rows
            ],
        }

    def events(self, mailbox_id: str, start: str, end: str) -> list[dict[str, Any]]:
        """Returns the raw event log of a mailbox for local days start..end.

        Raises:
            ValidationError: A parameter is missing or invalid.
        """
        if mailbox_id not in self.engine.mailboxes:
            raise ValidationError(f"unknown mailboxId {mailbox_id!r}")
        first: datetime = parse_local_datetime("start", start)
        last: datetime = parse_local_datetime("end", end)
        return self.engine.event_log(mailbox_id, first, last)
