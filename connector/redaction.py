"""Keeps the API key out of every log record, whatever logger emits it."""

from __future__ import annotations

import logging

REDACTED = "***"


class SecretRedactingFilter(logging.Filter):
    """Replaces known secret values in a record's formatted message.

    Attach it to handlers (not loggers) so records propagated from any library
    pass through it.
    """

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets: list[str] = [s for s in secrets or [] if s]

    def add_secret(self, secret: str) -> None:
        """Starts scrubbing `secret` from every later record."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        scrubbed = redact(message, self._secrets)
        if scrubbed != message:
            record.msg = scrubbed
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text, self._secrets)
            record.exc_info = None
        return True


def redact(text: str, secrets: list[str]) -> str:
    """Returns `text` with every occurrence of each secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def install_redaction(secret: str) -> SecretRedactingFilter:
    """Adds a redacting filter for `secret` to every handler of the root logger.

    Returns:
        The filter, so later handlers can be given the same one.
    """
    redacting_filter = SecretRedactingFilter([secret])
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting_filter)
    return redacting_filter
