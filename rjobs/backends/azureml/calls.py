"""Every request to the Azure ML control plane passes through ServiceCalls: counted per operation, and a throttled,
failing or unreachable service turned into TransientBackendError carrying the service's Retry-After.

Nothing here retries: azure-core's retry policy inside the SDK already has (workspace.make_ml_client configures it),
and what is left to retry is the caller's decision (rjobs.core.retry.RetryPolicy).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rjobs.core.errors import TransientBackendError

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the service asked us to wait: Retry-After (seconds or HTTP date) or the *-ms variants."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    for key in ("retry-after-ms", "x-ms-retry-after-ms"):
        if key in lower:
            try:
                return max(0.0, float(lower[key]) / 1000.0)
            except ValueError:
                pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def transient_error(operation: str, exc: BaseException) -> TransientBackendError | None:
    """The retryable error for a throttled, failing or unreachable control plane; None for anything else."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientBackendError(f"{operation}: connection problem ({type(exc).__name__})")
    if isinstance(exc, HttpResponseError) and exc.status_code in TRANSIENT_STATUS:
        headers = getattr(exc.response, "headers", None)
        reason = exc.reason or ""
        return TransientBackendError(
            f"{operation}: HTTP {exc.status_code} {reason}".rstrip(), retry_after=retry_after_seconds(headers)
        )
    return None


class ServiceCalls:
    """The injected MLClient behind one wrapper, so every collaborator counts and translates errors the same way."""

    def __init__(self, ml_client: Any) -> None:
        self.ml_client = ml_client
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, operation: str) -> None:
        with self._lock:
            self.counts[operation] += 1

    def __call__(self, operation: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request: counted, and a transient failure raised as TransientBackendError (others unchanged)."""
        self._count(operation)
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            transient = transient_error(operation, exc)
            if transient is not None:
                raise transient from exc
            raise

    def get_job(self, job_name: str) -> Any | None:
        """The job of this name, or None when the workspace has none."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self("jobs.get", self.ml_client.jobs.get, job_name)
        except ResourceNotFoundError:
            return None

    def next_page(self, operation: str, pages: Iterator[Any]) -> list[Any] | None:
        """One page of a listing is one request; the end of the listing (None) costs none."""
        try:
            page = list(next(pages))
        except StopIteration:
            return None
        except Exception as exc:
            self._count(operation)
            transient = transient_error(operation, exc)
            if transient is not None:
                raise transient from exc
            raise
        self._count(operation)
        return page
