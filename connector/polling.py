"""When to poll a running report run: the documented cadence, sharpened by progress.

The API's advice is to poll from 2 seconds, doubling to a 30 second cap. A
poll that finds the run still running costs a request, and a poll long after
the run finished keeps its slot and its pages waiting. A running envelope
carries `progress`, the whole percent of the run's time already spent, so a
poll at `elapsed` seconds with progress `p` puts the run's total duration in
`(100 * elapsed / (p + 1), 100 * elapsed / p]`. The schedule uses that:

- never poll before the earliest moment the run can be done (that poll
  could only say "running");
- never wait past the latest moment it should be done (plus a small margin
  for clock differences), even when the cadence says wait longer;
- otherwise wait what the cadence says;
- and never wait longer than the run has already been running, or the
  cadence's cap if that is longer, so a run whose progress misleads is still
  polled at a doubling pace.

The first poll of a run waits, once runs of the same load have finished,
the longest of the last few durations: runs of one load are of similar size,
so that poll usually finds the run done. Before that, the submit's own
progress places the first poll as above, or else the cadence's first step.
"""

from __future__ import annotations

from collections import deque

FINISH_MARGIN_FRACTION = 0.02
FIRST_POLL_PROBE = 0.97
HISTORY_RUNS = 5


class PollSchedule:
    """Delays between the polls of report runs, shared by the runs of one load.

    Args:
        initial_seconds: The cadence's first delay.
        max_seconds: The cadence's cap.
    """

    def __init__(self, initial_seconds: float, max_seconds: float) -> None:
        self._initial_seconds = initial_seconds
        self._max_seconds = max_seconds
        self._durations: deque[float] = deque(maxlen=HISTORY_RUNS)

    def first_delay(self, submit_seconds: float, progress: int | None) -> float:
        """Give the wait between a submit and the run's first poll.

        Args:
            submit_seconds: Time from sending the submit to its answer.
            progress: The submit answer's `progress`, if any.

        Returns:
            Seconds from sending the submit.
        """
        if self._durations:
            return max(self._initial_seconds, max(self._durations))
        if progress is not None and 0 < progress < 100 and submit_seconds > 0:
            return submit_seconds + self.next_delay(submit_seconds, progress, 0)
        return self._initial_seconds

    def cadence_delay(self, polls: int) -> float:
        """Give the documented delay before poll number ``polls + 1``.

        Args:
            polls: Polls already made of this run.

        Returns:
            The initial delay doubled once per poll, capped.
        """
        return min(self._initial_seconds * 2.0**polls, self._max_seconds)

    def next_delay(
        self, elapsed_seconds: float, progress: int | None, polls: int
    ) -> float:
        """Give the wait before the next poll of a run that is still running.

        Args:
            elapsed_seconds: Time since the run was submitted, at the last poll.
            progress: The last poll's `progress` (0-100), if it had one.
            polls: Polls already made of this run.

        Returns:
            Seconds to wait from the last poll.
        """
        cadence = self.cadence_delay(polls)
        if progress is None or not 0 < progress < 100 or elapsed_seconds <= 0:
            return cadence

        earliest_total = 100.0 * elapsed_seconds / (progress + 1)
        latest_total = 100.0 * elapsed_seconds / progress
        latest_total *= 1.0 + FINISH_MARGIN_FRACTION
        delay = min(
            max(cadence, earliest_total - elapsed_seconds),
            latest_total - elapsed_seconds,
        )
        longest = max(self._max_seconds, elapsed_seconds)
        return max(0.0, min(delay, longest))

    def record_duration(self, seconds: float) -> None:
        """Remember how long a finished run took, for later first polls.

        Args:
            seconds: The run's duration, as well as it is known.
        """
        if seconds > 0:
            self._durations.append(seconds)


def duration_estimate(
    done_elapsed_seconds: float,
    running_elapsed_seconds: float | None,
    running_progress: int | None,
) -> float:
    """Estimate how long a run took from its last two polls.

    Args:
        done_elapsed_seconds: Time since submit when a poll found it done.
        running_elapsed_seconds: Time since submit of the poll before, if any.
        running_progress: That poll's progress.

    Returns:
        The latest duration consistent with both polls. A run found done at
        its first poll only says it took at most that long; it counts as
        `FIRST_POLL_PROBE` shorter, so later first polls creep earlier until
        one finds a run still running (and its progress gives the duration),
        instead of never learning that runs got shorter.
    """
    if running_elapsed_seconds is None or not running_progress:
        return done_elapsed_seconds * FIRST_POLL_PROBE
    latest = 100.0 * running_elapsed_seconds / running_progress
    return max(running_elapsed_seconds, min(done_elapsed_seconds, latest))
