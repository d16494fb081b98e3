"""Settings: dlt resolution, validation messages, and the key kept secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.config import Secret, config_from_mapping, load_config
from connector.errors import ConfigurationError
from tests.conftest import reload_dlt_run_context


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__EMAILGISTICS__API_KEY", "k-123")

    config = load_config()

    assert config.base_url == "https://c1.emailgistics.com"
    assert config.mailbox_ids is None
    assert config.period == "day"
    assert config.field_groups == ("replyData", "closeData")
    assert config.users is None
    assert config.include_details is False
    assert config.week_start == "monday"
    assert config.page_size == 500
    assert config.max_concurrent_runs == 3
    assert config.requests_per_minute == 100
    assert config.poll_initial_seconds == 2
    assert config.poll_max_seconds == 30
    assert config.job_timeout_seconds == 40 * 60
    assert config.rate_limit_wait_seconds == 60


def test_env_vars_and_toml_files_are_read(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    dlt_dir = isolated_environment / ".dlt"
    dlt_dir.mkdir()
    (dlt_dir / "config.toml").write_text(
        '[sources.emailgistics]\nperiod = "week"\nmailbox_ids = ["a", "b"]\n'
    )
    (dlt_dir / "secrets.toml").write_text('[sources.emailgistics]\napi_key = "k-1"\n')
    reload_dlt_run_context(str(isolated_environment))
    monkeypatch.setenv("SOURCES__EMAILGISTICS__PAGE_SIZE", "250")
    monkeypatch.setenv("SOURCES__EMAILGISTICS__USERS", "u1, unknown")

    config = load_config({"period": None})

    assert config.api_key.reveal() == "k-1"
    assert config.period == "week"
    assert config.mailbox_ids == ("a", "b")
    assert config.page_size == 250
    assert config.users == ("u1", "unknown")


def test_command_line_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__EMAILGISTICS__API_KEY", "k")
    monkeypatch.setenv("SOURCES__EMAILGISTICS__PERIOD", "month")

    config = load_config({"period": "hour", "mailbox_ids": ["m1"]})

    assert (config.period, config.mailbox_ids) == ("hour", ("m1",))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"api_key": ""}, "No API key: set SOURCES__EMAILGISTICS__API_KEY"),
        ({"period": "year"}, "Unknown period 'year': use one of hour, day, week"),
        ({"week_start": "moonday"}, "Unknown week_start 'moonday'"),
        ({"page_size": 0}, "page_size must be between 1 and 500, got 0"),
        ({"page_size": 501}, "page_size must be between 1 and 500, got 501"),
        ({"page_size": "many"}, "page_size must be an integer, got 'many'"),
        ({"field_groups": ["replyData", "tagData"]}, "Unknown field_groups tagData"),
        ({"max_concurrent_runs": 0}, "max_concurrent_runs must be greater than 0"),
        ({"requests_per_minute": -1}, "requests_per_minute must be greater than 0"),
        ({"poll_max_seconds": 1}, r"poll_max_seconds \(1.0\) must be at least"),
        ({"lookback": "yesterday"}, "Cannot read lookback 'yesterday'"),
        ({"initial_start": "2024-02-30"}, "Cannot read initial_start '2024-02-30'"),
        ({"base_url": "c1.emailgistics.com"}, "base_url 'c1.emailgistics.com' must"),
        ({"include_details": "maybe"}, "include_details must be true or false"),
        ({"rate_limit_wait_seconds": -5}, "rate_limit_wait_seconds must not be"),
    ],
)
def test_bad_settings_fail_with_a_message_naming_them(
    changes: dict[str, Any], message: str
) -> None:
    raw: dict[str, Any] = {"api_key": "k", **changes}

    with pytest.raises(ConfigurationError, match=message):
        config_from_mapping(raw)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="Unknown setting 'periods'"):
        load_config({"api_key": "k", "periods": "day"})


def test_key_never_shows_in_repr_or_str() -> None:
    config = config_from_mapping({"api_key": "super-secret-value"})

    assert "super-secret-value" not in repr(config)
    assert "super-secret-value" not in str(config.api_key)
    assert Secret("x") == Secret("x")
