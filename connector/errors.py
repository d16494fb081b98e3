"""The connector's exceptions, sorted by what the caller should do about them.

Everything raised on purpose derives from `EmailgisticsError`; only the command
line catches the root, prints one line and exits non-zero.
"""

from __future__ import annotations


class EmailgisticsError(Exception):
    """Root of every error the connector raises on purpose."""


class ConfigurationError(EmailgisticsError):
    """A setting or command-line argument is invalid; nothing was requested yet."""


class DestinationError(EmailgisticsError):
    """The warehouse could not be reached or refused a load; nothing of that load
    was committed."""


class LoadInterrupted(EmailgisticsError):
    """SIGINT or SIGTERM stopped the load; what was committed stays committed.

    Attributes:
        windows_committed: Windows loaded and committed by this run.
    """

    def __init__(self, windows_committed: int) -> None:
        super().__init__(
            f"interrupted: {windows_committed} "
            f"window{'' if windows_committed == 1 else 's'} loaded and committed; "
            "run the same command again to resume."
        )
        self.windows_committed = windows_committed


class PipelineLockedError(EmailgisticsError):
    """Another run of the same pipeline holds the lock."""


class ApiError(EmailgisticsError):
    """The API answered with an error status.

    Attributes:
        status: The HTTP status code (0 when no response arrived).
        path: The request path, without host or query string.
        code: The envelope's `error.code`, when the body carried one.
    """

    def __init__(
        self, message: str, *, status: int, path: str, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.code = code


class FatalApiError(ApiError):
    """An error the user must fix before any run can succeed; stops the run."""


class AuthError(FatalApiError):
    """401 or 403: the key is missing, expired, deleted or lacks a scope."""


class BadRequestError(FatalApiError):
    """400: the API rejected the request's parameters."""


class MailboxNotFoundError(ApiError):
    """404 on submit: the mailbox is not in the key's allowlist (or not at all).

    Attributes:
        mailbox_id: The mailbox that was refused.
    """

    def __init__(self, message: str, *, path: str, mailbox_id: str) -> None:
        super().__init__(message, status=404, path=path)
        self.mailbox_id = mailbox_id


class ResultExpiredError(ApiError):
    """404 on a result URL: the result expired and the run must be submitted again."""


class RetriableApiError(ApiError):
    """429, 5xx, a dropped connection, a timeout or a malformed body."""


class RateLimitedError(RetriableApiError):
    """429: the request rate or the concurrent-run limit was hit.

    Attributes:
        retry_after_seconds: The server's `Retry-After`, when positive.
    """

    def __init__(
        self, message: str, *, path: str, retry_after_seconds: float | None
    ) -> None:
        super().__init__(message, status=429, path=path)
        self.retry_after_seconds = retry_after_seconds


class ReportRunFailed(EmailgisticsError):
    """A report run ended with `status: "error"`, or could not be completed."""


class ReportTimeoutError(ReportRunFailed):
    """A report run was still running after `job_timeout_seconds`."""


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception of a chain, through exception groups too."""
    seen: set[int] = set()
    current = error
    while id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup) and current.exceptions:
            current = current.exceptions[0]
            continue
        inner = current.__cause__ or current.__context__
        if inner is None:
            break
        current = inner
    return current


def reraise_interrupt(error: BaseException) -> None:
    """Raises KeyboardInterrupt when one is anywhere in the error's chain.

    dlt wraps a KeyboardInterrupt inside a pipeline step into PipelineStepFailed,
    which would otherwise be reported as a destination failure.

    Raises:
        KeyboardInterrupt: The chain holds one.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        seen.add(id(current))
        current = current.__cause__ or current.__context__
