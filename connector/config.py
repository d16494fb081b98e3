"""Resolves the source's settings the dlt way and validates them before any request.

Values come from environment variables (`SOURCES__EMAILGISTICS__<KEY>`), then
`.dlt/secrets.toml` and `.dlt/config.toml`, then explicit overrides (the command
line). The result is a frozen `LoadConfig`; the API key inside it is a `Secret`
whose repr never shows the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pendulum
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import (
    ConfigurationException as DltConfigurationException,
)
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from connector import periods
from connector.errors import ConfigurationError
from connector.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_JOB_TIMEOUT_SECONDS,
    DEFAULT_LOOKBACK,
    DEFAULT_MAX_CONCURRENT_RUNS,
    DEFAULT_PAGE_SIZE,
    DEFAULT_PERIOD,
    DEFAULT_POLL_INITIAL_SECONDS,
    DEFAULT_POLL_MAX_SECONDS,
    DEFAULT_RATE_LIMIT_WAIT_SECONDS,
    DEFAULT_RATE_WINDOW_SECONDS,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_WEEK_START,
    DEFAULT_WINDOW_TARGET_ROWS,
    FIELD_GROUPS,
    MAX_PAGE_SIZE,
    PERIODS_PER_WINDOW,
    SOURCE_NAME,
)

SECTIONS = ("sources", SOURCE_NAME)
T = TypeVar("T", int, float)


class Secret:
    """Holds a secret string; `repr` and `str` never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Returns the secret itself, for the one place that must send it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@configspec
class EmailgisticsConfiguration(BaseConfiguration):
    """The keys accepted under `[sources.emailgistics]`."""

    base_url: str = DEFAULT_BASE_URL
    api_key: TSecretStrValue | None = None
    mailbox_ids: Any = None
    period: str = DEFAULT_PERIOD
    field_groups: Any = None
    users: Any = None
    include_details: bool = False
    initial_start: str | None = None
    lookback: str = DEFAULT_LOOKBACK
    week_start: str = DEFAULT_WEEK_START
    page_size: int = DEFAULT_PAGE_SIZE
    max_concurrent_runs: int = DEFAULT_MAX_CONCURRENT_RUNS
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    poll_initial_seconds: float = DEFAULT_POLL_INITIAL_SECONDS
    poll_max_seconds: float = DEFAULT_POLL_MAX_SECONDS
    job_timeout_seconds: float = DEFAULT_JOB_TIMEOUT_SECONDS
    rate_limit_wait_seconds: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS
    rate_window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS
    window_target_rows: int = DEFAULT_WINDOW_TARGET_ROWS
    window_periods: int | None = None


CONFIG_KEYS = tuple(EmailgisticsConfiguration.get_resolvable_fields())


@dataclass(frozen=True)
class LoadConfig:
    """Validated settings of the source.

    Attributes:
        mailbox_ids: The mailboxes to load; None means every mailbox the key sees.
        initial_start: Where a mailbox's first nightly run starts (local wall
            time); None means `DEFAULT_INITIAL_LOOKBACK_DAYS` before now.
        lookback: How far before the last final period a nightly run re-fetches.
        requests_per_minute: Requests allowed in any `rate_window_seconds`
            (a minute unless that is changed, hence the name).
        window_target_rows: The most rows a backfill run should return,
            estimated from the user count; sets the backfill windows.
        window_periods: Periods per backfill run, overriding the sizing.
        periods_per_window: The most periods one report run covers, by grain:
            a nightly run's window length and a cap on backfill windows (not a
            dlt key).
    """

    api_key: Secret
    base_url: str = DEFAULT_BASE_URL
    mailbox_ids: tuple[str, ...] | None = None
    period: str = DEFAULT_PERIOD
    field_groups: tuple[str, ...] = FIELD_GROUPS
    users: tuple[str, ...] | None = None
    include_details: bool = False
    initial_start: pendulum.DateTime | None = None
    lookback: pendulum.Duration = field(
        default_factory=lambda: periods.parse_duration(DEFAULT_LOOKBACK, "lookback")
    )
    week_start: str = DEFAULT_WEEK_START
    page_size: int = DEFAULT_PAGE_SIZE
    max_concurrent_runs: int = DEFAULT_MAX_CONCURRENT_RUNS
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    poll_initial_seconds: float = DEFAULT_POLL_INITIAL_SECONDS
    poll_max_seconds: float = DEFAULT_POLL_MAX_SECONDS
    job_timeout_seconds: float = DEFAULT_JOB_TIMEOUT_SECONDS
    rate_limit_wait_seconds: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS
    rate_window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS
    window_target_rows: int = DEFAULT_WINDOW_TARGET_ROWS
    window_periods: int | None = None
    periods_per_window: Mapping[str, int] = field(
        default_factory=lambda: dict(PERIODS_PER_WINDOW)
    )

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> LoadConfig:
        """Returns a copy with `changes` applied and validated again."""
        return dataclasses.replace(self, **changes)


