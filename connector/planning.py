"""Plans one run: for each selected mailbox, the windows to fetch and their size.

A nightly run starts from the committed state; a backfill covers its range,
resuming past the windows already loaded unless every mailbox completed that
exact range (then it is a refresh), in windows sized to the mailboxes.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum

from connector.config import LoadConfig
from connector.options import RunOptions
from connector.settings import MAX_PAGE_SIZE
from connector.sizing import MailboxSize, count_periods, periods_per_window
from connector.state import (
    Backfill,
    MailboxPlan,
    is_backfill_complete,
    plan_backfill,
    plan_nightly,
    read_entry,
)

logger = logging.getLogger(__name__)


def plan_mailboxes(
    config: LoadConfig,
    options: RunOptions,
    mailboxes: list[dict[str, Any]],
    resource_state: dict[str, Any],
    now: pendulum.DateTime,
) -> dict[str, MailboxPlan]:
    """Plans the windows of every selected mailbox.

    Args:
        mailboxes: The selected mailboxes, as the API lists them.
        resource_state: The committed state of the performance resource.
        now: The run's clock.

    Returns:
        The plans by mailbox id, in the order of `mailboxes`.
    """
    resume = _is_resume(config, options, mailboxes, resource_state)
    lengths = _backfill_window_lengths(config, options, mailboxes, now)
    return {
        m["mailboxId"]: _plan(
            config,
            options,
            m,
            resource_state,
            now,
            resume,
            lengths.get(m["mailboxId"]),
        )
        for m in mailboxes
    }


def _is_resume(
    config: LoadConfig,
    options: RunOptions,
    selected: list[dict[str, Any]],
    resource_state: dict[str, Any],
) -> bool:
    """A rerun of a backfill resumes (skips every window already loaded) unless
    every selected mailbox completed that exact range: then it is a refresh."""
    if options.start is None or options.end is None or not selected:
        return True
    backfill = Backfill(options.start, options.end)
    is_refresh = all(
        is_backfill_complete(
            read_entry(resource_state, str(m["mailboxId"]), config.period), backfill
        )
        for m in selected
    )
    if is_refresh:
        logger.info(
            "Every selected mailbox already loaded this range: fetching it all "
            "again (refresh)"
        )
    return not is_refresh


def _plan(
    config: LoadConfig,
    options: RunOptions,
    mailbox: dict[str, Any],
    resource_state: dict[str, Any],
    now: pendulum.DateTime,
    resume: bool = True,
    window_periods: int | None = None,
) -> MailboxPlan:
    mailbox_id = str(mailbox["mailboxId"])
    time_zone = str(mailbox.get("timeZone") or "UTC")
    entry = read_entry(resource_state, mailbox_id, config.period)
    if entry.get("time_zone") and entry["time_zone"] != time_zone:
        logger.warning(
            "Mailbox %s changed time zone from %s to %s; using the new one",
            mailbox_id,
            entry["time_zone"],
            time_zone,
        )
    if options.start is not None and options.end is not None:
        if window_periods is not None:
            config = config.replace(
                periods_per_window={
                    **config.periods_per_window,
                    config.period: window_periods,
                }
            )
        backfill = Backfill(options.start, options.end)
        return plan_backfill(
            config, mailbox_id, time_zone, entry, backfill, now, resume=resume
        )
    return plan_nightly(config, mailbox_id, time_zone, entry, now)


def _backfill_window_lengths(
    config: LoadConfig,
    options: RunOptions,
    mailboxes: list[dict[str, Any]],
    now: pendulum.DateTime,
) -> dict[str, int]:
    """Periods per run for each mailbox of a backfill (none for a nightly run)."""
    if options.start is None or options.end is None:
        return {}
    ids = [str(m["mailboxId"]) for m in mailboxes]
    if config.window_periods is not None:
        return dict.fromkeys(ids, config.window_periods)

    end = min(options.end, now.naive())
    periods = count_periods(options.start, end, config.period)
    sizes = {
        str(m["mailboxId"]): MailboxSize(
            periods=periods,
            users=len(config.users) if config.users else len(m.get("users") or []),
        )
        for m in mailboxes
    }
    cap = config.periods_per_window[config.period]
    lengths = {
        mailbox_id: min(length, cap)
        for mailbox_id, length in periods_per_window(
            sizes,
            config.window_target_rows,
            config.max_concurrent_runs,
            MAX_PAGE_SIZE,
        ).items()
    }
    logger.info(
        "Backfill windows of %s %s(s) for %d mailboxes",
        ", ".join(str(n) for n in sorted(set(lengths.values()))) or "no",
        config.period,
        len(ids),
    )
    return lengths
