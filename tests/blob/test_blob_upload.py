"""The blob upload engine and task against a real emulator (Azurite): skip, resume, faults, secrets."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    ContentSettings,
    ResourceTypes,
    generate_account_sas,
    generate_container_sas,
)

from rjobs.storage import local_files
from rjobs.storage.errors import UploadError
from rjobs.storage.upload import MiB, upload
from rjobs.testing.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from tasks import data as task_module
from tests.blob.conftest import Call, RecordingTransport

pytestmark = pytest.mark.slow

MakeClient = Callable[..., tuple[BlobServiceClient, RecordingTransport]]


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def _stored(client: BlobServiceClient, container: str) -> dict[str, bytes]:
    """Blob name -> content of everything in the container."""
    cc = client.get_container_client(container)
    return {b.name: cc.download_blob(b.name).readall() for b in cc.list_blobs()}


def _stored_md5(client: BlobServiceClient, container: str, name: str) -> bytes | None:
    md5 = client.get_blob_client(container, name).get_blob_properties().content_settings.content_md5
    return bytes(md5) if md5 else None


def test_single_file_lands_under_prefix_with_md5(make_client: MakeClient, container: str, tmp_path: Path) -> None:
    client, transport = make_client()
    file = tmp_path / "penguins.csv"
    file.write_bytes(b"species,mass\nAdelie,3750\n")
    result = upload(client, file, container, "raw/v1")
    assert result.uploaded == ("penguins.csv",) and result.skipped == ()
    assert result.bytes_sent == file.stat().st_size
    assert _stored(client, container) == {"raw/v1/penguins.csv": file.read_bytes()}
    assert _stored_md5(client, container, "raw/v1/penguins.csv") == hashlib.md5(file.read_bytes()).digest()
    assert result.reference == f"{client.url.rstrip('/')}/{container}/raw/v1/penguins.csv"
    assert transport.count("put_blob") == 1


def test_folder_keeps_nested_relative_names(make_client: MakeClient, container: str, tmp_path: Path) -> None:
    client, _ = make_client()
    files = {"top.csv": b"1", "a/mid.csv": b"22", "a/b/c/deep.bin": os.urandom(1000), "a/b/.hidden": b""}
    _tree(tmp_path / "data", files)
    result = upload(client, tmp_path / "data", container, "in", max_file_concurrency=3)
    assert sorted(result.uploaded) == sorted(files)
    assert _stored(client, container) == {f"in/{rel}": data for rel, data in files.items()}


def test_rerun_sends_nothing_and_leaves_blobs_untouched(
    make_client: MakeClient, container: str, tmp_path: Path
) -> None:
    files = {"a.csv": b"a" * 100, "sub/b.bin": os.urandom(5 * MiB), "sub/c.txt": b"c"}
    _tree(tmp_path, files)
    client, _ = make_client()
    upload(client, tmp_path, container, "p", block_size=2 * MiB)
    cc = client.get_container_client(container)
    before = {b.name: (b.last_modified, b.etag) for b in cc.list_blobs()}

    client2, transport = make_client()
    result = upload(client2, tmp_path, container, "p", block_size=2 * MiB)
    assert result.uploaded == () and sorted(result.skipped) == sorted(files) and result.bytes_sent == 0
    assert transport.uploads() == 0 and transport.count("blocklist", "properties") == 0
    assert {b.name: (b.last_modified, b.etag) for b in cc.list_blobs()} == before


def test_only_files_with_a_same_size_stored_twin_are_hashed_before_sending(
    make_client: MakeClient, container: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, {"a.csv": b"1", "b.bin": os.urandom(3 * MiB), "c.csv": b"33"})
    hashed: list[str] = []
    real = local_files.md5_of_file
    monkeypatch.setattr(local_files, "md5_of_file", lambda path: hashed.append(path.name) or real(path))
    client, _ = make_client()
    upload(client, tmp_path, container, "", block_size=MiB)
    assert hashed == []
    (tmp_path / "c.csv").write_bytes(b"333")
    result = upload(client, tmp_path, container, "", block_size=MiB)
    assert sorted(hashed) == ["a.csv", "b.bin"] and result.uploaded == ("c.csv",)


def test_large_file_goes_in_blocks_with_md5_set(make_client: MakeClient, container: str, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB)
    file = tmp_path / "big.bin"
    file.write_bytes(data)
    client, transport = make_client()
    seen: list[tuple[int, int]] = []
    result = upload(client, file, container, "", block_size=4 * MiB, max_concurrency=3,
                    progress=lambda sent, total: seen.append((sent, total)))  # fmt: skip
    assert result.bytes_sent == len(data)
    assert transport.count("block") == 3 and transport.count("blocklist") == 1 and transport.count("put_blob") == 0
    assert _stored_md5(client, container, "big.bin") == hashlib.md5(data).digest()
    assert _stored(client, container)["big.bin"] == data
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data))
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def _wrong_md5(cc: Any, name: str, data: bytes) -> None:
    """Same bytes, but the stored MD5 property no longer matches them (the service rejects it on upload)."""
    cc.upload_blob(name, data, overwrite=True)
    cc.get_blob_client(name).set_http_headers(ContentSettings(content_md5=bytearray(16)))


def _no_md5(cc: Any, name: str, data: bytes) -> None:
    cc.upload_blob(name, data, overwrite=True)
    cc.get_blob_client(name).set_http_headers(ContentSettings(content_type="text/csv"))


def _stale_content(cc: Any, name: str, data: bytes) -> None:
    old = b"old" + data
    cc.upload_blob(name, old, overwrite=True, content_settings=ContentSettings(content_md5=hashlib.md5(old).digest()))


def _same(cc: Any, name: str, data: bytes) -> None:
    cc.upload_blob(name, data, overwrite=True, content_settings=ContentSettings(content_md5=hashlib.md5(data).digest()))


@pytest.mark.parametrize(
    ("remote_state", "prepare", "sent"),
    [
        ("absent", None, True),
        ("same content and MD5", _same, False),
        ("stored MD5 differs (corrupt)", _wrong_md5, True),
        ("no MD5 stored", _no_md5, True),
        ("older content", _stale_content, True),
    ],
)
def test_remote_state_decides_what_is_sent(
    make_client: MakeClient, container: str, tmp_path: Path, remote_state: str,
    prepare: Callable[[Any, str, bytes], None] | None, sent: bool,
) -> None:  # fmt: skip
    data = b"species,mass\nGentoo,5000\n"
    (tmp_path / "f.csv").write_bytes(data)
    client, transport = make_client()
    cc = client.get_container_client(container)
    cc.create_container()
    if prepare is not None:
        prepare(cc, "p/f.csv", data)
    transport.calls.clear()
    result = upload(client, tmp_path, container, "p")
    assert (result.uploaded == ("f.csv",)) is sent, remote_state
    assert transport.uploads() == (1 if sent else 0)
    assert _stored_md5(client, container, "p/f.csv") == hashlib.md5(data).digest()
    assert _stored(client, container)["p/f.csv"] == data


def test_unicode_and_space_names(make_client: MakeClient, container: str, tmp_path: Path) -> None:
    _tree(tmp_path / "src", {"données/ä b.csv": b"x,y\n1,2\n", "plain.csv": b"1"})
    client, _ = make_client()
    result = upload(client, tmp_path / "src", container, "ünï code")
    assert set(result.uploaded) == {"données/ä b.csv", "plain.csv"}
    assert _stored(client, container)["ünï code/données/ä b.csv"] == b"x,y\n1,2\n"
    single = upload(client, tmp_path / "src" / "données" / "ä b.csv", container, "one", datastore="ws")
    assert single.reference == "azureml://datastores/ws/paths/one/ä b.csv"
    again, transport = make_client()
    assert upload(again, tmp_path / "src", container, "ünï code").uploaded == ()
    assert transport.uploads() == 0


class Crash(Exception):
    """An injected failure no retry layer handles, standing in for a killed process."""


def _fail_on_nth(kind: str, n: int) -> Callable[[Call, int], BaseException | None]:
    """Crash (not a retryable Azure error) on the n-th request of a kind, like a killed process."""
    seen = [0]

    def fault(call: Call, _: int) -> BaseException | None:
        if call.kind == kind:
            seen[0] += 1
            if seen[0] == n:
                return Crash("injected crash")
        return None

    return fault


@pytest.mark.parametrize(
    ("what", "kind", "nth", "sent_first", "resent"),
    [
        ("crash on the 4th of 6 small files", "put_blob", 4, 3, 3),
        ("crash in the middle of a block upload", "block", 2, 0, 1),
    ],
)
def test_interrupted_upload_resumes_without_resending_finished_files(
    make_client: MakeClient, container: str, tmp_path: Path, what: str, kind: str, nth: int, sent_first: int,
    resent: int,
) -> None:  # fmt: skip
    if kind == "put_blob":
        files = {f"part-{i}.csv": os.urandom(1000) for i in range(6)}
    else:
        files = {"big.bin": os.urandom(9 * MiB)}
    _tree(tmp_path, files)
    client, transport = make_client(fault=_fail_on_nth(kind, nth))
    with pytest.raises(Crash):
        upload(client, tmp_path, container, "run", max_file_concurrency=1, max_concurrency=1, block_size=4 * MiB)
    cc = client.get_container_client(container)
    complete = [b.name for b in cc.list_blobs() if b.content_settings.content_md5]
    assert len(complete) == sent_first, what

    again, transport = make_client()
    result = upload(again, tmp_path, container, "run", block_size=4 * MiB)
    assert len(result.uploaded) == resent and len(result.skipped) == len(files) - resent
    assert transport.count("put_blob", "blocklist") == resent
    stored = _stored(again, container)
    assert stored == {f"run/{rel}": data for rel, data in files.items()}
    for rel, data in files.items():
        assert _stored_md5(again, container, f"run/{rel}") == hashlib.md5(data).digest()


def test_transient_errors_are_retried_by_pipeline_then_per_file(
    make_client: MakeClient, container: str, tmp_path: Path
) -> None:
    (tmp_path / "f.csv").write_bytes(b"retry me")

    def flaky(call: Call, _: int) -> BaseException | None:
        if call.kind == "put_blob" and transport.count("put_blob") <= 3:
            return ServiceResponseError("connection reset by peer")
        return None

    client, transport = make_client(fault=flaky, retry_total=1)
    sleeps: list[float] = []
    result = upload(client, tmp_path, container, "", file_attempts=3, sleep=sleeps.append)
    assert result.uploaded == ("f.csv",)
    assert transport.count("put_blob") == 4
    assert sleeps == [1.0]
    assert _stored(client, container) == {"f.csv": b"retry me"}


def test_missing_container_is_created_and_a_creation_race_is_harmless(
    make_client: MakeClient, azurite: str, container: str, tmp_path: Path
) -> None:
    (tmp_path / "f.csv").write_bytes(b"1")
    rival = BlobServiceClient.from_connection_string(azurite)

    def create_first(call: Call, _: int) -> BaseException | None:
        if call.kind == "create_container":
            rival.create_container(container)
        return None

    client, transport = make_client(fault=create_first)
    assert not rival.get_container_client(container).exists()
    result = upload(client, tmp_path, container, "")
    assert result.uploaded == ("f.csv",)
    assert transport.count("create_container") == 1
    assert _stored(rival, container) == {"f.csv": b"1"}


def _wrong_key_connection_string(azurite: str) -> tuple[str, str]:
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleQ=="
    return azurite.replace(ACCOUNT_KEY, wrong_key), wrong_key


def test_wrong_account_key_is_one_clear_error(make_client: MakeClient, azurite: str, container: str,
                                             tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "f.csv").write_bytes(b"1")
    bad, wrong_key = _wrong_key_connection_string(azurite)
    client, transport = make_client(connection_string=bad)
    with pytest.raises(UploadError) as info:
        upload(client, tmp_path, container, "")
    message = str(info.value)
    assert "\n" not in message
    assert f"'{ACCOUNT_NAME}'" in message and f"'{container}'" in message
    assert "403" in message and "connection string" in message
    assert wrong_key not in message and bad not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert transport.uploads() == 0


def test_no_secret_reaches_logs_or_errors(
    make_client: MakeClient, azurite: str, container: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.storage.blob", "rjobs"):
        caplog.set_level(logging.DEBUG, logger=name)
    _tree(tmp_path, {"a.csv": b"1", "big.bin": os.urandom(5 * MiB)})
    client, _ = make_client()
    upload(client, tmp_path, container, "p", block_size=2 * MiB)
    bad, wrong_key = _wrong_key_connection_string(azurite)
    bad_client, _ = make_client(connection_string=bad)
    with pytest.raises(UploadError) as info:
        upload(bad_client, tmp_path, container, "p")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    monkeypatch.setattr(task_module, "get_run_logger", lambda: logging.getLogger("tasks.data"))
    task_module.upload_data.fn(tmp_path, container, "p")

    secrets = [ACCOUNT_KEY, azurite, wrong_key, bad]
    ours = [r for r in caplog.records if r.name.startswith(("rjobs", "tasks"))]
    assert ours, "expected log records from the engine"
    for record in caplog.records:
        text = record.getMessage()
        assert not any(s in text for s in secrets), record.name
    assert not any(s in str(info.value) for s in secrets)


@pytest.mark.parametrize(
    ("kind", "prefix", "datastore", "expected"),
    [
        ("folder", "in/v1", None, "{base}/{container}/in/v1/"),
        ("file", "in/v1", None, "{base}/{container}/in/v1/p.csv"),
        ("folder", "", None, "{base}/{container}/"),
        ("folder", "in/v1", "workspaceblobstore", "azureml://datastores/workspaceblobstore/paths/in/v1/"),
        ("file", "in", "workspaceblobstore", "azureml://datastores/workspaceblobstore/paths/in/p.csv"),
    ],
)
def test_reference_points_at_what_was_uploaded(
    make_client: MakeClient, container: str, tmp_path: Path, kind: str, prefix: str, datastore: str | None,
    expected: str,
) -> None:  # fmt: skip
    (tmp_path / "p.csv").write_bytes(b"1")
    client, _ = make_client()
    source = tmp_path if kind == "folder" else tmp_path / "p.csv"
    reference = upload(client, source, container, prefix, datastore=datastore).reference
    base = client.url.rstrip("/")
    assert reference == expected.format(base=base, container=container)
    assert ACCOUNT_KEY not in reference and "?" not in reference
    if datastore is None:
        blob_path = reference.removeprefix(f"{base}/{container}/")
        names = [b.name for b in client.get_container_client(container).list_blobs()]
        assert any(n == blob_path or n.startswith(blob_path) for n in names)


def test_task_returns_the_reference_and_logs_counts(
    azurite: str, container: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, {"small.csv": b"1", "big.bin": os.urandom(9 * MiB)})
    monkeypatch.setenv("MY_STORAGE", azurite)
    monkeypatch.setattr(task_module, "get_run_logger", lambda: logging.getLogger("tasks.data"))
    caplog.set_level(logging.INFO, logger="tasks.data")
    reference = task_module.upload_data.fn(tmp_path, container, "in", connection_string_env="MY_STORAGE",
                                           datastore="workspaceblobstore")  # fmt: skip
    assert reference == "azureml://datastores/workspaceblobstore/paths/in/"
    messages = [r.getMessage() for r in caplog.records if r.name == "tasks.data"]
    assert "upload 100% (9.0 of 9.0 MiB)" in messages
    assert messages[-1].startswith("uploaded 2 files (9.0 MiB), skipped 0 unchanged")
    task_module.upload_data.fn(tmp_path, container, "in", connection_string_env="MY_STORAGE")
    assert caplog.records[-1].getMessage().startswith("uploaded 0 files (0.0 MiB), skipped 2 unchanged")


def _sas(kind: str, container: str) -> str:
    expiry = datetime.now(UTC) + timedelta(hours=1)
    if kind == "account SAS, objects only":
        permission = AccountSasPermissions(read=True, write=True, create=True, list=True)
        return generate_account_sas(ACCOUNT_NAME, ACCOUNT_KEY, ResourceTypes(object=True), permission, expiry)
    permission = ContainerSasPermissions(read=True, list=True, write=kind != "container SAS, read+list only",
                                         create=kind != "container SAS, read+list only")  # fmt: skip
    return generate_container_sas(ACCOUNT_NAME, container, ACCOUNT_KEY, permission=permission, expiry=expiry)


def _sas_client(make_client: MakeClient, azurite: str, sas: str, form: str) -> tuple[Any, RecordingTransport]:
    endpoint = dict(part.split("=", 1) for part in azurite.split(";") if part)["BlobEndpoint"]
    if form == "url":
        return make_client(account_url=f"{endpoint}?{sas}")
    return make_client(connection_string=f"BlobEndpoint={endpoint};SharedAccessSignature={sas}")


@pytest.mark.parametrize(
    ("kind", "form", "rerun_uploads"),
    [
        ("container SAS, racwl", "url", 0),
        ("container SAS, racwl", "connection string", 0),
        ("account SAS, objects only", "url", 2),
    ],
)
def test_sas_credentials_upload_and_skip_what_they_can_see(
    make_client: MakeClient, azurite: str, container: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    kind: str, form: str, rerun_uploads: int,
) -> None:  # fmt: skip
    """A datastore-style SAS may not read the container itself; without list rights nothing can be skipped."""
    caplog.set_level(logging.DEBUG)
    BlobServiceClient.from_connection_string(azurite).create_container(container)
    _tree(tmp_path, {"a.csv": b"1", "sub/b.bin": os.urandom(3 * MiB)})
    sas = _sas(kind, container)
    client, _ = _sas_client(make_client, azurite, sas, form)
    result = upload(client, tmp_path, container, "in", block_size=MiB)
    assert sorted(result.uploaded) == ["a.csv", "sub/b.bin"]
    assert "?" not in result.reference and "sig" not in result.reference
    again, transport = _sas_client(make_client, azurite, sas, form)
    upload(again, tmp_path, container, "in", block_size=MiB)
    assert transport.count("put_blob", "blocklist") == rerun_uploads
    signature = parse_qs(sas)["sig"][0]
    assert not any(signature in r.getMessage() or sas in r.getMessage() for r in caplog.records)


def test_read_only_sas_is_one_clear_error(make_client: MakeClient, azurite: str, container: str,
                                          tmp_path: Path) -> None:  # fmt: skip
    BlobServiceClient.from_connection_string(azurite).create_container(container)
    (tmp_path / "a.csv").write_bytes(b"1")
    sas = _sas("container SAS, read+list only", container)
    client, _ = _sas_client(make_client, azurite, sas, "url")
    with pytest.raises(UploadError, match=f"'{container}'.*403.*SAS token") as info:
        upload(client, tmp_path, container, "")
    assert "\n" not in str(info.value) and parse_qs(sas)["sig"][0] not in str(info.value)
