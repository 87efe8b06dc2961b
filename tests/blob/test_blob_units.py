"""Blob upload logic that needs no emulator: references, redaction, MD5 streaming, error wording."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient

from rjobs.storage.clients import make_service_client
from rjobs.storage.errors import UploadError, is_transient, upload_error
from rjobs.storage.local_files import md5_of_file, md5_of_stream
from rjobs.storage.locations import build_reference, normalize_prefix, public_url
from rjobs.storage.redaction import RedactingFilter, install_log_redaction, redact
from rjobs.storage.upload import _block_id, _run_bounded, upload
from tasks.data import MilestoneProgress

KEY = "c2VjcmV0LWtleS1ub3QtcmVhbC0xMjM0NTY3ODkwYWJjZGVmZ2hpams="
CONN = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"
AZ = "https://acct.blob.core.windows.net/"


@pytest.mark.parametrize(
    ("service_url", "path", "is_folder", "datastore", "expected"),
    [
        (AZ, "penguins", True, None, "https://acct.blob.core.windows.net/data/penguins/"),
        (AZ, "penguins/p.csv", False, None, "https://acct.blob.core.windows.net/data/penguins/p.csv"),
        (AZ + "?sv=2024-01-01&sig=SECRET", "a/b", True, None, "https://acct.blob.core.windows.net/data/a/b/"),
        ("https://user:pw@acct.blob.core.windows.net", "x.csv", False, None,
         "https://acct.blob.core.windows.net/data/x.csv"),
        ("http://127.0.0.1:10000/devstoreaccount1/", "in", True, None,
         "http://127.0.0.1:10000/devstoreaccount1/data/in/"),
        (AZ, "données/ä b.csv", False, None, "https://acct.blob.core.windows.net/data/donn%C3%A9es/%C3%A4%20b.csv"),
        (AZ, "", True, None, "https://acct.blob.core.windows.net/data/"),
        (AZ, "/penguins//v1/", True, None, "https://acct.blob.core.windows.net/data/penguins/v1/"),
        (AZ, "penguins", True, "workspaceblobstore", "azureml://datastores/workspaceblobstore/paths/penguins/"),
        (AZ, "penguins/p.csv", False, "ws_blob", "azureml://datastores/ws_blob/paths/penguins/p.csv"),
        (AZ, "données/ä b.csv", False, "ws", "azureml://datastores/ws/paths/données/ä b.csv"),
        (AZ, "", True, "ws", "azureml://datastores/ws/paths/"),
    ],
)  # fmt: skip
def test_build_reference(service_url: str, path: str, is_folder: bool, datastore: str | None, expected: str) -> None:
    assert build_reference(service_url, "data", path, is_folder=is_folder, datastore=datastore) == expected


@pytest.mark.parametrize("datastore", ["", "my-store", "a/b", "ws blob"])
def test_build_reference_rejects_bad_datastore_names(datastore: str) -> None:
    with pytest.raises(ValueError, match="datastore"):
        build_reference(AZ, "data", "x", is_folder=True, datastore=datastore)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acct.blob.core.windows.net/?sv=1&sig=abc", "https://acct.blob.core.windows.net/"),
        ("https://u:p@acct.blob.core.windows.net:443/c?x=1#frag", "https://acct.blob.core.windows.net:443/c"),
        ("http://127.0.0.1:10000/devstoreaccount1/", "http://127.0.0.1:10000/devstoreaccount1/"),
    ],
)
def test_public_url_drops_query_and_credentials(url: str, expected: str) -> None:
    assert public_url(url) == expected


@pytest.mark.parametrize(
    ("text", "secret_part"),
    [
        (CONN, KEY),
        ("BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=s3cr3t", "s3cr3t"),
        ("GET https://a.blob.core.windows.net/c/b?sv=2024-01-01&se=2030&sig=abc%2Fdef%3D HTTP/1.1", "abc%2Fdef"),
        ("Authorization: SharedKey devstoreaccount1:AbCdEf0123456789+/==", "AbCdEf0123456789"),
        ("Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.payload.sig", "eyJ0eXAiOiJKV1Qi"),
        ("Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=k3y==", "k3y"),
    ],
)
def test_redact_masks_known_secret_shapes(text: str, secret_part: str) -> None:
    cleaned = redact(text)
    assert secret_part not in cleaned
    assert "***" in cleaned


def test_redact_masks_given_secrets_and_leaves_plain_text() -> None:
    assert redact("token=hunter2 used", secrets=["hunter2", ""]) == "token=*** used"
    plain = "container 'data' in account 'acct' not found"
    assert redact(plain) == plain


def test_third_party_debug_logs_lose_sas_signatures(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    install_log_redaction()
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    pool = logging.getLogger("urllib3.connectionpool")
    pool.debug('%s "%s %s HTTP/1.1" %s', "http://h", "GET", "/c/b?sv=2024&sp=rw&sig=S1GN%3D", 200)
    pool.debug("broken %s %s", "only-one-arg")
    assert len([f for f in pool.filters if isinstance(f, RedactingFilter)]) == 1
    message = caplog.records[0].getMessage()
    assert "S1GN" not in message
    assert "sig=***" in message or "sig=[REDACTED]" in message  # MLflow, once imported, adds a filter of its own
    assert caplog.records[1].getMessage() == "broken %s %s"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("", ""), ("/", ""), ("a", "a"), ("/a/b/", "a/b"), ("a//b", "a/b"), ("a\\b\\c", "a/b/c"), ("ä b/ü", "ä b/ü")],
)
def test_normalize_prefix(prefix: str, expected: str) -> None:
    assert normalize_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["..", "a/../b", "./a"])
def test_normalize_prefix_rejects_dot_segments(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"'\.' or '\.\.'"):
        normalize_prefix(prefix)


class _RecordingStream(io.BytesIO):
    """A stream that remembers the size of every read, to prove hashing never asks for everything."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.sizes.append(size)
        return super().read(size)


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 3 + 5])
def test_md5_streams_in_bounded_chunks(size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    stream = _RecordingStream(data)
    assert md5_of_stream(stream, chunk_size=64) == hashlib.md5(data).digest()
    assert stream.sizes and all(s == 64 for s in stream.sizes)


def test_md5_of_file_matches_hashlib(tmp_path: Path) -> None:
    data = b"x" * (3 * 1024 * 1024 + 7)
    file = tmp_path / "f.bin"
    file.write_bytes(data)
    assert md5_of_file(file) == hashlib.md5(data).digest()


def test_block_ids_have_one_length() -> None:
    assert len({len(_block_id(i)) for i in (0, 9, 10, 49_999)}) == 1


def _http_error(status: int | None, code: str | None = None) -> HttpResponseError:
    error = HttpResponseError(message=f"status {status}\nRequestId: x\nsig=SECRETSIG")
    error.status_code = status  # type: ignore[assignment]
    error.error_code = code
    return error


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ServiceRequestError("connection reset"), True),
        (ServiceResponseError("read timeout"), True),
        (_http_error(500), True),
        (_http_error(503, "ServerBusy"), True),
        (_http_error(429), True),
        (_http_error(408), True),
        (_http_error(403, "AuthorizationFailure"), False),
        (_http_error(404, "ContainerNotFound"), False),
        (_http_error(409, "BlobAlreadyExists"), False),
        (ClientAuthenticationError("no credential"), False),
        (ValueError("not azure"), False),
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


