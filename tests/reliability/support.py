"""Shared by the reliability tests and their subprocess driver: a tiny R project, the engine wired as the flow wires
it, and the observers the assertions read (the fake control plane with keyed faults is rjobs.testing.keyed_faults)."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The R job of most reliability tests: notes its start and end (job name, wall time, pid) in a marker file
# named by RJOBS_MARKER, sleeps a little, writes flat metrics; the cell whose seed equals --fail fails. With
# RJOBS_BARRIER=n it first waits (60 s at most) until n jobs have started: a limit of n is then reached for certain,
# however slowly this machine starts R, and a test can assert it was reached without a race.
WORK_R = r"""
args <- commandArgs(trailingOnly = TRUE)
value <- function(flag, default) { i <- match(flag, args); if (is.na(i)) default else args[[i + 1]] }
seed <- as.integer(value("--seed", "1"))
pause <- as.numeric(value("--pause", "0.3")) + 0.1 * (seed %% 5)
fail <- as.integer(value("--fail", "0"))
marker <- Sys.getenv("RJOBS_MARKER")
name <- Sys.getenv("RJOBS_JOB_NAME", Sys.getenv("AZUREML_RUN_ID"))
note <- function(what) {
  if (nzchar(marker)) cat(sprintf("%s %s %.6f %d\n", what, name, as.numeric(Sys.time()), Sys.getpid()),
                          file = marker, append = TRUE)
}
note("start")
barrier <- as.integer(Sys.getenv("RJOBS_BARRIER", "0"))
waited <- 0
while (barrier > 0 && waited < 60 && sum(startsWith(readLines(marker), "start ")) < barrier) {
  Sys.sleep(0.02); waited <- waited + 0.02
}
Sys.sleep(pause)
dir.create("outputs", showWarnings = FALSE)
if (seed == fail) { note("end"); stop("seed ", seed, " fails by design") }
writeLines(sprintf('{"seed": %d, "score": %.4f}', seed, seed / 10), "outputs/metrics.json")
writeLines(paste("model of seed", seed), "outputs/model.txt")
note("end")
"""
WORK_COMMAND = "Rscript work.R --seed ${{inputs.seed}} --pause ${{inputs.pause}} --fail ${{inputs.fail}}"

ENVIRONMENT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: r-env
build:
  path: docker-context
"""


