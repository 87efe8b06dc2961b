"""Names and addresses in Blob Storage: container names, blob prefixes and the references jobs read.

Pure string work with no SDK calls, so every rule about a name is checked before anything is sent.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

_CONTAINER_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_DATASTORE_RE = re.compile(r"^[A-Za-z0-9_]+$")


def check_container_name(container: str) -> None:
    """Refuse a name Blob Storage would refuse, before any request is made."""
    if not _CONTAINER_RE.match(container):
        raise ValueError(f"container name {container!r}: 3-63 lowercase letters, digits and single hyphens")


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


def blob_name(prefix: str, name: str) -> str:
    """`name` under a normalized prefix; the empty prefix is the container's root."""
    return f"{prefix}/{name}" if prefix else name


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
