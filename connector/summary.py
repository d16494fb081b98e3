"""What a load did, per mailbox, and the counters shown while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pendulum

from connector.periods import Window


@dataclass(frozen=True)
class ProgressSnapshot:
    """Counts at one moment of a load, for a progress display."""

    runs_submitted: int
    runs_running: int
    runs_done: int
    windows_total: int
    windows_outstanding: int
    windows_failed: int
    pages: int
    rows_fetched: int
    rows_loaded: int
    loads: int
    requests: int
    rate_limited: int
    retries: int


@dataclass
class MailboxSummary:
    """One mailbox's part of a load.

    Attributes:
        first_start, last_end: The span of the windows loaded in this run.
        final_through: The committed cursor after the run: data before it is
            final (local wall time), or None when no nightly state exists.
    """

    mailbox_id: str
    mailbox_name: str
    time_zone: str
    windows_planned: int = 0
    windows_loaded: int = 0
    windows_loaded_now: int = 0
    rows: int = 0
    first_start: pendulum.DateTime | None = None
    last_end: pendulum.DateTime | None = None
    final_through: str | None = None
    failures: list[str] = field(default_factory=list)

    def add_window(self, window: Window, rows: int) -> None:
        """Counts a window loaded in this run."""
        self.windows_loaded_now += 1
        self.rows += rows
        if self.first_start is None or window.start < self.first_start:
            self.first_start = window.start
        if self.last_end is None or window.end > self.last_end:
            self.last_end = window.end


@dataclass
class LoadSummary:
    """The result of `run_load`."""

    mode: str
    period: str
    mailboxes: dict[str, MailboxSummary] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    loads: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every planned window loaded."""
        return not self.failures

    def add_failure(self, mailbox_id: str, message: str) -> None:
        """Records a failed window (or mailbox)."""
        self.failures.append(message)
        if mailbox_id in self.mailboxes:
            self.mailboxes[mailbox_id].failures.append(message)

    def render(self) -> str:
        """A plain-text table: per mailbox the windows, rows and new cursor.

        Spans are half-open, `[first start, last end)`; "final before" is the
        committed cursor: every period starting before it is final.
        """
        lines = [
            f"{self.mode.capitalize()} load ({self.period}): "
            f"{plural(self.rows_loaded, 'row')} merged in "
            f"{plural(self.loads, 'load')}, "
            f"{plural(self.requests, 'API request')}, "
            f"{self.duration_seconds:.1f}s"
        ]
        header = (
            "mailbox",
            "zone",
            "windows loaded",
            "span loaded [start, end)",
            "rows",
            "final before",
        )
        table = [header]
        for item in self.mailboxes.values():
            span = (
                f"[{_short(item.first_start)}, {_short(item.last_end)})"
                if item.first_start is not None and item.last_end is not None
                else "-"
            )
            windows = f"{item.windows_loaded_now}/{item.windows_planned}"
            earlier = item.windows_loaded - item.windows_loaded_now
            if earlier > 0:
                windows = (
                    f"{item.windows_loaded}/{item.windows_planned} ({earlier} resumed)"
                )
            table.append(
                (
                    item.mailbox_name or item.mailbox_id,
                    item.time_zone,
                    windows,
                    span,
                    str(item.rows),
                    (item.final_through or "-").replace("T", " "),
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append(
                "  ".join(
                    cell.ljust(w) for cell, w in zip(row, widths, strict=True)
                ).rstrip()
            )
        if self.rate_limited or self.retries:
            lines.append(f"429 responses: {self.rate_limited}, retries: {self.retries}")
        for failure in sorted(self.failures):
            lines.append(f"FAILED {failure}")
        return "\n".join(lines)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 row`, `2 rows`; `nouns` for an irregular plural (`mailboxes`)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def _short(value: pendulum.DateTime) -> str:
    if value.hour == 0 and value.minute == 0:
        return value.format("YYYY-MM-DD")
    return value.format("YYYY-MM-DD HH:mm")
