"""The orchestrator's peak memory collecting a large job output (issue 21): AzureMLBackend.collect over the real
MLClient and storage clients on the fake Azure ML service's transport, the output a sparse file the fake serves.

Measured in this process around the collect alone: the growth of the process's resident high-water mark (VmHWM,
reset before the collect through /proc/self/clear_refs), and with `--heap` the Python heap's peak (tracemalloc, which
slows the collect several times over). `--sdk` collects
through azure-ai-ml's jobs.download instead (the path before issue 21), which holds each blob whole in memory, so
run it at a size this machine can spare.

Run: `.venv/bin/python -m bench.azure_collect_memory [--mib 2048] [--sdk]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def measure(mib: int, sdk: bool, work: Path, heap: bool = False) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from azure.ai.ml import Output, command
        from azure.ai.ml.entities import Environment

    from rjobs.backends.azureml.backend import AzureMLBackend
    from rjobs.backends.azureml.collect import JobCollector
    from rjobs.backends.azureml.workspace import SDK_RETRY
    from rjobs.testing.clock import FakeClock
    from rjobs.testing.fake_azureml.client import FakeMLClient
    from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, blob_clients_through, fake_ml_client

    clock = FakeClock()
    workspace = FakeMLClient(clock, store=work / "service")
    transport = FakeAzureMLTransport(workspace)
    with blob_clients_through(transport):
        ml_client = fake_ml_client(transport, show_progress=False, **SDK_RETRY)
        ml_client.environments.create_or_update(Environment(name="r-env", version="1", image="rocker/r-ver:4.4.1"))
        job = command(
            name="big-output",
            command="echo big",
            environment="azureml:r-env:1",
            compute="cpu-cluster",
            outputs={"model": Output(type="uri_folder")},
        )
        created = ml_client.jobs.create_or_update(job)
        clock.advance(3600.0)
        output = workspace.store / "named" / "big-output" / "model" / "model.bin"
        output.parent.mkdir(parents=True)
        with output.open("wb") as handle:
            handle.truncate(mib * MIB)  # sparse: the service reads zeros, the disk holds nothing
        backend = AzureMLBackend(ml_client, storage_options={"transport": transport, **SDK_RETRY})
        if sdk:
            backend.collector = JobCollector(backend.calls, None)
        from rjobs.backends.azureml.status import job_handle

        handle = job_handle(created, "azureml", run="bench")
        cell = work / "cell"
        if heap:
            tracemalloc.start()
        reset_hwm()
        before = vm_hwm_kib()
        started = time.perf_counter()
        outputs = backend.collect(handle, cell)
        seconds = time.perf_counter() - started
        grown = vm_hwm_kib() - before
        heap_peak = tracemalloc.get_traced_memory()[1] if heap else 0
        tracemalloc.stop()
    size = (outputs / "model" / "model.bin").stat().st_size
    return {
        "path": "jobs.download (SDK)" if sdk else "streamed (JobStorage)",
        "output_mib": mib,
        "collected_mib": size / MIB,
        "heap_peak_mib": heap_peak / MIB if heap else None,
        "rss_high_water_growth_mib": grown / 1024,
        "rss_before_mib": before / 1024,
        "seconds": seconds,
        "control_plane": sum(1 for r in transport.records if r.host in ("arm", "api")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=2048)
    parser.add_argument("--sdk", action="store_true", help="collect through jobs.download (before issue 21)")
    parser.add_argument("--heap", action="store_true", help="also trace the Python heap's peak (slow)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-azure-memory-") as work:
        result = measure(args.mib, args.sdk, Path(work), args.heap)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
