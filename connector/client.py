"""Async client for the Emailgistics API: requests, pacing and retries.

Every request of the process goes through one `ApiClient`, so the request budget
(`requests_per_minute`) and any 429 pause are shared by all mailboxes and
windows. GETs are retried with backoff on 5xx, dropped connections, timeouts and
malformed bodies; a report POST is never retried here, because it may already
have started a run (the runner decides). Only paths are logged, never the key,
the host or a query string. `connector.responses` reads the bodies and maps
error statuses to exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connector.budget import (
    PRIORITY_PAGE,
    PRIORITY_POLL,
    PRIORITY_SUBMIT,
    Priority,
    RequestBudget,
)
from connector.config import LoadConfig
from connector.errors import (
    ApiError,
    FatalApiError,
    MailboxNotFoundError,
    RateLimitedError,
    ResultExpiredError,
    RetriableApiError,
)
from connector.periods import Window
from connector.responses import (
    Envelope,
    decode_json,
    parse_envelope,
    path_of,
    raise_for_status,
    retry_after_seconds,
)
from connector.settings import (
    DEFAULT_BASE_URL,
    GET_RETRY_ATTEMPTS,
    GET_RETRY_MAX_WAIT_SECONDS,
    HTTP_TIMEOUT_SECONDS,
    MAILBOXES_PATH,
    RATE_LIMIT_MAX_ATTEMPTS,
    RATE_LIMIT_MAX_WAIT_SECONDS,
    REPORT_PATH,
)

logger = logging.getLogger(__name__)


@dataclass
class ClientCounters:
    """Request counts for progress display and the run summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class ApiClient:
    """Sends every API request of a load, paced and retried.

    Args:
        config: The validated settings (base URL, key, limits, waits).
        transport: An httpx transport to use instead of the network (tests).
    """

    def __init__(
        self, config: LoadConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._config = config
        self._secret = config.api_key.reveal()
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            headers={
                "Authorization": f"Bearer {self._secret}",
                "Accept": "application/json",
            },
            timeout=HTTP_TIMEOUT_SECONDS,
            transport=transport,
            follow_redirects=False,
        )
        self._budget = RequestBudget(
            config.requests_per_minute, config.rate_window_seconds
        )
        self._paused_until = 0.0
        # GET retries start at the first poll interval (2s by default), never
        # above one second, so a blip costs little and a short test stays short.
        self._retry_initial_wait_seconds = min(1.0, config.poll_initial_seconds)
        self.counters = ClientCounters()

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

    async def list_mailboxes(self) -> list[dict[str, Any]]:
        """`GET /api/v1/admin/mailboxes`: every mailbox the key may report on.

        Raises:
            FatalApiError: 404, which means base_url is not the API's host.
            RetriableApiError: The host could not be reached after retries.
        """
        base_url = self._config.base_url
        try:
            body = await self._get_json(MAILBOXES_PATH, kind="mailboxes")
        except RetriableApiError as exc:
            if exc.status != 0:
                raise
            what = "refused or timed out" if exc.code == "connect" else "dropped"
            raise RetriableApiError(
                f"Cannot reach the API at {urlsplit(base_url).netloc} (base_url "
                f"{base_url}): the connection was {what} after "
                f"{GET_RETRY_ATTEMPTS} attempts. Check base_url, the network, DNS "
                "and any proxy or firewall, then run again.",
                status=0,
                path=MAILBOXES_PATH,
                code=exc.code,
            ) from None
        except ApiError as exc:
            if exc.status != 404 or isinstance(exc, FatalApiError):
                raise
            raise FatalApiError(
                f"{MAILBOXES_PATH} answered 404 (Not Found) at base_url {base_url}: "
                f"the base_url is probably wrong; give the API host only, e.g. "
                f"{DEFAULT_BASE_URL}.",
                status=404,
                path=MAILBOXES_PATH,
            ) from None
        mailboxes = body.get("mailboxes") if isinstance(body, dict) else None
        if not isinstance(mailboxes, list):
            raise RetriableApiError(
                "The mailbox list had no 'mailboxes' array.",
                status=200,
                path=MAILBOXES_PATH,
            )
        return [m for m in mailboxes if isinstance(m, dict)]

    async def submit_report(
        self, mailbox_id: str, period: str, window: Window
    ) -> Envelope:
        """Starts one report run (a single POST; 429s are waited out and resent).

        Raises:
            MailboxNotFoundError: The mailbox is not in the key's allowlist.
            AuthError, BadRequestError: Fatal for the whole load.
            RetriableApiError: 5xx, timeout, dropped connection or malformed body;
                the run may or may not have started.
        """
        start, end = window.api_range()
        body: dict[str, Any] = {
            "mailboxId": mailbox_id,
            "start": start,
            "end": end,
            "period": period,
        }
        if self._config.users:
            body["users"] = list(self._config.users)
        params = {
            "fieldGroup": ",".join(self._config.field_groups),
            "includeDetails": "true" if self._config.include_details else "false",
            "max": str(self._config.page_size),
        }

        response = await self._send_paced(
            "POST", REPORT_PATH, kind="submit", params=params, json=body
        )
        if response.status_code == 404:
            raise MailboxNotFoundError(
                f"Mailbox {mailbox_id} was refused (404): it is not in the API "
                "key's mailbox allowlist, or no longer exists. Remove it from "
                "mailbox_ids or use a key that allows it.",
                path=REPORT_PATH,
                mailbox_id=mailbox_id,
            )
        raise_for_status(
            response, REPORT_PATH, what=f"mailbox {mailbox_id}", secret=self._secret
        )
        envelope = parse_envelope(decode_json(response, REPORT_PATH))
        logger.info(
            "Submitted run for mailbox %s, %s %s (%s)",
            mailbox_id,
            period,
            window.label(),
            path_of(envelope.self_url),
        )
        return envelope

    async def get_result(
        self, url: str, *, kind: str = "poll", order: int = 0
    ) -> Envelope:
        """GETs a result URL (poll or page) exactly as the API gave it.

        Args:
            url: The URL from the API's `_links`.
            kind: `poll` or `page`; polls go before pages for the budget.
            order: Among requests of one kind, lower goes first (the run's
                submission number, so the oldest run's pages come first).

        Raises:
            ResultExpiredError: 404, the result expired.
            AuthError: 401 or 403.
            RetriableApiError: Retries ran out.
        """
        return parse_envelope(await self._get_json(url, kind=kind, order=order))

    async def _get_json(self, url: str, *, kind: str, order: int = 0) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_retriable_get_error),
            stop=stop_after_attempt(GET_RETRY_ATTEMPTS),
            wait=wait_exponential_jitter(
                multiplier=self._retry_initial_wait_seconds,
                max=GET_RETRY_MAX_WAIT_SECONDS,
                jitter=self._retry_initial_wait_seconds,
            ),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                response = await self._send_paced("GET", url, kind=kind, order=order)
                if response.status_code == 404 and kind != "mailboxes":
                    raise ResultExpiredError(
                        f"Report result {path_of(url)} expired (404).",
                        status=404,
                        path=path_of(url),
                    )
                raise_for_status(response, path_of(url), what=kind, secret=self._secret)
                return decode_json(response, path_of(url))
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _log_retry(self, retry_state: Any) -> None:
        self.counters.retries += 1
        error = retry_state.outcome.exception() if retry_state.outcome else None
        logger.warning(
            "Retrying %s after %s (attempt %d, waiting %.1fs)",
            getattr(error, "path", "request"),
            _describe(error),
            retry_state.attempt_number,
            retry_state.upcoming_sleep,
        )

    async def _send_paced(
        self, method: str, url: str, *, kind: str, order: int = 0, **kwargs: Any
    ) -> httpx.Response:
        """Sends one request under the shared budget, waiting out 429s.

        Raises:
            RateLimitedError: Still 429 after `RATE_LIMIT_MAX_ATTEMPTS`.
            RetriableApiError: Timeout or dropped connection.
        """
        path = path_of(url)
        priority = (_PRIORITIES.get(kind, PRIORITY_POLL), order)
        for attempt in range(1, RATE_LIMIT_MAX_ATTEMPTS + 1):
            response = await self._send_once(method, url, kind, priority, **kwargs)

            if response.status_code != 429:
                return response
            self.counters.rate_limited += 1
            wait_seconds = self._rate_limit_wait(response, attempt)
            self._paused_until = max(
                self._paused_until, time.monotonic() + wait_seconds
            )
            logger.warning(
                "Rate limited (429) on %s %s; pausing all requests %.1fs "
                "(attempt %d of %d)",
                method,
                path,
                wait_seconds,
                attempt,
                RATE_LIMIT_MAX_ATTEMPTS,
            )
        raise RateLimitedError(
            f"{method} {path} was still rate limited (429) after "
            f"{RATE_LIMIT_MAX_ATTEMPTS} attempts.",
            path=path,
            retry_after_seconds=None,
        )

    async def _send_once(
        self, method: str, url: str, kind: str, priority: Priority, **kwargs: Any
    ) -> httpx.Response:
        while True:
            while (delay := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(delay)

            async with self._budget.slot(priority):
                # A 429 may have arrived while this request waited for its turn.
                if self._paused_until > time.monotonic():
                    continue
                self.counters.requests += 1
                self.counters.by_kind[kind] = self.counters.by_kind.get(kind, 0) + 1
                try:
                    return await self._http.request(method, url, **kwargs)
                except httpx.TransportError as exc:
                    raise RetriableApiError(
                        f"{method} {path_of(url)} failed: {type(exc).__name__}",
                        status=0,
                        path=path_of(url),
                        code="connect" if _is_connect_error(exc) else "transport",
                    ) from None

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        retry_after = retry_after_seconds(response)
        if retry_after is not None:
            return min(retry_after, RATE_LIMIT_MAX_WAIT_SECONDS)
        base = self._config.rate_limit_wait_seconds
        return float(
            min(base * 2 ** (attempt - 1), max(base, RATE_LIMIT_MAX_WAIT_SECONDS))
        )


_PRIORITIES = {
    "mailboxes": PRIORITY_SUBMIT,
    "submit": PRIORITY_SUBMIT,
    "poll": PRIORITY_POLL,
    "page": PRIORITY_PAGE,
}


def _is_retriable_get_error(error: BaseException) -> bool:
    return isinstance(error, RetriableApiError) and not isinstance(
        error, RateLimitedError
    )


def _is_connect_error(error: httpx.TransportError) -> bool:
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def _describe(error: BaseException | None) -> str:
    if isinstance(error, ApiError) and error.code == "malformed":
        return "malformed JSON"
    if isinstance(error, ApiError):
        return f"status {error.status}" if error.status else str(error.code)
    return type(error).__name__
