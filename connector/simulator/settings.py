"""Settings of the simulator: data shape, clock, timings, limits, keys and faults.

Everything the simulator does is a function of one `SimulatorSettings` value
plus the simulated clock. Timing and limit fields can be changed while the
server runs (see `MUTABLE_FIELDS`); the data fields cannot.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

logger = logging.getLogger(__name__)

DEMO_KEY = "sim-demo-key"
DEMO_KEY_NAME = "demo"

TIME_ZONES: tuple[str, ...] = (
    "America/New_York",
    "Asia/Kolkata",
    "Europe/London",
    "Australia/Adelaide",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Kathmandu",
    "America/Chicago",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Europe/Paris",
)

FAULT_KINDS = ("status", "drop", "delay", "malformed", "expire")

ClockMode = Literal["real", "manual"]


@dataclass(frozen=True)
class ApiKey:
    """An API key as an administrator would create it.

    Attributes:
        key: The secret value sent as `Authorization: Bearer <key>`.
        name: A label; the only thing the request log ever shows.
        scopes: Scopes the key holds (`reporting`, `messages:read`, ...).
        mailbox_ids: The mailbox allowlist; None allows every mailbox.
        expires: UTC ISO 8601 instant (simulated time) from which the key
            answers 401; None never expires.
        account: The account the key belongs to; limits are per account.
    """

    key: str
    name: str
    scopes: tuple[str, ...] = ("reporting",)
    mailbox_ids: tuple[str, ...] | None = None
    expires: str | None = None
    account: str = "default"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ApiKey:
        """Builds a key from a JSON-like dict (lists become tuples)."""
        mailbox_ids = raw.get("mailbox_ids")
        return cls(
            key=str(raw["key"]),
            name=str(raw["name"]),
            scopes=tuple(raw.get("scopes", ("reporting",))),
            mailbox_ids=None if mailbox_ids is None else tuple(mailbox_ids),
            expires=raw.get("expires"),
            account=str(raw.get("account", "default")),
        )


@dataclass(frozen=True)
class Fault:
    """One injected failure; see docs/simulator-interface.md.

    It applies to the matching requests number `after + 1 .. after + times`
    (counted per fault, from the moment the faults were set).
    """

    kind: str
    method: str | None = None
    path: str = ""
    mailbox_id: str | None = None
    after: int = 0
    times: int = 1
    status: int = 503
    retry_after: float | None = None
    start_run: bool = False
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {FAULT_KINDS}")
        if self.times < 0 or self.after < 0:
            raise ValueError("fault 'after' and 'times' must not be negative")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Fault:
        """Builds a fault from a JSON-like dict, rejecting unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f"unknown fault field(s): {sorted(unknown)}")
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        """Returns the fault as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _demo_keys() -> list[ApiKey]:
    return [ApiKey(key=DEMO_KEY, name=DEMO_KEY_NAME)]


@dataclass
class SimulatorSettings:
    """Everything that shapes the simulator; the defaults suit the demo.

    Data fields (fixed once the simulator starts): `seed`, `mailbox_count`,
    `users_per_mailbox`, `inactive_mailbox_count`, `time_zones`,
    `history_start`, `conversations_per_user_day`, `initiated_per_user_day`.
    Everything else may be changed at run time through `update`.
    """

    seed: int = 20260101
    mailbox_count: int = 4
    users_per_mailbox: int = 6
    inactive_mailbox_count: int = 1
    time_zones: tuple[str, ...] = TIME_ZONES
    history_start: str = "2024-01-01"
    conversations_per_user_day: float = 3.0
    initiated_per_user_day: float = 0.6

    clock: ClockMode = "real"
    now: str | None = None
    cutoff_lag_minutes: float = 14.0
    late_attribution_minutes: float = 60.0

    run_seconds: float = 3.0
    run_seconds_per_1000_rows: float = 0.0
    requests_per_minute: int = 100
    rate_window_seconds: float = 60.0
    max_running_runs: int = 3
    result_ttl_hours: float = 24.0
    retry_after_seconds: float | None = None
    defer_total: bool = False
    base_url: str | None = None

    keys: list[ApiKey] = field(default_factory=_demo_keys)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys = [
            k if isinstance(k, ApiKey) else ApiKey.from_dict(k) for k in self.keys
        ]
        self.faults = [
            f if isinstance(f, Fault) else Fault.from_dict(f) for f in self.faults
        ]
        self.time_zones = tuple(self.time_zones)
        datetime.fromisoformat(self.history_start)
        if self.clock not in ("real", "manual"):
            raise ValueError(f"clock must be 'real' or 'manual', not {self.clock!r}")
        if self.mailbox_count < 1 or self.users_per_mailbox < 1:
            raise ValueError("mailbox_count and users_per_mailbox must be at least 1")


MUTABLE_FIELDS: frozenset[str] = frozenset(
    {
        "cutoff_lag_minutes",
        "late_attribution_minutes",
        "run_seconds",
        "run_seconds_per_1000_rows",
        "requests_per_minute",
        "rate_window_seconds",
        "max_running_runs",
        "result_ttl_hours",
        "retry_after_seconds",
        "defer_total",
        "base_url",
        "keys",
    }
)


def updated_settings(
    settings: SimulatorSettings, changes: dict[str, Any]
) -> SimulatorSettings:
    """Returns a copy of `settings` with run-time changes applied.

    Args:
        settings: The current settings.
        changes: Field names and new values; only `MUTABLE_FIELDS`.

    Raises:
        ValueError: A field is unknown or cannot change at run time.
    """
    bad = set(changes) - MUTABLE_FIELDS
    if bad:
        raise ValueError(
            f"cannot change {sorted(bad)} at run time; "
            f"changeable: {sorted(MUTABLE_FIELDS)}"
        )
    return dataclasses.replace(settings, **changes)


def settings_to_dict(settings: SimulatorSettings) -> dict[str, Any]:
    """Returns the settings as JSON-ready data, with key values redacted."""
    data = dataclasses.asdict(settings)
    data["keys"] = [
        {**dataclasses.asdict(k), "key": "<redacted>"} for k in settings.keys
    ]
    return data
