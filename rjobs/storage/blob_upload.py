"""Upload local data to Azure Blob Storage, sending only what changed (by MD5).

Engine layer: no Prefect, no terminal output. A re-run skips every blob whose stored MD5 matches the
local file, so an interrupted upload resumes by running it again.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import mimetypes
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    ExponentialRetry,
)
from requests import Session
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
SAS_TOKEN_ENV = "AZURE_STORAGE_SAS_TOKEN"
MiB = 1024 * 1024
DEFAULT_BLOCK_SIZE = 4 * MiB
MAX_BLOCK_SIZE = 4000 * MiB
MAX_BLOCKS_PER_BLOB = 50_000
HASH_CHUNK = 1 * MiB

ProgressCallback = Callable[[int, int], None]
"""Called as (bytes_sent, bytes_to_send), first with 0 before anything is sent; from worker threads."""

_T = TypeVar("_T")
_R = TypeVar("_R")

_CONTAINER_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_NOT_PERMITTED = frozenset({"AuthorizationPermissionMismatch", "AuthorizationResourceTypeMismatch"})
_DATASTORE_RE = re.compile(r"^[A-Za-z0-9_]+$")
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|SharedAccessKey|SharedAccessKeyName)=[^;\s]*"),
     r"\1=***"),
    (re.compile(r"(?i)([?&](?:sig|se|skoid|sktid|skt|ske|sks|skv)=)[^&\s'\"]*"), r"\1***"),
    (re.compile(r"(?i)\b(SharedKey(?:Lite)?\s+[^:\s]+:)\S+"), r"\1***"),
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
)  # fmt: skip


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


@dataclass(frozen=True)
class UploadResult:
    """What an upload did; `reference` is what a job input points at."""

    reference: str
    uploaded: tuple[str, ...]
    skipped: tuple[str, ...]
    bytes_sent: int


@dataclass(frozen=True)
class _LocalFile:
    path: Path
    rel: str
    blob: str
    size: int


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask account keys, SAS signatures and auth headers, plus any given secret, in free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


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


def public_url(url: str) -> str:
    """The URL without query (SAS), fragment or user info: safe to log and to hand to a job."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def normalize_prefix(prefix: str) -> str:
    """Blob prefix with POSIX separators and no empty, '.' or '..' segments."""
    segments = [s for s in prefix.replace("\\", "/").split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"blob prefix {prefix!r} must not contain '.' or '..' segments")
    return "/".join(segments)


def build_reference(
    service_url: str, container: str, path: str, *, is_folder: bool, datastore: str | None = None
) -> str:
    """`azureml://datastores/<ds>/paths/<path>` with a datastore, else the blob URL without SAS.

    Folders end with '/', as Azure ML's uri_folder expects; only the https form is percent-encoded.
    """
    path = normalize_prefix(path)
    suffix = "/" if is_folder and path else ""
    if datastore is not None:
        if not _DATASTORE_RE.match(datastore):
            raise ValueError(f"datastore name {datastore!r}: only letters, digits and underscores")
        return f"azureml://datastores/{datastore}/paths/{path}{suffix}"
    base = public_url(service_url).rstrip("/")
    return f"{base}/{container}/{quote(path, safe='/')}{suffix}" if path else f"{base}/{container}/"


def md5_of_stream(stream: BinaryIO, chunk_size: int = HASH_CHUNK) -> bytes:
    """MD5 of a stream read in bounded chunks, so a large file never sits in memory."""
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
    return digest.digest()


def md5_of_file(path: Path, chunk_size: int = HASH_CHUNK) -> bytes:
    """Streaming MD5 of a file, comparable with a blob's content_settings.content_md5."""
    with path.open("rb") as stream:
        return md5_of_stream(stream, chunk_size)


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
        session = Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        client_kwargs["transport"] = RequestsTransport(
            session=session,
            session_owner=True,
            connection_timeout=client_kwargs["connection_timeout"],
            read_timeout=client_kwargs["read_timeout"],
        )
    if connection_string is not None:
        try:
            return BlobServiceClient.from_connection_string(connection_string, **client_kwargs)
        except ValueError:
            raise ValueError("the storage connection string is malformed (its value is not shown)") from None
    if credential is None and "sig=" not in urlsplit(account_url or "").query:
        credential = os.environ.get(SAS_TOKEN_ENV) or None
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
    assert account_url is not None
    return BlobServiceClient(account_url, credential=credential, **client_kwargs)


