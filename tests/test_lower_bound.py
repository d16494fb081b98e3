"""The lower bound on a backfill's wall time, against hand-computed cases."""

import pytest

from bench.lower_bound import (
    AccountLimits,
    RunCost,
    lower_bound,
    minimum_requests,
    pages_for_rows,
    request_bound_seconds,
    result_request_bound_seconds,
    slot_bound_seconds,
)

API_LIMITS = AccountLimits(max_running_runs=3, requests_per_window=100)


@pytest.mark.parametrize(
    ("rows", "pages"), [(0, 1), (1, 1), (500, 1), (501, 2), (1000, 2), (1001, 3)]
)
def test_pages_for_rows_uses_the_largest_page(rows: int, pages: int) -> None:
    assert pages_for_rows(rows) == pages


def test_minimum_requests_counts_the_done_poll_as_page_one() -> None:
    runs = [RunCost(5.0, pages=3), RunCost(5.0, pages=1)]

    # mailbox list + (submit, done poll, 2 pages) + (submit, done poll)
    assert minimum_requests(runs) == 1 + 4 + 2


def test_minimum_requests_gives_an_empty_run_its_first_page() -> None:
    assert minimum_requests([RunCost(1.0, pages=0)], setup_requests=0) == 2


@pytest.mark.parametrize(
    ("requests", "seconds"),
    [(0, 0.0), (1, 0.0), (100, 0.0), (101, 60.0), (200, 60.0), (201, 120.0)],
)
def test_request_bound_lets_the_first_window_burst(
    requests: int, seconds: float
) -> None:
    assert request_bound_seconds(requests, API_LIMITS) == seconds


def test_request_bound_scales_with_the_window() -> None:
    limits = AccountLimits(requests_per_window=10, window_seconds=3.0)

    assert request_bound_seconds(35, limits) == 9.0


def test_slot_bound_is_the_longest_run_when_runs_fit_the_slots() -> None:
    runs = [RunCost(10.0, 1), RunCost(4.0, 1), RunCost(2.0, 1)]

    assert slot_bound_seconds(runs, API_LIMITS) == 10.0


def test_slot_bound_shares_total_run_time_between_slots() -> None:
    runs = [RunCost(4.0, 1)] * 3 + [RunCost(1.0, 1)] * 6

    assert slot_bound_seconds(runs, API_LIMITS) == pytest.approx(6.0)


def test_slot_bound_counts_two_long_runs_sharing_a_slot() -> None:
    # Four runs of 10 s on three slots: one slot runs two of them.
    runs = [RunCost(10.0, 1)] * 4

    assert slot_bound_seconds(runs, API_LIMITS) == 20.0


def test_slot_bound_stacks_six_long_runs_on_three_slots() -> None:
    runs = [RunCost(6.0, 1)] * 6 + [RunCost(3.0, 1)] * 2

    # Average 14 s, but some slot holds two 6 s runs and one more run: 15 s.
    assert slot_bound_seconds(runs, API_LIMITS) == pytest.approx(15.0)


def test_slot_bound_stacks_equal_runs_in_rounds() -> None:
    # Ten runs of 1.5 s on three slots take four rounds.
    runs = [RunCost(1.5, 1)] * 10

    assert slot_bound_seconds(runs, API_LIMITS) == pytest.approx(6.0)


def test_slot_bound_stacks_the_shortest_of_the_longest_runs() -> None:
    # The 7 longest (9, 8, 7, 6, 5, 4, 3) put three runs on one slot: >= 3+4+5.
    runs = [RunCost(float(d), 1) for d in (9, 8, 7, 6, 5, 4, 3, 1)]

    assert slot_bound_seconds(runs, API_LIMITS) == pytest.approx(max(43 / 3, 12.0))


def test_result_requests_wait_for_the_shortest_run() -> None:
    runs = [RunCost(5.0, pages=150), RunCost(8.0, pages=60)]

    # 210 polls and pages, after the 5 s run: 5 + (209 // 100) * 60.
    assert result_request_bound_seconds(runs, API_LIMITS) == 125.0
    assert lower_bound(runs, API_LIMITS).request_seconds == 125.0


def test_slot_bound_adds_the_pages_that_must_follow_the_last_run() -> None:
    runs = [RunCost(10.0, 4), RunCost(1.0, 2)]

    assert slot_bound_seconds(runs, API_LIMITS, request_latency_seconds=0.5) == 11.0


def test_slot_bound_without_runs_is_zero() -> None:
    assert slot_bound_seconds([], API_LIMITS) == 0.0


def test_lower_bound_is_the_request_bound_for_many_pages() -> None:
    # 20 runs of 26 pages: 1 + 20 * 27 = 541 requests, the last in window 5;
    # the 520 polls and pages wait for the first 30 s run: 30 + 5 * 60.
    runs = [RunCost(30.0, 26)] * 20

    bound = lower_bound(runs, API_LIMITS)

    assert bound.minimum_requests == 541
    assert bound.request_seconds == 330.0
    assert bound.slot_seconds == 210.0  # seven rounds of 30 s
    assert bound.seconds == 330.0


def test_lower_bound_is_the_slot_bound_for_long_runs() -> None:
    runs = [RunCost(120.0, 2)] * 7

    bound = lower_bound(runs, API_LIMITS)

    assert bound.minimum_requests == 22
    assert bound.request_seconds == 120.0
    assert bound.slot_seconds == 360.0  # three rounds
    assert bound.seconds == 360.0
