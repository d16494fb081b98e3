"""Fixtures: a simulator served over real HTTP with a manual clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connector.simulator import RunningSimulator, SimulatorSettings, serve_in_thread

NOW = "2026-05-01T12:28:00Z"
KEY = "sim-demo-key"
REPORT = "/api/v1/reports/mailboxUserPerformance"


def make_settings(**changes: Any) -> SimulatorSettings:
    """Test settings: manual clock, compressed run time."""
    values: dict[str, Any] = {"clock": "manual", "now": NOW, "run_seconds": 0.05}
    values.update(changes)
    return SimulatorSettings(**values)


@pytest.fixture
def serve() -> Iterator[Callable[..., RunningSimulator]]:
    """Starts simulators with custom settings; all stop after the test."""
    stack: list[Any] = []

    def start(**changes: Any) -> RunningSimulator:
        context = serve_in_thread(make_settings(**changes))
        running = context.__enter__()
        stack.append(context)
        return running

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def running(serve: Callable[..., RunningSimulator]) -> RunningSimulator:
    """A simulator with the test defaults."""
    return serve()


@pytest.fixture
def client(running: RunningSimulator) -> Iterator[httpx.Client]:
    """An HTTP client with the demo key, pointed at `running`."""
    with httpx.Client(
        base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        yield http


def mailboxes(client: httpx.Client) -> list[dict[str, Any]]:
    """Lists the mailboxes."""
    response = client.get("/api/v1/admin/mailboxes")
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["mailboxes"]
    return result


def mailbox_in(client: httpx.Client, zone: str) -> dict[str, Any]:
    """Returns the first mailbox in a time zone."""
    return next(m for m in mailboxes(client) if m["timeZone"] == zone)


def wait_done(client: httpx.Client, envelope: dict[str, Any]) -> dict[str, Any]:
    """Polls `_links.self` until the run is done."""
    deadline = time.monotonic() + 10
    while envelope["status"] == "running":
        assert time.monotonic() < deadline, "run did not finish"
        time.sleep(0.01)
        response = client.get(envelope["_links"]["self"]["href"])
        response.raise_for_status()
        envelope = response.json()
    return envelope


def run_report(
    client: httpx.Client, body: dict[str, Any], **params: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Submits a report, waits, follows every page; returns rows and last page."""
    response = client.post(REPORT, params=params, json=body)
    response.raise_for_status()
    page = wait_done(client, response.json())
    rows = list(page["result"]["data"])
    while "next" in page["_links"]:
        page = client.get(page["_links"]["next"]["href"]).json()
        rows.extend(page["result"]["data"])
    return rows, page


def without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drops the pagination ids."""
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]
