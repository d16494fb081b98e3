"""The fastest finish an account's limits allow for a set of report runs.

A backfill is a set of report runs. Each run holds one of the account's run
slots for its server-side duration and then needs one request per page of
results. The account allows ``max_running_runs`` runs in flight at once and
``requests_per_window`` requests in any ``window_seconds`` (the simulator
and the real API count every call: submits, polls, pages and the mailbox
list). No scheduler can beat either limit, so the larger of the two times
below is a lower bound on the wall time of the backfill:

* **Request bound.** The fewest requests that can fetch everything are one
  mailbox list, then per run one submit, one poll that finds it done (that
  response carries page 1) and one GET for each further page. With at most
  R requests in any window of W seconds, request number k (counting from 0)
  cannot be sent before ``(k // R) * W`` seconds after the first one, so the
  last of M requests goes out no earlier than ``((M - 1) // R) * W``. The
  requests that read results (every request but the mailbox list and the
  submits) also wait for the shortest run: the last of those M' goes out no
  earlier than ``min(d) + ((M' - 1) // R) * W``.
* **Slot bound.** Runs are jobs on C identical machines; their makespan is
  at least the longest run, at least the total run time over C, and, for
  every k, at least the sum of the k+1 shortest among the kC+1 longest runs
  (some slot must run k+1 of those). Once the last run finishes, its done
  poll and remaining
  pages still follow one after another (each page URL comes from the page
  before), so at least the smallest page count of any run, times the round
  trip of one request, is added.

The bound ignores everything on our side (start-up, parsing, loading), so a
benchmark's wall time includes costs the bound does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LARGEST_PAGE_ROWS = 500


@dataclass(frozen=True)
class RunCost:
    """What one report run costs the account.

    Attributes:
        duration_seconds: How long the run stays ``running`` on the server.
        pages: Result pages at the largest page size (at least 1: an empty
            result still arrives on the done poll).
    """

    duration_seconds: float
    pages: int


@dataclass(frozen=True)
class AccountLimits:
    """The limits one account works under.

    Attributes:
        max_running_runs: Report runs that may be ``running`` at once.
        requests_per_window: Requests allowed in any window.
        window_seconds: Length of that window.
    """

    max_running_runs: int = 3
    requests_per_window: int = 100
    window_seconds: float = 60.0


@dataclass(frozen=True)
class LowerBound:
    """The bound and the two limits it comes from.

    Attributes:
        seconds: The lower bound on wall time: the larger of the two below.
        request_seconds: The time the request limit alone forces.
        slot_seconds: The time the run slots alone force, with the tail.
        minimum_requests: The fewest requests that fetch every page.
    """

    seconds: float
    request_seconds: float
    slot_seconds: float
    minimum_requests: int


def pages_for_rows(rows: int, page_rows: int = LARGEST_PAGE_ROWS) -> int:
    """Count the result pages a run of ``rows`` rows needs.

    Args:
        rows: Rows in the run's result.
        page_rows: Rows per page.

    Returns:
        The page count; 1 for an empty result, which still has a first page.
    """
    return max(1, math.ceil(rows / page_rows))


def minimum_requests(runs: Sequence[RunCost], setup_requests: int = 1) -> int:
    """Count the fewest requests that submit every run and fetch every page.

    Args:
        runs: The report runs.
        setup_requests: Requests made once before any run (the mailbox list).

    Returns:
        ``setup_requests`` plus, per run, a submit, the done poll that
        carries page 1, and one GET for each further page.
    """
    return setup_requests + sum(1 + max(run.pages, 1) for run in runs)


def request_bound_seconds(requests: int, limits: AccountLimits) -> float:
    """Give the earliest time the last of ``requests`` requests can be sent.

    Args:
        requests: How many requests must be sent.
        limits: The account's limits.

    Returns:
        Seconds from the first request to the last one.
    """
    if requests <= 0:
        return 0.0
    full_windows = (requests - 1) // limits.requests_per_window
    return full_windows * limits.window_seconds


def result_request_bound_seconds(
    runs: Sequence[RunCost], limits: AccountLimits
) -> float:
    """Give the earliest time the last request that reads a result can be sent.

    Polls and pages cannot find anything before the shortest run is done.

    Args:
        runs: The report runs.
        limits: The account's limits.

    Returns:
        Seconds from the first submit to the last done poll or page GET.
    """
    if not runs:
        return 0.0
    reads = sum(max(run.pages, 1) for run in runs)
    shortest = min(run.duration_seconds for run in runs)
    return shortest + request_bound_seconds(reads, limits)


def slot_bound_seconds(
    runs: Sequence[RunCost],
    limits: AccountLimits,
    request_latency_seconds: float = 0.0,
) -> float:
    """Give the earliest time every run can be done and its pages fetched.

    Args:
        runs: The report runs.
        limits: The account's limits.
        request_latency_seconds: Round trip of one request.

    Returns:
        Seconds from the first submit to the last page; 0 without runs.
    """
    if not runs:
        return 0.0
    slots = limits.max_running_runs
    durations = sorted((run.duration_seconds for run in runs), reverse=True)

    makespan = max(durations[0], sum(durations) / slots)
    for runs_on_one_slot in range(2, len(durations) // slots + 2):
        longest = (runs_on_one_slot - 1) * slots + 1
        if longest > len(durations):
            break
        shortest_of_longest = durations[longest - runs_on_one_slot : longest]
        makespan = max(makespan, sum(shortest_of_longest))

    tail_requests = min(max(run.pages, 1) for run in runs)
    return makespan + tail_requests * request_latency_seconds


def lower_bound(
    runs: Sequence[RunCost],
    limits: AccountLimits,
    setup_requests: int = 1,
    request_latency_seconds: float = 0.0,
) -> LowerBound:
    """Compute the fastest finish the account's limits allow for ``runs``.

    Args:
        runs: The report runs, with their server-side durations and pages.
        limits: The account's limits.
        setup_requests: Requests made once before any run.
        request_latency_seconds: Round trip of one request, for the tail.

    Returns:
        The bound, its two parts and the minimum request count.
    """
    requests = minimum_requests(runs, setup_requests)
    request_seconds = max(
        request_bound_seconds(requests, limits),
        result_request_bound_seconds(runs, limits),
    )
    slot_seconds = slot_bound_seconds(runs, limits, request_latency_seconds)
    return LowerBound(
        seconds=max(request_seconds, slot_seconds),
        request_seconds=request_seconds,
        slot_seconds=slot_seconds,
        minimum_requests=requests,
    )
