"""Backfill window sizing from the range, the grain and the user counts."""

from connector.sizing import MailboxSize, periods_per_window

TARGET_ROWS = 25_000
SLOTS = 3
PAGE = 500


def sizes(**kwargs: MailboxSize) -> dict[str, int]:
    return periods_per_window(kwargs, TARGET_ROWS, SLOTS, PAGE)


def test_fifty_mailboxes_over_two_years_get_one_run_each() -> None:
    mailboxes = {f"m{i}": MailboxSize(periods=730, users=30) for i in range(50)}

    lengths = periods_per_window(mailboxes, TARGET_ROWS, SLOTS, PAGE)

    assert set(lengths.values()) == {730}


def test_one_mailbox_is_split_to_keep_every_slot_busy() -> None:
    # 730 days * 31 = 22,630 rows: under the target, but three slots.
    assert sizes(a=MailboxSize(periods=730, users=30)) == {"a": 244}


def test_a_large_mailbox_is_split_to_the_row_target() -> None:
    # 730 days * 301 = 219,730 rows: nine runs of at most 25,000.
    assert sizes(a=MailboxSize(periods=730, users=300)) == {"a": 82}


def test_a_nightly_sized_range_stays_one_run() -> None:
    assert sizes(a=MailboxSize(periods=2, users=30)) == {"a": 2}
    assert sizes(a=MailboxSize(periods=7, users=30)) == {"a": 7}


def test_runs_are_shared_in_proportion_to_rows() -> None:
    lengths = sizes(
        big=MailboxSize(periods=730, users=200), small=MailboxSize(periods=730, users=9)
    )

    # 146,730 + 7,300 rows: seven runs wanted, 6.7 of them for the big one.
    assert lengths == {"big": 105, "small": 730}


def test_empty_ranges_get_no_windows() -> None:
    assert sizes(a=MailboxSize(periods=0, users=30)) == {}


def test_never_more_windows_than_periods() -> None:
    assert sizes(a=MailboxSize(periods=2, users=5_000)) == {"a": 1}
