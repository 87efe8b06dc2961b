"""The base of the fake's operation groups (client.jobs, .data, .environments, .models, .code)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.client import FakeMLClient


class Ops:
    """Public operations serialise on the client's (re-entrant) lock: the flow calls one MLClient from many task
    threads, and each operation reads and changes the workspace's records."""

    def __init__(self, client: FakeMLClient) -> None:
        self._client = client

    def __getattribute__(self, name: str) -> Any:
        attribute = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attribute):
            return attribute
        lock = object.__getattribute__(self, "_client").lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return attribute(*args, **kwargs)

        return locked
