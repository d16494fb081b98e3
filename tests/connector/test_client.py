"""The API client and report runner against `httpx.MockTransport`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pendulum
import pytest

from connector.client import ApiClient
from connector.config import LoadConfig, config_from_mapping
from connector.errors import (
    AuthError,
    BadRequestError,
    MailboxNotFoundError,
    ReportTimeoutError,
    RetriableApiError,
)
from connector.periods import Window
from connector.runner import ReportRunner, WindowJob
from tests.connector.fake_api import BASE, FakeApi, body_of, envelope, error

T = TypeVar("T")
KEY = "key-that-must-never-leak-42"
WINDOW = Window(pendulum.naive(2026, 4, 1), pendulum.naive(2026, 4, 3))
JOB = WindowJob("mbx-1", "day", WINDOW, "UTC")
ROW_IN = {"id": "1", "startDateTime": "2026-04-01T00:00:00", "userId": "u1"}
ROW_LATE = {"id": "2", "startDateTime": "2026-04-03T00:00:00", "userId": "u1"}


def make_config(**changes: Any) -> LoadConfig:
    raw: dict[str, Any] = {
        "api_key": KEY,
        "base_url": BASE,
        "requests_per_minute": 60_000,
        "poll_initial_seconds": 0.01,
        "poll_max_seconds": 0.02,
        "rate_limit_wait_seconds": 0.2,
        "job_timeout_seconds": 5,
    }
    raw.update(changes)
    return config_from_mapping(raw)


def run_with_client(
    api: FakeApi, work: Callable[[ApiClient], Awaitable[T]], **changes: Any
) -> T:
    async def main() -> T:
        client = ApiClient(make_config(**changes), api.transport())
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def run_job(api: FakeApi, spool_dir: Path, job: WindowJob = JOB, **changes: Any) -> Any:
    async def work(client: ApiClient) -> Any:
        runner = ReportRunner(client, make_config(**changes), spool_dir)
        try:
            return await runner.fetch(job)
        finally:
            await runner.aclose()

    return run_with_client(api, work, **changes)


def ok(body: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json=body)


def test_get_is_retried_on_5xx_and_dropped_connections() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("dropped", request=request)

    api = FakeApi(
        scripted=[lambda r: error(503), drop],
        default=ok({"mailboxes": [{"mailboxId": "m"}]}),
    )

    mailboxes = run_with_client(api, lambda c: c.list_mailboxes())

    assert mailboxes == [{"mailboxId": "m"}]
    assert api.count("GET") == 3


def test_malformed_json_on_get_is_retried() -> None:
    api = FakeApi(
        scripted=[lambda r: httpx.Response(200, content=b'{"mailboxes": [')],
        default=ok({"mailboxes": []}),
    )

    assert run_with_client(api, lambda c: c.list_mailboxes()) == []
    assert api.count("GET") == 2


def test_429_honours_retry_after_and_pauses() -> None:
    api = FakeApi(
        scripted=[lambda r: httpx.Response(429, headers={"Retry-After": "0.3"})],
        default=ok({"mailboxes": []}),
    )

    started = time.monotonic()
    run_with_client(api, lambda c: c.list_mailboxes(), rate_limit_wait_seconds=5)

    assert 0.3 <= time.monotonic() - started < 2
    assert api.count("GET") == 2


def test_429_with_retry_after_zero_waits_the_configured_time() -> None:
    api = FakeApi(
        scripted=[lambda r: httpx.Response(429, headers={"Retry-After": "0"})],
        default=ok({"mailboxes": []}),
    )

    started = time.monotonic()
    run_with_client(api, lambda c: c.list_mailboxes(), rate_limit_wait_seconds=0.4)

    assert time.monotonic() - started >= 0.4


def test_post_is_not_retried_by_the_client() -> None:
    api = FakeApi(default=lambda r: error(503))

    with pytest.raises(RetriableApiError):
        run_with_client(api, lambda c: c.submit_report("mbx-1", "day", WINDOW))

    assert api.count("POST") == 1


def test_runner_retries_an_uncertain_post_once(tmp_path: Path) -> None:
    api = FakeApi(default=lambda r: error(502))

    with pytest.raises(RetriableApiError):
        run_job(api, tmp_path)

    assert api.count("POST") == 2


def test_submit_sends_aligned_range_and_settings(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def submit(request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST":
            return None
        seen.append(request)
        return httpx.Response(200, json=envelope("done", rows=[ROW_IN]))

    api = FakeApi(default=submit)

    run_job(api, tmp_path, page_size=120, users="u1,unknown", field_groups="closeData")

    request = seen[0]
    assert body_of(request) == {
        "mailboxId": "mbx-1",
        "start": "2026-04-01T00:00:00",
        "end": "2026-04-02T23:59:59",
        "period": "day",
        "users": ["u1", "unknown"],
    }
    assert request.url.params["max"] == "120"
    assert request.url.params["fieldGroup"] == "closeData"
    assert request.url.params["includeDetails"] == "false"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_auth_errors_are_fatal_and_never_show_the_key() -> None:
    api = FakeApi(default=lambda r: error(401, f"bad key {KEY}"))

    with pytest.raises(AuthError) as caught:
        run_with_client(api, lambda c: c.list_mailboxes())

    assert "401" in str(caught.value)
    assert KEY not in str(caught.value)
    assert api.count("GET") == 1


def test_403_names_the_missing_scope() -> None:
    api = FakeApi(default=lambda r: error(403, "missing scope"))

    with pytest.raises(AuthError, match="'reporting' scope"):
        run_with_client(api, lambda c: c.list_mailboxes())


def test_400_is_fatal_with_the_api_message(tmp_path: Path) -> None:
    api = FakeApi(default=lambda r: error(400, "'period' must be one of hour"))

    with pytest.raises(BadRequestError, match="'period' must be one of hour"):
        run_job(api, tmp_path)


def test_404_on_submit_names_the_mailbox(tmp_path: Path) -> None:
    api = FakeApi(default=lambda r: error(404, "not found"))

    with pytest.raises(MailboxNotFoundError, match="Mailbox mbx-1 was refused"):
        run_job(api, tmp_path)


def test_done_poll_carries_page_one_and_next_links_are_followed(
    tmp_path: Path,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json=envelope("running"))
        if "starting_after" in str(request.url):
            return httpx.Response(
                200, json=envelope("done", rows=[ROW_IN | {"id": "3"}])
            )
        return httpx.Response(
            200,
            json=envelope(
                "done",
                rows=[ROW_IN, ROW_LATE],
                next_after="2",
                cutoff="2026-04-02T08:14:00.0",
            ),
        )

    api = FakeApi(default=answer)

    fetched = run_job(api, tmp_path)

    pages = [
        orjson.loads(line) for line in fetched.spool_path.read_bytes().splitlines()
    ]
    assert [row["id"] for page in pages for row in page] == ["1", "3"]
    assert (fetched.rows, fetched.pages, fetched.dropped_rows) == (2, 2, 1)
    assert fetched.data_cutoff == pendulum.naive(2026, 4, 2, 8, 14)
    assert api.count("GET") == 2


def test_expired_result_is_submitted_again(tmp_path: Path) -> None:
    posts = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            return httpx.Response(
                200,
                json=envelope(
                    "done", run_id=f"r{posts}", rows=[ROW_IN], next_after="1"
                ),
            )
        if posts == 1:
            return error(404, "expired")
        return httpx.Response(200, json=envelope("done", run_id="r2", rows=[ROW_IN]))

    api = FakeApi(default=answer)

    fetched = run_job(api, tmp_path)

    assert posts == 2
    assert fetched.rows == 2
    assert len(fetched.spool_path.read_bytes().splitlines()) == 2


def test_run_still_running_after_the_timeout_fails_naming_the_window(
    tmp_path: Path,
) -> None:
    api = FakeApi(default=lambda r: httpx.Response(200, json=envelope("running")))

    with pytest.raises(
        ReportTimeoutError, match=r"mailbox mbx-1, day 2026-04-01T00:00\.\.2026-04-03"
    ):
        run_job(api, tmp_path, job_timeout_seconds=0.2)


def test_never_more_runs_in_flight_than_allowed(tmp_path: Path) -> None:
    running: set[str] = set()
    peak = 0
    polls: dict[str, int] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal peak
        if request.method == "POST":
            run_id = f"r{len(polls)}"
            polls[run_id] = 0
            running.add(run_id)
            peak = max(peak, len(running))
            return httpx.Response(200, json=envelope("running", run_id=run_id))
        run_id = request.url.path.rsplit("/", 1)[-1]
        polls[run_id] += 1
        if polls[run_id] < 3:
            return httpx.Response(200, json=envelope("running", run_id=run_id))
        running.discard(run_id)
        return httpx.Response(200, json=envelope("done", run_id=run_id))

    api = FakeApi(default=answer)
    jobs = [WindowJob(f"mbx-{i}", "day", WINDOW, "UTC") for i in range(7)]

    async def work(client: ApiClient) -> None:
        runner = ReportRunner(client, make_config(max_concurrent_runs=2), tmp_path)
        await asyncio.gather(*(runner.fetch(job) for job in jobs))

    run_with_client(api, work)

    assert peak == 2
    assert api.count("POST") == 7