class _FakeTokenCredential:
    """A token credential whose sign-in always fails, as DefaultAzureCredential does without a login."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nmany\nlines")


@pytest.mark.parametrize(
    ("client", "fix"),
    [
        (BlobServiceClient.from_connection_string(CONN), "account key was rejected"),
        (BlobServiceClient(AZ, credential=_FakeTokenCredential()), "Storage Blob Data Contributor"),
        (BlobServiceClient(AZ + "?sv=2024-01-01&sp=rwc&sig=SASSECRET"), "SAS token"),
    ],
)
def test_auth_error_is_one_line_naming_account_container_and_fix(client: BlobServiceClient, fix: str) -> None:
    error = upload_error(_http_error(403, "AuthorizationFailure"), client, "data")
    message = str(error)
    assert "\n" not in message
    assert "'acct'" in message and "'data'" in message and fix in message
    assert "403 AuthorizationFailure" in message
    assert KEY not in message and "SASSECRET" not in message and "SECRETSIG" not in message
    assert (error.account, error.container, error.status) == ("acct", "data", 403)


def test_other_errors_are_one_redacted_line() -> None:
    client = BlobServiceClient.from_connection_string(CONN)
    unreachable = str(upload_error(ServiceRequestError("Name or service not known\nmore"), client, "data"))
    assert "cannot reach" in unreachable and "\n" not in unreachable
    failed = str(upload_error(_http_error(500, "InternalError"), client, "data"))
    assert "re-run" in failed and "SECRETSIG" not in failed and "\n" not in failed


def test_upload_error_redacts_its_own_message() -> None:
    error = UploadError(f"bad\n{CONN}", account="acct", container="data")
    assert KEY not in str(error) and "\n" not in str(error)


def test_failed_sign_in_is_not_retried_and_becomes_one_upload_error(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes(b"1")
    credential = _FakeTokenCredential()
    client = make_service_client("https://acct.blob.core.windows.net", credential=credential)
    with pytest.raises(UploadError, match=r"'acct'.*'data'.*access denied.*az login") as info:
        upload(client, tmp_path, "data")
    assert credential.calls == 1
    assert "\n" not in str(info.value)


def test_make_service_client_needs_an_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ValueError, match=r"account_url or set \$AZURE_STORAGE_CONNECTION_STRING"):
        make_service_client()


def test_make_service_client_hides_a_malformed_connection_string() -> None:
    with pytest.raises(ValueError, match="malformed") as info:
        make_service_client(connection_string="AccountKey=hunter2;nonsense")
    assert "hunter2" not in str(info.value)


def test_account_url_wins_over_the_env_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONN.replace("acct", "envacct"))
    client = make_service_client("https://urlacct.blob.core.windows.net", credential=_FakeTokenCredential())
    assert client.account_name == "urlacct"
    assert make_service_client().account_name == "envacct"


def test_run_bounded_stops_after_first_failure() -> None:
    started: list[int] = []
    lock = threading.Lock()
    failing = threading.Event()

    def work(i: int) -> int:
        with lock:
            started.append(i)
        if i == 0:
            failing.set()
            raise RuntimeError("boom")
        failing.wait(timeout=60)  # no other item can finish before the failure, on any machine
        return i

    with pytest.raises(RuntimeError, match="boom"):
        _run_bounded(work, list(range(50)), workers=2)
    assert len(started) < 50
    assert _run_bounded(lambda i: i * 2, [1, 2, 3], workers=2) == [2, 4, 6]


def test_milestones_log_each_step_once_and_only_for_large_uploads(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.milestones")
    caplog.set_level(logging.INFO, logger="test.milestones")
    small = MilestoneProgress(logger, threshold=1000)
    for sent in (0, 500, 999):
        small(sent, 999)
    assert caplog.records == []
    large = MilestoneProgress(logger, threshold=1000)
    for sent in range(0, 10_001, 250):
        large(sent, 10_000)
    percents = [r.args[0] for r in caplog.records]  # type: ignore[index]
    assert percents == list(range(0, 101, 10))
