"""The one retry policy for control-plane calls the engine makes: bounded, jittered, honouring Retry-After.

HTTP-level retries belong to azure-core inside the SDK (configured in rjobs.backends.azureml.workspace); backends
retry nothing themselves and raise TransientBackendError once the SDK has given up. This policy then retries the
operation a bounded number of times, so one operation costs at most ATTEMPTS x (1 + the SDK's retries) requests.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rjobs.core.errors import TransientBackendError

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 4


@dataclass
class RetryPolicy:
    """Retry TransientBackendError up to `attempts` times in all, sleeping base * 2^n (capped, jittered down to half)
    or the service's Retry-After, whichever is longer; the last error propagates."""

    attempts: int = ATTEMPTS
    base_s: float = 2.0
    cap_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    retries: int = 0
    """Retries made so far, for the run summary."""

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_s < 0 or self.cap_s < self.base_s:
            raise ValueError(f"retry policy: need attempts >= 1 and 0 <= base_s <= cap_s, got {self}")

    def call(self, operation: str, function: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return function()
            except TransientBackendError as exc:
                if attempt == self.attempts:
                    raise
                self.retries += 1
                backoff = min(self.cap_s, self.base_s * 2**attempt) * self.rng.uniform(0.5, 1.0)
                wait = max(exc.retry_after or 0.0, backoff)
                log.info("%s: %s; attempt %d of %d in %.1f s", operation, exc, attempt + 1, self.attempts, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")
