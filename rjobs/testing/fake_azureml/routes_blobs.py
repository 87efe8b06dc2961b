"""Blob service routes for the workspace's storage account, as far as azure-ai-ml's uploads and downloads use them:
list (prefix, delimiter, marker), properties, ranged download, put, blocks, metadata. Errors are the storage XML."""

from __future__ import annotations

import email.utils
import re
from typing import TYPE_CHECKING
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from rjobs.testing.fake_azureml.blobs import Blob, BlobStore
from rjobs.testing.fake_azureml.http import BLOB_HOST, Reply, Request, RouteSpec

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

CONTAINER = r"/(?P<container>[^/]+)"
BLOB = CONTAINER + r"/(?P<blob>.+)"
PAGE = 5000
RANGE = re.compile(r"bytes=(?P<start>\d+)-(?P<end>\d*)")
VERSION = "2025-01-05"
EPOCH_DATE = email.utils.formatdate(1735689600, usegmt=True)


def storage_error(status: int, code: str, message: str, head: bool = False) -> Reply:
    xml = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    body = None if head else f'<?xml version="1.0" encoding="utf-8"?>{xml}'
    return Reply(status, body, {"Content-Type": "application/xml", "x-ms-error-code": code, "x-ms-version": VERSION})


def metadata_headers(request: Request) -> dict[str, str]:
    return {key[len("x-ms-meta-") :]: value for key, value in request.headers.items() if key.startswith("x-ms-meta-")}