def load_config(overrides: Mapping[str, Any] | None = None) -> LoadConfig:
    """Resolves `[sources.emailgistics]` from dlt's providers, then applies overrides.

    Args:
        overrides: Values that win over every provider (None values are ignored),
            keyed like the config keys.

    Raises:
        ConfigurationError: For an unknown key or any invalid value.
    """
    try:
        spec = resolve_configuration(
            EmailgisticsConfiguration(), sections=SECTIONS, accept_partial=True
        )
    except ConfigValueCannotBeCoercedException as exc:
        raise ConfigurationError(
            f"{exc.field_name} has a value of the wrong type: expected "
            f"{getattr(exc.hint, '__name__', exc.hint)} (check "
            f"SOURCES__EMAILGISTICS__{exc.field_name.upper()} and .dlt/*.toml)."
        ) from None
    except DltConfigurationException as exc:
        raise ConfigurationError(f"Cannot read [sources.emailgistics]: {exc}") from None
    raw: dict[str, Any] = {key: getattr(spec, key) for key in CONFIG_KEYS}
    for key, value in (overrides or {}).items():
        if key not in raw:
            raise ConfigurationError(f"Unknown setting {key!r}.")
        if value is not None:
            raw[key] = value
    return config_from_mapping(raw)


def config_from_mapping(raw: Mapping[str, Any]) -> LoadConfig:
    """Builds a validated `LoadConfig` from raw values (strings, lists, numbers).

    Raises:
        ConfigurationError: Naming the offending key and value.
    """
    key = raw.get("api_key")
    initial_start = raw.get("initial_start")
    field_groups = _as_tuple(raw.get("field_groups"), "field_groups")
    return LoadConfig(
        api_key=key if isinstance(key, Secret) else Secret(str(key or "").strip()),
        base_url=str(raw.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
        mailbox_ids=_as_tuple(raw.get("mailbox_ids"), "mailbox_ids"),
        period=str(raw.get("period") or DEFAULT_PERIOD).strip().lower(),
        field_groups=field_groups if field_groups else FIELD_GROUPS,
        users=_as_tuple(raw.get("users"), "users"),
        include_details=_as_bool(raw.get("include_details", False), "include_details"),
        initial_start=periods.parse_user_time(str(initial_start), "initial_start")
        if initial_start
        else None,
        lookback=periods.parse_duration(
            str(raw.get("lookback") or DEFAULT_LOOKBACK), "lookback"
        ),
        week_start=str(raw.get("week_start") or DEFAULT_WEEK_START).strip().lower(),
        page_size=_as_number(raw, "page_size", DEFAULT_PAGE_SIZE, int),
        max_concurrent_runs=_as_number(
            raw, "max_concurrent_runs", DEFAULT_MAX_CONCURRENT_RUNS, int
        ),
        requests_per_minute=_as_number(
            raw, "requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE, int
        ),
        poll_initial_seconds=_as_number(
            raw, "poll_initial_seconds", DEFAULT_POLL_INITIAL_SECONDS, float
        ),
        poll_max_seconds=_as_number(
            raw, "poll_max_seconds", DEFAULT_POLL_MAX_SECONDS, float
        ),
        job_timeout_seconds=_as_number(
            raw, "job_timeout_seconds", DEFAULT_JOB_TIMEOUT_SECONDS, float
        ),
        rate_limit_wait_seconds=_as_number(
            raw, "rate_limit_wait_seconds", DEFAULT_RATE_LIMIT_WAIT_SECONDS, float
        ),
        rate_window_seconds=_as_number(
            raw, "rate_window_seconds", DEFAULT_RATE_WINDOW_SECONDS, float
        ),
        window_target_rows=_as_number(
            raw, "window_target_rows", DEFAULT_WINDOW_TARGET_ROWS, int
        ),
        window_periods=None
        if raw.get("window_periods") in (None, "")
        else _as_number(raw, "window_periods", 0, int),
    )


def _validate(config: LoadConfig) -> None:
    if not config.api_key:
        raise ConfigurationError(
            "No API key: set SOURCES__EMAILGISTICS__API_KEY or api_key under "
            "[sources.emailgistics] in .dlt/secrets.toml."
        )
    _check_base_url(config.base_url)
    periods.check_period(config.period)
    periods.weekday_index(config.week_start)
    unknown_groups = [g for g in config.field_groups if g not in FIELD_GROUPS]
    if unknown_groups:
        raise ConfigurationError(
            f"Unknown field_groups {', '.join(unknown_groups)}: use "
            f"{' and/or '.join(FIELD_GROUPS)}."
        )
    if config.mailbox_ids is not None and not config.mailbox_ids:
        raise ConfigurationError("mailbox_ids is empty: list ids or leave it unset.")
    if not 1 <= config.page_size <= MAX_PAGE_SIZE:
        raise ConfigurationError(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {config.page_size}."
        )
    _check_positive("max_concurrent_runs", config.max_concurrent_runs)
    _check_positive("requests_per_minute", config.requests_per_minute)
    _check_positive("poll_initial_seconds", config.poll_initial_seconds)
    _check_positive("job_timeout_seconds", config.job_timeout_seconds)
    _check_positive("rate_window_seconds", config.rate_window_seconds)
    _check_positive("window_target_rows", config.window_target_rows)
    if config.window_periods is not None:
        _check_positive("window_periods", config.window_periods)
    if config.rate_limit_wait_seconds < 0:
        raise ConfigurationError(
            "rate_limit_wait_seconds must not be negative, got "
            f"{config.rate_limit_wait_seconds}."
        )
    if config.poll_max_seconds < config.poll_initial_seconds:
        raise ConfigurationError(
            f"poll_max_seconds ({config.poll_max_seconds}) must be at least "
            f"poll_initial_seconds ({config.poll_initial_seconds})."
        )
    for period, count in config.periods_per_window.items():
        if count < 1:
            raise ConfigurationError(
                f"periods_per_window for {period} must be at least 1, got {count}."
            )


def _check_base_url(base_url: str) -> None:
    host_only = f"give the host only, e.g. {DEFAULT_BASE_URL}"
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(
            f"base_url {base_url!r} is not a valid URL ({exc}): {host_only}."
        ) from None
    if parts.scheme not in ("https", "http"):
        raise ConfigurationError(
            f"base_url {base_url!r} must start with https:// (or http://): {host_only}."
        )
    if not parts.hostname:
        raise ConfigurationError(f"base_url {base_url!r} has no host: {host_only}.")
    if port == 0:
        raise ConfigurationError(
            f"base_url {base_url!r} has port 0: use a port between 1 and 65535."
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"base_url {base_url!r} has a path or query: {host_only} (the "
            "connector adds /api/v1/...)."
        )


def _check_positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigurationError(f"{name} must be greater than 0, got {value}.")


def _as_tuple(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [str(part).strip() for part in value]
    else:
        raise ConfigurationError(
            f"{name} must be a list of strings or a comma-separated string, "
            f"got {value!r}."
        )
    return tuple(item for item in items if item)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", ""}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}.")


def _as_number(raw: Mapping[str, Any], name: str, default: T, kind: type[T]) -> T:
    value = raw.get(name)
    if value is None or value == "":
        return default
    try:
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{name} must be a{'n integer' if kind is int else ' number'}, "
            f"got {value!r}."
        ) from exc
