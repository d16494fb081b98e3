"""Checks made before a load submits any report run.

They refuse settings that would make a run load nothing or load twice, finish
what an interrupted run left in the destination, and pick the mailboxes to
load, so that the load loop in `connector.loading` starts from a sound plan.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt
import pendulum

from connector.config import LoadConfig
from connector.destination import CheckedDestination, destination_failure
from connector.errors import ConfigurationError, reraise_interrupt
from connector.options import RunOptions
from connector.periods import format_wall_time, local_wall_time
from connector.state import NIGHTLY
from connector.summary import plural

logger = logging.getLogger(__name__)


def check_initial_start(
    config: LoadConfig, options: RunOptions, now: pendulum.DateTime
) -> None:
    """Refuses an initial_start after now in every time zone.

    UTC+14 is the furthest ahead: past it, each window would be empty and the
    run would say nothing.

    Raises:
        ConfigurationError: A nightly run's initial_start is in the future.
    """
    if options.mode != NIGHTLY or config.initial_start is None:
        return
    latest_wall_time = local_wall_time(now, "Etc/GMT-14")
    if config.initial_start > latest_wall_time:
        raise ConfigurationError(
            f"initial_start {format_wall_time(config.initial_start)} is in the "
            f"future (now is {now.in_timezone('UTC').to_iso8601_string()}): set "
            "it to a past date, or unset it to start 30 days ago."
        )


def check_week_start(config: LoadConfig, resource_state: dict[str, Any]) -> None:
    """Refuses weeks that start on another day than the weeks already loaded.

    Both would sit under period 'week' and every week would count twice.

    Args:
        resource_state: The committed state of the performance resource.

    Raises:
        ConfigurationError: A selected mailbox has weeks of another start day.
    """
    if config.period != "week":
        return
    for mailbox_id, entries in sorted(resource_state.get("mailboxes", {}).items()):
        if config.mailbox_ids is not None and mailbox_id not in config.mailbox_ids:
            continue
        used = (entries.get("week") or {}).get("week_start")
        if used and used != config.week_start:
            raise ConfigurationError(
                f"week_start is {config.week_start!r} but the week rows of mailbox "
                f"{mailbox_id} were loaded with weeks starting on {used!r}; both "
                f"would count every week twice. Keep week_start = {used!r}, or load "
                "weeks into a new dataset with its own dlt state (--dataset NAME "
                "--pipelines-dir DIR)."
            )


def finish_pending_load(pipeline: dlt.Pipeline, target: CheckedDestination) -> None:
    """Syncs with the destination and loads a package an interrupted run left.

    Such a package holds rows and the state they earn, committed together or
    not at all. Left pending, dlt would load it in place of the next batch and
    silently skip that batch's extraction.

    Raises:
        DestinationError: The destination could not be synced or loaded.
    """
    try:
        pipeline.sync_destination()
        if pipeline.has_pending_data:
            logger.warning(
                "Finishing the load an interrupted run left pending (its rows "
                "and state commit together)"
            )
            pipeline.run()
    except Exception as exc:
        reraise_interrupt(exc)
        raise destination_failure(target, exc) from exc


def select_mailboxes(
    config: LoadConfig, mailboxes: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Picks the configured mailboxes among those the API key can see.

    Args:
        mailboxes: The API's mailbox list.

    Returns:
        The mailboxes to load, and one failure line per configured mailbox
        the key cannot see.

    Raises:
        ConfigurationError: None of the configured mailboxes is visible.
    """
    by_id = {str(m.get("mailboxId")): m for m in mailboxes if m.get("mailboxId")}
    if config.mailbox_ids is None:
        return list(by_id.values()), []
    failures = [
        f"mailbox {mailbox_id}: not among the mailboxes this API key can see "
        "(check mailbox_ids or the key's allowlist)"
        for mailbox_id in config.mailbox_ids
        if mailbox_id not in by_id
    ]
    if len(failures) == len(config.mailbox_ids):
        raise ConfigurationError(
            f"No mailbox matched: none of {', '.join(config.mailbox_ids)} is among "
            f"the {plural(len(by_id), 'mailbox', 'mailboxes')} this API key can "
            "see. Check --mailbox / mailbox_ids, or the key's mailbox allowlist."
        )
    return [by_id[m] for m in config.mailbox_ids if m in by_id], failures
