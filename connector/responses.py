"""Reading API responses: report envelopes, JSON bodies and error statuses.

Each error status maps to the exception that says what to do about it (fix the
key, fix the request, retry). Messages name the path, never the host, the query
string or the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from connector.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    RetriableApiError,
)
from connector.redaction import redact


@dataclass(frozen=True)
class Envelope:
    """One response of a report run: its state and, when done, one page of rows."""

    status: str
    self_url: str
    next_url: str | None
    rows: list[dict[str, Any]]
    total: int | None
    data_cutoff: str | None
    time_zone: str | None
    error_code: str | None = None
    error_message: str | None = None
    progress: int | None = None


def path_of(url: str) -> str:
    """The path of a URL, for logs and messages (no host, no query string)."""
    return urlsplit(url).path or "/"


def raise_for_status(
    response: httpx.Response, path: str, *, what: str, secret: str
) -> None:
    """Raises the exception an error status calls for; returns below 400.

    Args:
        path: The request path, for the message.
        what: What was requested, for a 400's message.
        secret: The API key, redacted from any message the API sent back.

    Raises:
        AuthError: 401 or 403.
        BadRequestError: 400.
        RetriableApiError: 5xx, 408, 409 or 425.
        ApiError: Any other error status.
    """
    status = response.status_code
    if status < 400:
        return
    code, message = _error_of(response)
    detail = redact(message or response.reason_phrase or "no message", [secret])
    if status == 401:
        raise AuthError(
            f"The API key was refused (401: {detail}): it is missing, malformed, "
            "expired or deleted. Create a new key in Emailgistics Admin > API "
            "Access and set it as SOURCES__EMAILGISTICS__API_KEY or api_key "
            "under [sources.emailgistics] in .dlt/secrets.toml (the variable "
            "wins).",
            status=status,
            path=path,
            code=code,
        )
    if status == 403:
        raise AuthError(
            f"The API key lacks a required scope (403: {detail}): it needs the "
            "'reporting' scope. Create a key with that scope.",
            status=status,
            path=path,
            code=code,
        )
    if status == 400:
        raise BadRequestError(
            f"The API rejected the request for {what} (400: {detail}). Check "
            "period, field_groups, users and the --start/--end dates.",
            status=status,
            path=path,
            code=code,
        )
    if status >= 500 or status in (408, 409, 425):
        raise RetriableApiError(
            f"{path} answered {status} ({detail}).",
            status=status,
            path=path,
            code=code,
        )
    raise ApiError(
        f"{path} answered {status} ({detail}).", status=status, path=path, code=code
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The positive `Retry-After` of a response, in seconds, if it has one."""
    header = response.headers.get("Retry-After")
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def decode_json(response: httpx.Response, path: str) -> Any:
    """The JSON body of a response.

    Raises:
        RetriableApiError: The body is not valid JSON (code `malformed`).
    """
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise RetriableApiError(
            f"{path} answered {response.status_code} with a body that is not "
            "valid JSON.",
            status=response.status_code,
            path=path,
            code="malformed",
        ) from None


def parse_envelope(body: Any) -> Envelope:
    """Reads a report run's state, links and rows from its decoded body.

    Raises:
        RetriableApiError: The body has no `status` (code `malformed`).
    """
    if not isinstance(body, dict) or "status" not in body:
        raise RetriableApiError(
            "A report response had no 'status'.", status=200, path="", code="malformed"
        )
    links = body.get("_links") or {}
    result = body.get("result") or {}
    error = body.get("error") or {}
    rows = result.get("data") or []
    return Envelope(
        status=str(body["status"]),
        self_url=str((links.get("self") or {}).get("href") or ""),
        next_url=(links.get("next") or {}).get("href"),
        rows=rows if isinstance(rows, list) else [],
        total=result.get("total"),
        data_cutoff=result.get("dataCutoffTimestamp"),
        time_zone=result.get("timeZone"),
        error_code=None if error.get("code") is None else str(error.get("code")),
        error_message=error.get("message"),
        progress=_progress_of(body.get("progress")),
    )


def _error_of(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    message = error.get("message")
    return (
        None if code is None else str(code),
        None if message is None else str(message),
    )


def _progress_of(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
