"""A packed job whose datastore cannot be streamed (the operation-level fake has no datastore keys, as a workspace
on identity-based storage): no progress while it runs, and its items mirrored through jobs.download once it is
over, then unpacked as anywhere else. Real R, run by the fake as Azure runs a job's command."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.packing.engine import PackedSweep
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.reliability.support import load_sweep, write_project

pytestmark = [
    pytest.mark.azure_fake,
    pytest.mark.r,
    pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript"),
]


def test_a_pack_on_unstreamable_storage_is_mirrored_by_download_when_it_ends(tmp_path: Path) -> None:
    job = write_project(tmp_path / "project", azure=True, grid={"seed": [1, 2, 3]})
    spec, cells = load_sweep(job)
    clock = FakeClock()
    fake = FakeMLClient(clock, store=tmp_path / "store", run_commands=True)
    backend = AzureMLBackend(
        fake, environment_file=job.parent / "environment-job.yml", clock=clock, sleep=clock.sleep, env_smoke=False
    )
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    ledger = RunLedger(tmp_path / "results", "keyless")
    sweep = Sweep(spec, cells, backend, ledger, SweepSettings(run="keyless"), monitor)
    sweep.prepare()
    lines: list[str] = []
    launched = PackedSweep(sweep, packs=1, processes=2, on_progress=lines.append).run()
    summary = sweep.finish()

    assert (summary["completed"], len(launched)) == (3, 1)
    assert fake.count("jobs.download") == 1  # the pack's output, once, when it was over
    assert any("[3/3]" in line for line in lines)  # every item's end reported, from the mirrored progress.log
    for cell_id, cell in sweep.cells.items():
        metrics = json.loads((ledger.cell_dir(cell_id) / "outputs" / "metrics.json").read_text())
        assert metrics["seed"] == int(str(cell.params["seed"]))
        assert (ledger.cell_dir(cell_id) / "std_log.txt").is_file()
