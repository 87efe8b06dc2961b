"""Build the BlobServiceClient an upload uses: which credential, which retries, how many connections.

One factory, so the storage-aware retry policy and the pool sized for concurrent blocks apply to every upload.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ExponentialRetry
from requests import Session
from requests.adapters import HTTPAdapter

from rjobs.storage.redaction import install_log_redaction

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
SAS_TOKEN_ENV = "AZURE_STORAGE_SAS_TOKEN"


class StorageRetry(ExponentialRetry):
    """Storage's exponential backoff, except that a failed sign-in fails at once: retrying only delays it."""

    def increment(
        self,
        settings: dict[str, Any],
        request: Any,
        response: Any | None = None,
        error: AzureError | None = None,
    ) -> bool:
        if isinstance(error, ClientAuthenticationError):
            return False
        return bool(super().increment(settings, request, response, error))


def _pooled_transport(pool_size: int, connection_timeout: float, read_timeout: float) -> RequestsTransport:
    """A transport whose HTTP pool holds `pool_size` connections, enough for file x block concurrency."""
    session = Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(
        session=session, session_owner=True, connection_timeout=connection_timeout, read_timeout=read_timeout
    )


def _default_credential(account_url: str) -> Any | None:
    """None when the URL carries a SAS, else $AZURE_STORAGE_SAS_TOKEN, else DefaultAzureCredential."""
    if "sig=" in urlsplit(account_url).query:
        return None
    sas = os.environ.get(SAS_TOKEN_ENV) or None
    if sas is not None:
        return sas
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def make_service_client(
    account_url: str | None = None,
    connection_string: str | None = None,
    *,
    credential: Any | None = None,
    connection_string_env: str = CONNECTION_STRING_ENV,
    retry_total: int = 5,
    pool_size: int = 32,
    **client_kwargs: Any,
) -> BlobServiceClient:
    """Build the client: explicit connection string, else account_url (+ identity unless it has a SAS), else env.

    Retries are explicit (storage-aware exponential backoff) and the HTTP pool is large enough for
    file x block concurrency; pass `retry_policy` or `transport` in client_kwargs to override.
    """
    install_log_redaction()
    if connection_string is None and account_url is None:
        connection_string = os.environ.get(connection_string_env) or None
        if connection_string is None:
            raise ValueError(f"no storage account: pass account_url or set ${connection_string_env}")
    client_kwargs.setdefault(
        "retry_policy",
        StorageRetry(initial_backoff=2, increment_base=2, retry_total=retry_total, random_jitter_range=1),
    )
    client_kwargs.setdefault("connection_timeout", 20)
    client_kwargs.setdefault("read_timeout", 120)
    if "transport" not in client_kwargs:
        client_kwargs["transport"] = _pooled_transport(
            pool_size, client_kwargs["connection_timeout"], client_kwargs["read_timeout"]
        )
    if connection_string is not None:
        try:
            return BlobServiceClient.from_connection_string(connection_string, **client_kwargs)
        except ValueError:
            raise ValueError("the storage connection string is malformed (its value is not shown)") from None
    assert account_url is not None
    if credential is None:
        credential = _default_credential(account_url)
    return BlobServiceClient(account_url, credential=credential, **client_kwargs)
