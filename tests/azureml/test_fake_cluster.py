"""The fake's cluster model (bench/packing_model.py runs on it): nodes taken first come first served, allocation on
a cold cluster, the image pulled once per node, and a job's phases walked on the fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.ai.ml import command
from azure.ai.ml.entities import Environment

from rjobs.testing.fake_azureml.lifecycle import Cluster
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

pytestmark = pytest.mark.azure_fake


@pytest.mark.parametrize(
    ("cluster", "runs", "starts"),
    [
        # one warm node: each job waits for the one before, then its queue time
        (Cluster(1, queue_s=10, start_s=5, finalize_s=2), [30, 30, 30], [10, 57, 104]),
        # two warm nodes: the third job takes the node that frees first
        (Cluster(2, queue_s=10, start_s=5, finalize_s=2), [30, 60, 30], [10, 10, 57]),
        # cold: every node allocated from the first job; the image pulled by each node's first job only
        (Cluster(1, allocate_s=100, image_pull_s=50, queue_s=10, start_s=5, finalize_s=2), [30, 30], [110, 207]),
    ],
)
def test_jobs_take_nodes_first_come_first_served(cluster: Cluster, runs: list[float], starts: list[float]) -> None:
    seen = []
    for run_s in runs:
        phases = cluster.phases(0.0, run_s)
        assert [state for state, _ in phases] == ["Queued", "Preparing", "Running", "Finalizing"]
        seen.append(phases[0][1])  # created at 0: Queued lasts until the job's node is free, plus the queue
    assert seen == starts


def test_a_job_on_the_fake_cluster_walks_its_phases_on_the_clock(tmp_path: Path) -> None:
    clock = FakeClock(start=0.0)
    fake = FakeMLClient(clock, store=tmp_path / "fake", cluster=Cluster(1, queue_s=10, start_s=5, finalize_s=2))
    fake.environments.create_or_update(Environment(name="r-env", version="1", image="rocker/r-ver:4.4.1"))
    fake.script("*", run_s=30)
    for name in ("a", "b"):
        fake.jobs.create_or_update(command(name=name, command="echo", environment="azureml:r-env:1", compute="c"))
    assert clock.now == 2.0  # the service's second per create
    timeline = {}
    while fake.state_of("b") != "Completed":
        timeline.setdefault(fake.state_of("a"), clock.now)
        timeline.setdefault("b " + fake.state_of("b"), clock.now)
        clock.advance(1.0)
    assert timeline["Running"] == 15.0 and timeline["Completed"] == 47.0
    assert timeline["b Running"] == 47.0 + 10.0 + 5.0  # its queue and start once a's node is free at 47 s
