"""What a storage failure means: worth retrying or not, and one line that names the account, container and fix.

Kept apart from the uploader so the wording of every failure can be tested without a storage account.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient

from rjobs.storage.locations import public_url
from rjobs.storage.redaction import first_line, redact

_NOT_PERMITTED = frozenset({"AuthorizationPermissionMismatch", "AuthorizationResourceTypeMismatch"})


class UploadError(RuntimeError):
    """One actionable failure of an upload: names the account, the container and the fix."""

    def __init__(
        self,
        message: str,
        *,
        account: str,
        container: str,
        status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(" ".join(redact(message).split()))
        self.account = account
        self.container = container
        self.status = status
        self.error_code = error_code


def status_of(exc: AzureError) -> int | None:
    """The HTTP status of a service reply; None when no reply came (network, sign-in)."""
    return exc.status_code if isinstance(exc, HttpResponseError) else None


def error_code_of(exc: AzureError) -> str | None:
    """Storage's error code (e.g. ContainerNotFound) as text, whether the SDK gave an enum or a string."""
    code = getattr(exc, "error_code", None)
    return None if code is None else str(getattr(code, "value", code))


def not_permitted(exc: HttpResponseError) -> bool:
    """Signed in but not allowed this particular operation (a scoped SAS or role), unlike a bad key."""
    return exc.status_code == 403 and error_code_of(exc) in _NOT_PERMITTED


def is_transient(exc: BaseException) -> bool:
    """Worth another try: network trouble, throttling, timeouts and server-side errors."""
    if isinstance(exc, ClientAuthenticationError):
        return False
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        return status is None or status in (408, 429) or status >= 500
    return False


def upload_error(exc: AzureError, client: BlobServiceClient, container: str, *, creating: bool = False) -> UploadError:
    """Translate an SDK error into one line that names the account, the container and the fix."""
    account = client.account_name or "?"
    status, code = status_of(exc), error_code_of(exc)
    where = f"storage account '{account}' ({public_url(client.url)}), container '{container}'"
    detail = f"{status} {code}" if status else type(exc).__name__
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        if creating:
            action = "the container does not exist and this credential may not create it"
            fix = "create the container, or grant the identity 'Storage Blob Data Contributor'"
        else:
            action = "access denied"
            fix = _credential_fix(client.credential)
        message = f"{where}: {action} ({detail}): {fix}"
    elif isinstance(exc, ServiceRequestError):
        message = f"{where}: cannot reach the account ({detail}): check account_url and the network"
    elif code == "ContainerNotFound":
        message = f"{where}: the container does not exist ({detail}): create it, or use a credential that may"
    elif isinstance(exc, ResourceNotFoundError):
        message = f"{where}: not found ({detail}): check the account URL and that the container still exists"
    else:
        message = f"{where}: upload failed ({detail}: {first_line(exc)}): re-run to resume; unchanged blobs are skipped"
    return UploadError(message, account=account, container=container, status=status, error_code=code)


def _credential_fix(credential: Any) -> str:
    """The fix for a refused credential depends on its kind: account key, token (identity) or SAS."""
    if hasattr(credential, "account_key"):
        return "the account key was rejected: update the connection string with a current key"
    if hasattr(credential, "get_token"):
        return (
            "sign in (az login, or a managed identity) and grant that identity "
            "'Storage Blob Data Contributor' on the account"
        )
    return "the SAS token is invalid, expired or lacks read/write/create permission: issue a new one"
