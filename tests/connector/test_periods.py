"""Period arithmetic on the mailbox's wall clock."""

from __future__ import annotations

from datetime import datetime

import pendulum
import pytest

from connector.errors import ConfigurationError
from connector.periods import (
    Window,
    align,
    align_up,
    local_wall_time,
    parse_duration,
    parse_instant,
    parse_user_time,
    parse_wall_time,
    split_windows,
)


def naive(*parts: int) -> pendulum.DateTime:
    return pendulum.naive(*parts)


@pytest.mark.parametrize(
    ("period", "week_start", "expected"),
    [
        ("hour", "monday", naive(2026, 4, 15, 13)),
        ("day", "monday", naive(2026, 4, 15)),
        ("week", "monday", naive(2026, 4, 13)),
        ("week", "sunday", naive(2026, 4, 12)),
        ("week", "wednesday", naive(2026, 4, 15)),
        ("month", "monday", naive(2026, 4, 1)),
    ],
)
def test_align_finds_the_containing_period(
    period: str, week_start: str, expected: pendulum.DateTime
) -> None:
    assert align(naive(2026, 4, 15, 13, 45, 10), period, week_start) == expected


def test_align_up_keeps_a_boundary_and_rounds_anything_else_up() -> None:
    assert align_up(naive(2026, 4, 1), "month") == naive(2026, 4, 1)
    assert align_up(naive(2026, 4, 1, 0, 0, 1), "month") == naive(2026, 5, 1)


def test_month_windows_cross_month_ends_of_any_length() -> None:
    windows = split_windows(naive(2024, 1, 31), naive(2024, 4, 15), "month", 1)

    assert [(w.start, w.end) for w in windows] == [
        (naive(2024, 1, 1), naive(2024, 2, 1)),
        (naive(2024, 2, 1), naive(2024, 3, 1)),
        (naive(2024, 3, 1), naive(2024, 4, 1)),
        (naive(2024, 4, 1), naive(2024, 5, 1)),
    ]


def test_day_windows_are_split_and_the_last_one_is_short() -> None:
    windows = split_windows(naive(2026, 1, 1), naive(2026, 1, 10), "day", 4)

    assert [w.label() for w in windows] == [
        "2026-01-01T00:00..2026-01-05T00:00",
        "2026-01-05T00:00..2026-01-09T00:00",
        "2026-01-09T00:00..2026-01-10T00:00",
    ]


def test_empty_range_gives_no_window() -> None:
    assert split_windows(naive(2026, 1, 1), naive(2026, 1, 1), "day", 30) == []
    assert Window(naive(2026, 1, 1), naive(2026, 1, 1)).is_empty


def test_week_windows_start_on_the_configured_weekday() -> None:
    windows = split_windows(naive(2026, 4, 1), naive(2026, 5, 1), "week", 2, "monday")

    assert all(w.start.weekday() == 0 for w in windows)
    assert windows[0].start == naive(2026, 3, 30)
    assert windows[-1].end == naive(2026, 5, 4)


def test_api_range_ends_one_second_before_the_window_end() -> None:
    window = Window(naive(2026, 4, 1), naive(2026, 5, 1))

    assert window.api_range() == ("2026-04-01T00:00:00", "2026-04-30T23:59:59")


def test_dst_spring_forward_day_still_has_24_wall_clock_hours() -> None:
    # New York skips 02:00-03:00 on 2026-03-08; the API buckets on the wall
    # clock, so hour windows still step through every wall hour label.
    windows = split_windows(naive(2026, 3, 8), naive(2026, 3, 9), "hour", 1)

    assert len(windows) == 24
    assert windows[2].start == naive(2026, 3, 8, 2)


def test_dst_fall_back_instant_maps_to_the_repeated_wall_hour() -> None:
    first = pendulum.datetime(2026, 11, 1, 5, 30, tz="UTC")  # 01:30 EDT
    second = pendulum.datetime(2026, 11, 1, 6, 30, tz="UTC")  # 01:30 EST

    assert local_wall_time(first, "America/New_York") == naive(2026, 11, 1, 1, 30)
    assert local_wall_time(second, "America/New_York") == naive(2026, 11, 1, 1, 30)


def test_half_hour_zone_aligns_to_the_local_top_of_the_hour() -> None:
    now = pendulum.datetime(2026, 5, 1, 12, 28, tz="UTC")  # 17:58 in Kolkata

    local = local_wall_time(now, "Asia/Kolkata")

    assert local == naive(2026, 5, 1, 17, 58)
    assert align(local, "hour") == naive(2026, 5, 1, 17)
    assert align(local_wall_time(now, "Asia/Kathmandu"), "hour") == naive(
        2026, 5, 1, 18
    )


def test_api_timestamps_parse_as_naive_wall_times() -> None:
    assert parse_wall_time("2026-05-01T08:14:00.0") == datetime(2026, 5, 1, 8, 14)
    assert parse_wall_time("2026-05-01T08:14:00Z") == datetime(2026, 5, 1, 8, 14)
    assert parse_wall_time("2026-05-01T08:14:00+05:30").tzinfo is None


def test_user_dates_parse_and_bad_ones_name_the_option() -> None:
    assert parse_user_time("2024-03-01", "--start") == naive(2024, 3, 1)
    assert parse_user_time("2024-03-01T06:00", "--start") == naive(2024, 3, 1, 6)
    with pytest.raises(ConfigurationError, match=r"Cannot read --end '2024-13-01'"):
        parse_user_time("2024-13-01", "--end")
    with pytest.raises(ConfigurationError, match="--now 'yesterday'"):
        parse_instant("yesterday", "--now")


def test_durations_parse_and_bad_ones_name_the_setting() -> None:
    assert parse_duration("PT6H", "lookback").total_seconds() == 6 * 3600
    with pytest.raises(ConfigurationError, match="Cannot read lookback '2 days'"):
        parse_duration("2 days", "lookback")