class BlobRoutes:
    """The routes over BlobStore; the SDK reaches them through blob_clients_through(transport)."""

    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service
        self.store: BlobStore = service.blobs

    def routes(self) -> list[RouteSpec]:
        return [
            ("blob.list", "blob", "GET", CONTAINER, self.list, {"comp": "list"}),
            ("blob.container_properties", "blob", "GET", CONTAINER, self.container, {"restype": "container"}),
            ("blob.create_container", "blob", "PUT", CONTAINER, self.container, {"restype": "container"}),
            ("blob.stage_block", "blob", "PUT", BLOB, self.stage_block, {"comp": "block"}),
            ("blob.commit_block_list", "blob", "PUT", BLOB, self.commit, {"comp": "blocklist"}),
            ("blob.set_metadata", "blob", "PUT", BLOB, self.set_metadata, {"comp": "metadata"}),
            ("blob.upload", "blob", "PUT", BLOB, self.upload),
            ("blob.get_properties", "blob", "HEAD", BLOB, self.properties),
            ("blob.download", "blob", "GET", BLOB, self.download),
        ]

    @staticmethod
    def _names(request: Request) -> tuple[str, str]:
        return request.params["container"], request.params.get("blob", "")

    def container(self, request: Request) -> Reply:
        """Containers always exist in the fake account (the SDK only ever uses the datastores' two)."""
        status = 201 if request.method == "PUT" else 200
        return Reply(status, None, {"ETag": '"0x1"', "Last-Modified": EPOCH_DATE, "x-ms-version": VERSION})

    def list(self, request: Request) -> Reply:
        container, _ = self._names(request)
        prefix = request.query.get("prefix", "")
        delimiter = request.query.get("delimiter", "")
        marker = request.query.get("marker", "")
        size = min(int(request.query.get("maxresults") or PAGE), PAGE)
        include_metadata = "metadata" in request.query.get("include", "")
        entries: list[str] = []
        prefixes: set[str] = set()
        following = ""
        for blob in self.store.list(container, prefix):
            if marker and blob.name < marker:
                continue
            rest = blob.name[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter, 1)[0] + delimiter
                if folder not in prefixes:
                    prefixes.add(folder)
                    entries.append(f"<BlobPrefix><Name>{escape(folder)}</Name></BlobPrefix>")
                continue
            if len(entries) >= size:
                following = blob.name
                break
            entries.append(self._entry(blob, include_metadata))
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="https://{BLOB_HOST}/" ContainerName="{escape(container)}">'
            f"<Prefix>{escape(prefix)}</Prefix><Marker>{escape(marker)}</Marker><MaxResults>{size}</MaxResults>"
            f"<Delimiter>{escape(delimiter)}</Delimiter><Blobs>{''.join(entries)}</Blobs>"
            f"<NextMarker>{escape(following)}</NextMarker></EnumerationResults>"
        )
        return Reply(200, body, {"Content-Type": "application/xml", "x-ms-version": VERSION})

    @staticmethod
    def _entry(blob: Blob, include_metadata: bool) -> str:
        metadata = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in blob.metadata.items()) if include_metadata else ""
        return (
            f"<Blob><Name>{escape(blob.name)}</Name><Properties>"
            f"<Creation-Time>{EPOCH_DATE}</Creation-Time><Last-Modified>{EPOCH_DATE}</Last-Modified>"
            f"<Etag>{blob.etag.strip(chr(34))}</Etag><Content-Length>{blob.size}</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType>"
            "<AccessTier>Hot</AccessTier><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
            f"<ServerEncrypted>true</ServerEncrypted></Properties><Metadata>{metadata}</Metadata></Blob>"
        )

    @staticmethod
    def _headers(blob: Blob) -> dict[str, str]:
        headers = {
            "Content-Type": "application/octet-stream",
            "ETag": blob.etag,
            "Last-Modified": EPOCH_DATE,
            "x-ms-creation-time": EPOCH_DATE,
            "x-ms-blob-type": "BlockBlob",
            "x-ms-server-encrypted": "true",
            "x-ms-version": VERSION,
            "Accept-Ranges": "bytes",
        }
        headers.update({f"x-ms-meta-{k}": v for k, v in blob.metadata.items()})
        return headers

    def properties(self, request: Request) -> Reply:
        blob = self.store.get(*self._names(request))
        if blob is None:
            return storage_error(404, "BlobNotFound", "The specified blob does not exist.", head=True)
        return Reply(200, None, {**self._headers(blob), "Content-Length": str(blob.size)})

    def download(self, request: Request) -> Reply:
        """The whole blob, or the range asked for (206); a range past an empty blob is 416, as Azure answers."""
        blob = self.store.get(*self._names(request))
        if blob is None:
            return storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        headers = self._headers(blob)
        asked = RANGE.match(request.headers.get("x-ms-range") or request.headers.get("range") or "")
        if asked is None:
            return Reply(200, None, {**headers, "Content-Length": str(blob.size)}, blob.open())
        start = int(asked.group("start"))
        end = min(int(asked.group("end")) + 1 if asked.group("end") else blob.size, blob.size)
        if start >= blob.size:
            reply = storage_error(416, "InvalidRange", "The range specified is invalid for the current size.")
            reply.headers["Content-Range"] = f"bytes */{blob.size}"
            return reply
        headers.update({"Content-Range": f"bytes {start}-{end - 1}/{blob.size}", "Content-Length": str(end - start)})
        return Reply(206, None, headers, blob.open(start, end))

    def upload(self, request: Request) -> Reply:
        container, name = self._names(request)
        if request.headers.get("x-ms-blob-type", "").lower() != "blockblob":
            return storage_error(400, "InvalidHeaderValue", "Only block blobs are supported by the fake.")
        if request.headers.get("if-none-match") == "*" and self.store.get(container, name) is not None:
            return storage_error(409, "BlobAlreadyExists", "The specified blob already exists.")
        self.store.write(container, name, request.body, metadata_headers(request))
        return self._written(container, name)

    def _written(self, container: str, name: str) -> Reply:
        blob = self.store.get(container, name)
        etag = blob.etag if blob is not None else '"0x0"'
        headers = {"ETag": etag, "Last-Modified": EPOCH_DATE, "x-ms-request-server-encrypted": "true"}
        return Reply(201, None, {**headers, "x-ms-version": VERSION})

    def stage_block(self, request: Request) -> Reply:
        container, name = self._names(request)
        self.store.blocks.setdefault((container, name), {})[request.query["blockid"]] = request.body
        return Reply(201, None, {"x-ms-version": VERSION, "x-ms-request-server-encrypted": "true"})

    def commit(self, request: Request) -> Reply:
        container, name = self._names(request)
        staged = self.store.blocks.pop((container, name), {})
        order = [element.text or "" for element in ElementTree.fromstring(request.body)]
        missing = [block for block in order if block not in staged]
        if missing:
            return storage_error(400, "InvalidBlockList", f"{len(missing)} blocks were never staged.")
        data = b"".join(staged[block] for block in order)
        self.store.write(container, name, data, metadata_headers(request))
        return self._written(container, name)

    def set_metadata(self, request: Request) -> Reply:
        container, name = self._names(request)
        if self.store.get(container, name) is None:
            return storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        self.store.set_metadata(container, name, metadata_headers(request))
        return Reply(200, None, {"ETag": '"0x2"', "Last-Modified": EPOCH_DATE, "x-ms-version": VERSION})
