"""The request budget: bursts up to the limit, spaces by window, serves by priority."""

import asyncio

from connector.budget import (
    PRIORITY_PAGE,
    PRIORITY_POLL,
    PRIORITY_SUBMIT,
    RequestBudget,
)

WINDOW_SECONDS = 0.2


async def send(
    budget: RequestBudget,
    priority: tuple[int, int],
    sent: list[tuple[str, float]],
    name: str,
) -> None:
    async with budget.slot(priority):
        sent.append((name, asyncio.get_running_loop().time()))


def test_the_first_window_allows_a_burst_of_the_limit() -> None:
    async def scenario() -> list[tuple[str, float]]:
        budget = RequestBudget(3, WINDOW_SECONDS)
        sent: list[tuple[str, float]] = []
        await asyncio.gather(
            *(send(budget, (PRIORITY_PAGE, 0), sent, str(i)) for i in range(5))
        )
        return sent

    sent = asyncio.run(scenario())
    times = sorted(at for _, at in sent)
    assert times[2] - times[0] < WINDOW_SECONDS / 4
    assert times[3] - times[0] >= WINDOW_SECONDS


def test_no_window_ever_holds_more_than_the_limit() -> None:
    async def scenario() -> list[tuple[str, float]]:
        budget = RequestBudget(4, WINDOW_SECONDS)
        sent: list[tuple[str, float]] = []
        await asyncio.gather(
            *(send(budget, (PRIORITY_PAGE, 0), sent, str(i)) for i in range(13))
        )
        return sent

    sent = asyncio.run(scenario())
    times = sorted(at for _, at in sent)
    for first, later in zip(times, times[4:], strict=False):
        assert later - first >= WINDOW_SECONDS


def test_waiting_submits_and_polls_go_before_pages() -> None:
    async def scenario() -> list[str]:
        budget = RequestBudget(1, WINDOW_SECONDS)
        sent: list[tuple[str, float]] = []
        await send(budget, (PRIORITY_PAGE, 0), sent, "first")
        await asyncio.gather(
            send(budget, (PRIORITY_PAGE, 2), sent, "page of run 2"),
            send(budget, (PRIORITY_PAGE, 1), sent, "page of run 1"),
            send(budget, (PRIORITY_POLL, 5), sent, "poll"),
            send(budget, (PRIORITY_SUBMIT, 9), sent, "submit"),
        )
        return [name for name, _ in sent]

    assert asyncio.run(scenario()) == [
        "first",
        "submit",
        "poll",
        "page of run 1",
        "page of run 2",
    ]


def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    async def scenario() -> tuple[list[str], int]:
        budget = RequestBudget(1, WINDOW_SECONDS)
        sent: list[tuple[str, float]] = []
        await send(budget, (PRIORITY_PAGE, 0), sent, "first")
        cancelled = asyncio.create_task(send(budget, (PRIORITY_SUBMIT, 0), sent, "x"))
        waiting = asyncio.create_task(send(budget, (PRIORITY_PAGE, 0), sent, "page"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(cancelled, waiting, return_exceptions=True)
        return [name for name, _ in sent], budget.used

    names, used = asyncio.run(scenario())
    assert names == ["first", "page"]
    assert used <= 1