def write_project(
    root: Path,
    *,
    script: str = WORK_R,
    script_name: str = "work.R",
    command: str = WORK_COMMAND,
    inputs: Mapping[str, Any] | None = None,
    grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    code_dir: str = "src",
    azure: bool = False,
) -> Path:
    """job.yml (+ grid.yml, + environment-job.yml and docker-context for Azure) and the R code; returns job.yml."""
    code = root / code_dir
    code.mkdir(parents=True, exist_ok=True)
    (code / script_name).write_text(script, encoding="utf-8")
    job: dict[str, Any] = {
        "command": command,
        "code": code_dir,
        "inputs": dict(inputs if inputs is not None else {"seed": 1, "pause": 0.3, "fail": 0}),
    }
    if azure:
        job.update(
            {
                "environment": "azureml:r-env@latest",
                "compute": "azureml:cpu-cluster",
                "experiment_name": "reliability",
            }
        )
        (root / "environment-job.yml").write_text(ENVIRONMENT_YML, encoding="utf-8")
        (root / "docker-context").mkdir(exist_ok=True)
        (root / "docker-context" / "Dockerfile").write_text(
            "FROM rocker/r-ver:4.4.1\nRUN install2.r --error jsonlite\n", encoding="utf-8"
        )
    (root / "job.yml").write_text(yaml.safe_dump(job, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if grid is not None:
        (root / "grid.yml").write_text(yaml.safe_dump(grid, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return root / "job.yml"


def load_sweep(job: Path) -> tuple[Any, list[Any]]:
    """The job spec and the cells of the grid.yml beside it, as the flow resolves them, without the flow's
    option checks (which concern MLflow and model registration, not these tests)."""
    from rjobs.inputs.grid import build_cells
    from rjobs.inputs.spec import load_job_spec

    spec = load_job_spec(job)
    grid = job.parent / "grid.yml"
    return spec, build_cells(spec, grid_file=grid if grid.is_file() else None, max_cells=100_000)


def engine_sweep(
    job: Path,
    results: Path,
    run: str,
    *,
    client: Any = None,
    retries: int = 1,
    workers: int = 4,
    timeout_s: float | None = None,
) -> Any:
    """Run the real engine over the job's grid to the end, on the local backend or (client given) on the Azure
    fake with its clock; returns the finished Sweep."""
    from concurrent.futures import ThreadPoolExecutor

    from rjobs.engine.ledger import RunLedger
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings

    spec, cells = load_sweep(job)
    if client is None:
        from rjobs.backends.local.backend import LocalBackend

        backend: Any = LocalBackend(check_packages=False)
        monitor = JobMonitor(backend, interval=0.05, rng=random.Random(0))
    else:
        from rjobs.backends.azureml.backend import AzureMLBackend

        clock = client.clock
        backend = AzureMLBackend(
            client,
            environment_file=job.parent / "environment-job.yml",
            clock=clock,
            sleep=clock.sleep,
            r_packages=lambda _code: {"jsonlite": ["*.R"]},
        )
        monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    settings = SweepSettings(run=run, retries=retries, timeout_s=timeout_s)
    sweep = Sweep(spec, cells, backend, RunLedger(results, run), settings, monitor)
    sweep.prepare()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(sweep.run_cell, list(sweep.cells)))
    sweep.finish()
    return sweep


# --- the fake control plane (its keyed-fault client is rjobs.testing.keyed_faults) ------------------------------


def job_intervals(jobs: Mapping[str, Mapping[str, Any]], prefix: str) -> dict[str, tuple[float, float]]:
    """Server-side lifetime of each job whose name starts with prefix: created until terminal, on the fake clock."""
    from rjobs.testing.fake_mlclient import CANCEL_DELAY

    spans = {}
    for name, record in jobs.items():
        if not name.startswith(prefix):
            continue
        created = float(record["created"])
        if record.get("cancel_at") is not None:
            end = float(record["cancel_at"]) + CANCEL_DELAY
        else:
            end = created + sum(float(duration) for _, duration in record["phases"])
        spans[name] = (created, end)
    return spans


def max_overlap(spans: Iterable[tuple[float, float]]) -> int:
    """Most intervals open at one instant; an interval ending when another starts does not overlap it."""
    spans = list(spans)
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


# --- local processes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """One R process as the marker file saw it."""

    job_name: str
    start: float
    end: float | None
    pid: int


def read_launches(marker: Path) -> list[Launch]:
    """Start/end lines of the marker file paired per job name, in start order."""
    if not marker.is_file():
        return []
    starts: dict[str, list[tuple[float, int]]] = {}
    ends: dict[str, list[float]] = {}
    for line in marker.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        what, name, when, pid = parts
        if what == "start":
            starts.setdefault(name, []).append((float(when), int(pid)))
        elif what == "end":
            ends.setdefault(name, []).append(float(when))
    launches = []
    for name, items in starts.items():
        for index, (when, pid) in enumerate(items):
            finished = ends.get(name, [])
            launches.append(Launch(name, when, finished[index] if index < len(finished) else None, pid))
    return sorted(launches, key=lambda launch: launch.start)


def proc_state(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a pid from /proc, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def live_group_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies: killpg(pgid, 0) also 'finds' unreaped zombies."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        state = proc_state(int(entry.name))
        if state is not None and state[1] == pgid and state[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


@dataclass
class JobProcessWatcher:
    """Samples /proc every few milliseconds for live processes of one run's local jobs (the RJOBS_JOB_NAME the
    backend gives each job's supervisor and R): the most jobs it ever saw alive at once."""

    prefix: str
    peak: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> JobProcessWatcher:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        key = f"RJOBS_JOB_NAME={self.prefix}".encode()
        while not self._stop.is_set():
            names = set()
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    environ = (entry / "environ").read_bytes()
                except OSError:
                    continue
                state = proc_state(int(entry.name))
                if state is None or state[0] in ("Z", "X"):
                    continue
                names |= {item for item in environ.split(b"\0") if item.startswith(key)}
            self.peak = max(self.peak, len(names))
            self.samples += 1
            time.sleep(0.005)


OUTCOME_S = 60.0
"""How long a test waits for something another process must do: a bound on a hang, never a speed goal (speed is
measured in bench/), so generous enough for a loaded 2-core machine."""


def wait_until(condition: Any, timeout: float, interval: float = 0.02) -> bool:
    """Poll a condition of the real world (a subprocess's effect) until true or the timeout; no fake clock exists
    for another process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


# --- results files, read while they are written ---------------------------------------------------------------


@dataclass
class ResultsReader:
    """A thread parsing every status.json, summary.csv and run.json of a results folder as fast as it can; a
    parse error means a reader saw a half-written file."""

    root: Path
    errors: list[str] = field(default_factory=list)
    reads: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ResultsReader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                found = [*self.root.glob("*/*/status.json"), *self.root.glob("*/run.json")]
                tables = list(self.root.glob("*/summary.csv"))
            except FileNotFoundError:  # a folder removed while listed: list again
                continue
            for path in found:
                self._check(path, self._json)
            for path in tables:
                self._check(path, self._csv)
            time.sleep(0.001)  # leave a core to the processes under test (CI machines may have two)

    def _check(self, path: Path, parse: Any) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.errors.append(f"{path}: {exc}")
            return
        try:
            parse(text)
            self.reads[path.name] += 1
        except (ValueError, AssertionError, csv.Error) as exc:
            self.errors.append(f"{path}: {exc!r}: {text[:120]!r}")

    @staticmethod
    def _json(text: str) -> None:
        assert isinstance(json.loads(text), dict), "not an object"

    @staticmethod
    def _csv(text: str) -> None:
        rows = list(csv.reader(io.StringIO(text)))
        assert rows and rows[0][0] == "cell", "no header"
        assert text.endswith("\n"), "no final newline"
        assert all(len(row) == len(rows[0]) for row in rows), "ragged rows"


def read_summary(run_dir: Path) -> dict[str, dict[str, str]]:
    """summary.csv by cell."""
    with (run_dir / "summary.csv").open(encoding="utf-8", newline="") as handle:
        return {row["cell"]: row for row in csv.DictReader(handle)}


def finished_outputs(run_dir: Path) -> dict[Path, tuple[int, bytes]]:
    """mtime and bytes of every output of a collected Completed cell: what later runs must leave untouched."""
    found = {}
    for status in run_dir.glob("*/status.json"):
        record = json.loads(status.read_text(encoding="utf-8"))
        if record.get("state") == "Completed" and record.get("collected"):
            for path in sorted((status.parent / "outputs").rglob("*")):
                if path.is_file():
                    found[path] = (path.stat().st_mtime_ns, path.read_bytes())
    return found


def job_groups(run_dir: Path) -> dict[str, int]:
    """Each submitted local job's process group, from the handle the backend writes once it has started it (R can
    start first on a loaded machine: wait for these, not for R's own marker alone)."""
    handles = [json.loads(path.read_text()) for path in run_dir.glob("*/.jobs/*/handle.json")]
    return {handle["job_name"]: int(handle["data"]["pid"]) for handle in handles}