def upload(
    client: BlobServiceClient,
    path: str | os.PathLike[str],
    container: str,
    prefix: str = "",
    *,
    datastore: str | None = None,
    max_concurrency: int = 4,
    max_file_concurrency: int = 4,
    block_size: int = DEFAULT_BLOCK_SIZE,
    file_attempts: int = 3,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadResult:
    """Upload a file to `prefix/<name>` or a folder's tree under `prefix/`, skipping unchanged blobs.

    Files up to `block_size` go in one request; larger ones in `block_size` blocks, `max_concurrency`
    at a time, committed with their MD5, so a half-sent blob never looks complete.
    """
    if not _CONTAINER_RE.match(container):
        raise ValueError(f"container name {container!r}: 3-63 lowercase letters, digits and single hyphens")
    if not 1 <= block_size <= MAX_BLOCK_SIZE:
        raise ValueError(f"block_size must be between 1 and {MAX_BLOCK_SIZE} bytes")
    if max_concurrency < 1 or max_file_concurrency < 1 or file_attempts < 1:
        raise ValueError("max_concurrency, max_file_concurrency and file_attempts must be >= 1")
    install_log_redaction()
    root = Path(path)
    prefix = normalize_prefix(prefix)
    files, is_folder = _collect(root, prefix)
    reference = build_reference(
        client.url, container, prefix if is_folder else files[0].blob, is_folder=is_folder, datastore=datastore
    )
    uploader = _Uploader(client, container, block_size, max_concurrency, file_attempts, progress, sleep)
    try:
        list_prefix = (f"{prefix}/" if prefix else "") if is_folder else files[0].blob
        return uploader.run(files, max_file_concurrency, list_prefix=list_prefix, reference=reference)
    except AzureError as exc:
        raise uploader.as_upload_error(exc) from None


def _collect(root: Path, prefix: str) -> tuple[list[_LocalFile], bool]:
    """The files to send with their blob names; relative names keep the folder tree, POSIX style."""
    if root.is_file():
        blob = f"{prefix}/{root.name}" if prefix else root.name
        return [_LocalFile(root, root.name, blob, root.stat().st_size)], False
    if not root.is_dir():
        raise FileNotFoundError(f"nothing to upload: {root} is neither a file nor a folder")
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if not file.is_file():
                continue
            rel = file.relative_to(root).as_posix()
            blob = f"{prefix}/{rel}" if prefix else rel
            files.append(_LocalFile(file, rel, blob, file.stat().st_size))
    if not files:
        logger.warning("folder %s has no files: nothing to upload", root)
    return files, True


def _block_id(index: int) -> str:
    """Fixed-length ids: Azure rejects a blob whose uncommitted blocks have ids of mixed length."""
    return base64.b64encode(f"{index:032d}".encode()).decode()


def _status(exc: AzureError) -> int | None:
    return exc.status_code if isinstance(exc, HttpResponseError) else None


def _error_code(exc: AzureError) -> str | None:
    code = getattr(exc, "error_code", None)
    return None if code is None else str(getattr(code, "value", code))


def _not_permitted(exc: HttpResponseError) -> bool:
    """Signed in but not allowed this particular operation (a scoped SAS or role), unlike a bad key."""
    return exc.status_code == 403 and _error_code(exc) in _NOT_PERMITTED


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


def _run_bounded(fn: Callable[[_T], _R], items: list[_T], workers: int) -> list[_R]:
    """Map fn over items on at most `workers` threads; on the first failure cancel the rest, re-raise."""
    if workers == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures: list[Future[_R]] = [pool.submit(fn, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f.exception() for f in done if f.exception() is not None), None)
        if failed is not None:
            for future in pending:
                future.cancel()
            raise failed
        return [future.result() for future in futures]


class _Uploader:
    """One upload's shared state: the container, progress accounting and error translation."""

    def __init__(
        self,
        client: BlobServiceClient,
        container: str,
        block_size: int,
        max_concurrency: int,
        file_attempts: int,
        progress: ProgressCallback | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.client = client
        self.container_name = container
        self.container: ContainerClient = client.get_container_client(container)
        self.account = client.account_name or "?"
        self.endpoint = public_url(client.url)
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        self.file_attempts = file_attempts
        self.progress = progress
        self.sleep = sleep
        self._lock = threading.Lock()
        self._sent = 0
        self._total = 0

    def run(self, files: list[_LocalFile], file_workers: int, *, list_prefix: str, reference: str) -> UploadResult:
        """Ensure the container, then send every file whose stored size and MD5 don't match it.

        Only files with a same-size stored twin are hashed up front; the rest are hashed as they are sent.
        """
        self.ensure_container()
        remote = self._remote_md5s(list_prefix)
        twins = [f for f in files if remote.get(f.blob, (-1, None))[0] == f.size and remote[f.blob][1]]
        local = dict(zip((f.blob for f in twins), _run_bounded(lambda f: md5_of_file(f.path), twins, file_workers),
                         strict=True))  # fmt: skip
        todo = [f for f in files if f.blob not in local or local[f.blob] != remote[f.blob][1]]
        skipped = tuple(f.rel for f in files if f.blob in local and local[f.blob] == remote[f.blob][1])
        self._total = sum(f.size for f in todo)
        logger.info(
            "uploading %d of %d files (%d bytes) to %s/%s; %d unchanged",
            len(todo), len(files), self._total, self.endpoint.rstrip("/"), self.container_name, len(skipped),
        )  # fmt: skip
        self._report(0)
        _run_bounded(self._send, todo, file_workers)
        return UploadResult(
            reference=reference, uploaded=tuple(f.rel for f in todo), skipped=skipped, bytes_sent=self._total
        )

    def ensure_container(self) -> None:
        """Create the container when missing; a rival creating it first, or a SAS that may not look, is fine."""
        try:
            self.container.get_container_properties()
            return
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if not _not_permitted(exc):
                raise
            logger.info("this credential may not read container %s: assuming it exists", self.container_name)
            return
        try:
            self.container.create_container()
            logger.info("created container %s in storage account %s", self.container_name, self.account)
        except ResourceExistsError:
            pass
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise self.as_upload_error(exc, creating=True) from None
            raise

    def _remote_md5s(self, list_prefix: str) -> dict[str, tuple[int, bytes | None]]:
        """Size and stored MD5 of every blob under the prefix, in one paged listing; empty if not allowed."""
        found: dict[str, tuple[int, bytes | None]] = {}
        try:
            for props in self.container.list_blobs(name_starts_with=list_prefix or None):
                md5 = props.content_settings.content_md5
                found[props.name] = (props.size, bytes(md5) if md5 else None)
        except HttpResponseError as exc:
            if not _not_permitted(exc):
                raise
            logger.warning(
                "this credential may not list container %s (%s): every file is sent, none can be skipped",
                self.container_name, _error_code(exc),
            )  # fmt: skip
            return {}
        return found

    def _report(self, delta: int) -> None:
        if self.progress is None:
            return
        with self._lock:
            self._sent += delta
            self.progress(self._sent, self._total)

    def _send(self, file: _LocalFile) -> None:
        """Send one file, restarting it whole on a transient error the pipeline's retries didn't absorb."""
        for attempt in range(1, self.file_attempts + 1):
            counted = [0]
            try:
                self._send_once(file, counted)
                logger.debug("uploaded %s (%d bytes)", file.blob, file.size)
                return
            except AzureError as exc:
                self._report(-counted[0])
                if attempt == self.file_attempts or not is_transient(exc):
                    raise
                delay = 2.0 ** (attempt - 1)
                logger.warning(
                    "retrying %s in %.0fs after %s (attempt %d of %d)",
                    file.blob, delay, _short(exc), attempt + 1, self.file_attempts,
                )  # fmt: skip
                self.sleep(delay)

    def _send_once(self, file: _LocalFile, counted: list[int]) -> None:
        """The stored MD5 is always that of the bytes sent, even if the file changes meanwhile."""
        blob = self.container.get_blob_client(file.blob)
        content_type = mimetypes.guess_type(file.rel)[0] or "application/octet-stream"
        if file.size <= self.block_size:
            data = file.path.read_bytes()
            md5 = hashlib.md5(data, usedforsecurity=False).digest()
            settings = ContentSettings(content_type=content_type, content_md5=bytearray(md5))
            blob.upload_blob(data, length=len(data), overwrite=True, content_settings=settings, max_concurrency=1)
            counted[0] += len(data)
            self._report(len(data))
            return
        self._send_blocks(blob, file, content_type, counted)

    def _send_blocks(self, blob: BlobClient, file: _LocalFile, content_type: str, counted: list[int]) -> None:
        """Read and hash blocks in order while at most max_concurrency are staged at once, then commit with the MD5.

        Staged blocks stay invisible until the commit, so an interrupted upload never leaves a matching MD5.
        """
        block_size = max(self.block_size, math.ceil(file.size / MAX_BLOCKS_PER_BLOB))
        digest = hashlib.md5(usedforsecurity=False)
        ids: list[str] = []
        futures: list[Future[None]] = []
        slots = threading.Semaphore(self.max_concurrency)
        failed = threading.Event()

        def stage(block_id: str, chunk: bytes) -> None:
            try:
                blob.stage_block(block_id, chunk, length=len(chunk))
            except BaseException:
                failed.set()
                raise
            finally:
                slots.release()
            with self._lock:
                counted[0] += len(chunk)
            self._report(len(chunk))

        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool, file.path.open("rb") as stream:
            while not failed.is_set() and (chunk := stream.read(block_size)):
                digest.update(chunk)
                ids.append(_block_id(len(ids)))
                slots.acquire()
                futures.append(pool.submit(stage, ids[-1], chunk))
        for future in futures:
            future.result()
        settings = ContentSettings(content_type=content_type, content_md5=bytearray(digest.digest()))
        blob.commit_block_list([BlobBlock(block_id=i) for i in ids], content_settings=settings)

    def as_upload_error(self, exc: AzureError, *, creating: bool = False) -> UploadError:
        """Translate an SDK error into one line that names the account, the container and the fix."""
        status, code = _status(exc), _error_code(exc)
        where = f"storage account '{self.account}' ({self.endpoint}), container '{self.container_name}'"
        detail = f"{status} {code}" if status else type(exc).__name__
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            if creating:
                action = "the container does not exist and this credential may not create it"
                fix = "create the container, or grant the identity 'Storage Blob Data Contributor'"
            else:
                action = "access denied"
                fix = self._credential_fix()
            message = f"{where}: {action} ({detail}): {fix}"
        elif isinstance(exc, ServiceRequestError):
            message = f"{where}: cannot reach the account ({detail}): check account_url and the network"
        elif code == "ContainerNotFound":
            message = f"{where}: the container does not exist ({detail}): create it, or use a credential that may"
        elif isinstance(exc, ResourceNotFoundError):
            message = f"{where}: not found ({detail}): check the account URL and that the container still exists"
        else:
            message = f"{where}: upload failed ({detail}: {_short(exc)}): re-run to resume; unchanged blobs are skipped"
        return UploadError(message, account=self.account, container=self.container_name, status=status, error_code=code)

    def _credential_fix(self) -> str:
        credential = self.client.credential
        if hasattr(credential, "account_key"):
            return "the account key was rejected: update the connection string with a current key"
        if hasattr(credential, "get_token"):
            return (
                "sign in (az login, or a managed identity) and grant that identity "
                "'Storage Blob Data Contributor' on the account"
            )
        return "the SAS token is invalid, expired or lacks read/write/create permission: issue a new one"


def _short(exc: BaseException) -> str:
    """First line of an error message, redacted: SDK messages span lines and may echo URLs."""
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)[:300]
