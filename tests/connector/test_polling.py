"""The poll schedule: the documented cadence, sharpened by the run's progress."""

import pytest

from connector.polling import PollSchedule, duration_estimate


def schedule() -> PollSchedule:
    return PollSchedule(initial_seconds=2.0, max_seconds=30.0)


def test_cadence_starts_at_two_seconds_and_doubles_to_the_cap() -> None:
    delays = [schedule().cadence_delay(polls) for polls in range(7)]

    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_first_poll_follows_the_cadence_without_history() -> None:
    assert schedule().first_delay(0.1, None) == 2.0
    assert schedule().first_delay(0.1, 0) == 2.0


def test_first_poll_uses_the_submits_progress() -> None:
    # 10% one second after sending: done between 100/11 and 10 s.
    assert schedule().first_delay(1.0, 10) == pytest.approx(100 / 11)


def test_first_poll_waits_the_longest_recent_run() -> None:
    polls = schedule()
    for seconds in (90.0, 40.0, 70.0, 50.0, 45.0, 60.0):
        polls.record_duration(seconds)

    # The last five: 40, 70, 50, 45, 60.
    assert polls.first_delay(0.1, 10) == 70.0


def test_without_progress_the_cadence_applies() -> None:
    assert schedule().next_delay(2.0, None, polls=1) == 4.0
    assert schedule().next_delay(2.0, 0, polls=1) == 4.0


def test_no_poll_before_the_run_can_be_done() -> None:
    # 50% after 20 s: the run takes more than 100 * 20 / 51 = 39.2 s.
    delay = schedule().next_delay(20.0, 50, polls=1)

    assert delay == pytest.approx(100 * 20 / 51 - 20)


def test_no_waiting_past_the_predicted_finish() -> None:
    # 90% after 27 s: done by 30 s, although the cadence says wait 16 s.
    delay = schedule().next_delay(27.0, 90, polls=3)

    assert delay == pytest.approx(30.0 * 1.02 - 27.0)


def test_the_cadence_applies_between_earliest_and_latest_finish() -> None:
    # 10% after 10 s: done between 90.9 s and 100 s; cadence 30 s is capped
    # by the elapsed time rule only above 30 s.
    delay = schedule().next_delay(10.0, 10, polls=4)

    assert delay == 30.0


def test_slow_progress_never_waits_longer_than_the_run_has_run() -> None:
    # 1% after 40 s suggests 3,960 s more; wait at most the 40 s run so far.
    assert schedule().next_delay(40.0, 1, polls=5) == 40.0


def test_duration_is_bounded_by_the_last_running_poll() -> None:
    # Found done at 80 s; at 60 s it was 80%, so it took at most 75 s.
    assert duration_estimate(80.0, 60.0, 80) == 75.0
    assert duration_estimate(80.0, None, None) == pytest.approx(80.0 * 0.97)
    assert duration_estimate(70.0, 60.0, 80) == 70.0
