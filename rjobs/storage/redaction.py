"""Keep storage secrets out of messages and logs: account keys, SAS signatures and auth headers.

Every storage module routes free text through `redact`, so a secret never reaches an exception or a log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|SharedAccessKey|SharedAccessKeyName)=[^;\s]*"),
     r"\1=***"),
    (re.compile(r"(?i)([?&](?:sig|se|skoid|sktid|skt|ske|sks|skv)=)[^&\s'\"]*"), r"\1***"),
    (re.compile(r"(?i)\b(SharedKey(?:Lite)?\s+[^:\s]+:)\S+"), r"\1***"),
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
)  # fmt: skip


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask account keys, SAS signatures and auth headers, plus any given secret, in free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def first_line(exc: BaseException) -> str:
    """First line of an error message, redacted: SDK messages span lines and may echo URLs."""
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)[:300]


class RedactingFilter(logging.Filter):
    """Masks secrets in third-party records: urllib3 logs whole request URLs, SAS included, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except (TypeError, ValueError):
            record.msg, record.args = redact(str(record.msg)), ()
        return True


def install_log_redaction(names: Iterable[str] = ("urllib3.connectionpool",)) -> None:
    """Attach RedactingFilter once to each named logger."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
