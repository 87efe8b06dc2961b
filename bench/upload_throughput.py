"""Upload throughput on Azurite: a plain upload_blob loop vs the engine, first run and unchanged re-run.

Run from the repo root: `uv run python -m bench.upload_throughput` (needs `npm ci` for Azurite).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient
from requests import Session
from requests.adapters import HTTPAdapter

from rjobs.storage.clients import make_service_client
from rjobs.storage.upload import DEFAULT_BLOCK_SIZE, MiB, upload
from rjobs.testing.azurite import running_azurite


class LatencyTransport(RequestsTransport):
    """Adds a fixed delay per request, a crude stand-in for the round trip to a real storage account."""

    def __init__(self, latency: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = latency

    def send(self, request: Any, **kwargs: Any) -> Any:
        time.sleep(self.latency)
        return super().send(request, **kwargs)


def make_dataset(root: Path, big: int, big_mib: int, small: int, small_kib: int) -> int:
    """Random (incompressible) files: a few large ones and many small ones; returns total bytes."""
    total = 0
    for i in range(big):
        path = root / "big" / f"part-{i:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for _ in range(big_mib):
                out.write(os.urandom(MiB))
        total += big_mib * MiB
    for i in range(small):
        path = root / "small" / f"{i // 25:02d}" / f"rows-{i:03d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(small_kib * 1024))
        total += small_kib * 1024
    return total


def plain_loop(client: BlobServiceClient, root: Path, container: str) -> None:
    """The baseline: one thread, one upload_blob(overwrite=True) per file, SDK defaults."""
    cc = client.get_container_client(container)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with path.open("rb") as data:
            cc.upload_blob(path.relative_to(root).as_posix(), data, overwrite=True)


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return f"{len(os.sched_getaffinity(0))} CPUs (nproc), {mem_kib / 1024**2:.1f} GiB RAM, {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", type=int, default=4, help="number of large files")
    parser.add_argument("--big-mib", type=int, default=40)
    parser.add_argument("--small", type=int, default=100, help="number of small files")
    parser.add_argument("--small-kib", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-concurrency", type=int, default=4, help="blocks in flight per large file")
    parser.add_argument("--max-file-concurrency", type=int, default=4)
    parser.add_argument("--block-mib", type=int, default=DEFAULT_BLOCK_SIZE // MiB)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every request, both clients")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        data = Path(tmp) / "data"
        total = make_dataset(data, args.big, args.big_mib, args.small, args.small_kib)
        files = args.big + args.small
        with running_azurite(Path(tmp) / "azurite") as azurite:
            conn = azurite.connection_string()

            def latency() -> dict[str, Any]:
                if not args.latency_ms:
                    return {}
                session = Session()
                session.mount("http://", HTTPAdapter(pool_maxsize=32))
                return {"transport": LatencyTransport(args.latency_ms / 1000, session=session, session_owner=True)}

            plain_client = BlobServiceClient.from_connection_string(conn, **latency())
            engine_client = make_service_client(connection_string=conn, **latency())
            containers: list[str] = []

            def fresh_container() -> None:
                for name in containers:
                    plain_client.delete_container(name)
                containers[:] = [f"bench-{uuid.uuid4().hex[:12]}"]
                plain_client.create_container(containers[0])

            def engine() -> None:
                upload(
                    engine_client, data, containers[0], "data",
                    max_concurrency=args.max_concurrency, max_file_concurrency=args.max_file_concurrency,
                    block_size=args.block_mib * MiB,
                )  # fmt: skip

            plain: list[float] = []
            first: list[float] = []
            rerun: list[float] = []
            for _ in range(args.repeat):
                fresh_container()
                plain.append(seconds(lambda: plain_loop(plain_client, data, containers[0])))
                fresh_container()
                first.append(seconds(engine))
                rerun.append(seconds(engine))

    rows = [("(a) plain upload_blob loop, 1 thread", plain), ("(b) engine, first upload", first),
            ("(c) engine, re-run, nothing changed", rerun)]  # fmt: skip
    print(f"machine: {machine()}; load average before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}")
    print(f"data: {files} files, {total / MiB:.1f} MiB ({args.big} x {args.big_mib} MiB + {args.small} x "
          f"{args.small_kib} KiB, random bytes); Azurite in memory on 127.0.0.1, "
          f"{args.latency_ms:g} ms added per request")  # fmt: skip
    print(f"engine: block {args.block_mib} MiB, max_concurrency {args.max_concurrency}, "
          f"max_file_concurrency {args.max_file_concurrency}; median of {args.repeat} interleaved runs\n")  # fmt: skip
    print("| run | median s | min s | MiB/s (median) |")
    print("| --- | ---: | ---: | ---: |")
    for label, times in rows:
        median = statistics.median(times)
        print(f"| {label} | {median:.2f} | {min(times):.2f} | {total / MiB / median:.0f} |")
    a, b, c = (statistics.median(t) for _, t in rows)
    print(f"\nratios: plain / engine first = {a / b:.2f}x; plain / engine re-run = {a / c:.1f}x; "
          f"engine first / re-run = {b / c:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
