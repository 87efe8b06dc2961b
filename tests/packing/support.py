"""The R item of the packing tests and a pack folder written as the engine writes one, for the runner's own tests.

ITEM_R's --mode picks what an item does: ok (writes outputs), fail (exit 3), flaky (fails its first attempt: a
file beside --counter remembers it), sleep (until killed), gate (waits, 120 s at most, until the --gate file
exists: a test holds items running until a point of progress), meet (waits, 60 s at most, for the item named by
--other to start too: passes only when two items run at once)."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rjobs.backends.local.backend import LocalBackend
from rjobs.core.snapshot import code_snapshot
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.packing.items import PackItem, runner_command, write_pack
from tests.reliability.support import load_sweep, write_project

ITEM_R = r"""
args <- commandArgs(trailingOnly = TRUE)
value <- function(flag, default = "") { i <- match(flag, args); if (is.na(i)) default else args[[i + 1]] }
mode <- value("--mode", "ok"); seed <- value("--seed", "1"); gate <- value("--gate"); counter <- value("--counter")
dir.create("outputs", showWarnings = FALSE)
wait_for <- function(path, limit) {
  waited <- 0
  while (!file.exists(path) && waited < limit) { Sys.sleep(0.02); waited <- waited + 0.02 }
  file.exists(path)
}
cat("item", seed, "mode", mode, "\n")
if (mode == "fail") { message("item ", seed, " fails by design"); quit(status = 3) }
if (mode == "flaky" && !file.exists(paste0(counter, ".", seed))) {
  file.create(paste0(counter, ".", seed)); message("flaky: the first attempt fails"); quit(status = 4)
}
if (mode == "sleep") Sys.sleep(600)
if (mode == "gate" && !wait_for(gate, 120)) quit(status = 9)
if (mode == "meet") {
  file.create(paste0(gate, ".", seed))
  if (!wait_for(paste0(gate, ".", value("--other")), 60)) quit(status = 8)
}
writeLines(args, "outputs/args.txt")
writeLines(sprintf('{"seed": %s, "score": %s}', seed, as.numeric(seed) / 10), "outputs/metrics.json")
"""
ITEM_COMMAND = (
    "Rscript item.R --mode ${{inputs.mode}} --seed ${{inputs.seed}} --gate ${{inputs.gate}} "
    "--counter ${{inputs.counter}}"
)


# seed 1 writes its outputs (a model file and metrics) at once; seed 2 first waits (60 s at most) for the gate
# file the test opens
ITEM_SH = """\
seed=$2 gate=$4
if [ "$seed" = 2 ]; then i=0; while [ ! -f "$gate" ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i + 1)); done; fi
[ "$seed" = 2 ] && [ ! -f "$gate" ] && exit 9
mkdir -p outputs/model && echo "$seed" > outputs/model/weights.txt
printf '{"seed": %s}\\n' "$seed" > outputs/metrics.json && echo "item $seed done"
"""


def sh_sweep(tmp_path: Path, run: str) -> Sweep:
    """A prepared sweep of two cells (seeds 1 and 2) on the local backend with `sh` standing in for R, its project
    and results under tmp_path: the engine's bookkeeping in seconds."""
    job = write_project(
        tmp_path / "project",
        script=ITEM_SH,
        script_name="item.sh",
        command="Rscript item.sh --seed ${{inputs.seed}} --gate ${{inputs.gate}}",
        inputs={"seed": 1, "gate": str(tmp_path / "gate")},
        grid={"seed": [1, 2]},
    )
    spec, cells = load_sweep(job)
    backend = LocalBackend(rscript=shutil.which("sh") or "sh", check_packages=False)
    monitor = JobMonitor(backend, interval=0.02, rng=random.Random(0))
    sweep = Sweep(spec, cells, backend, RunLedger(tmp_path / "results", run), SweepSettings(run=run), monitor)
    sweep.prepare()
    return sweep


def make_pack(
    root: Path, items: Sequence[tuple[str, int, int, Sequence[str]]], script: str = ITEM_R
) -> tuple[Path, list[str]]:
    """A pack folder under root holding the R item script and the items (id, first, last, R args); its runner
    command for 2 processes and no timeout."""
    code = root / "code-src"
    code.mkdir(parents=True, exist_ok=True)
    (code / "item.R").write_text(script, encoding="utf-8")
    pack = root / "pack"
    packed = [PackItem(i, first, last, ["Rscript", "item.R", *args]) for i, first, last, args in items]
    write_pack(pack, packed, code_snapshot(code), [])
    return pack, runner_command(pack, 2, None)


def run_runner(command: list[str], processes: int = 2, timeout_s: float | None = None) -> int:
    """The runner over its pack, as a job would start it (bounded: a hang fails the test, never a speed goal)."""
    argv = [*command[:3], str(processes), "0" if timeout_s is None else f"{timeout_s:g}"]
    return subprocess.run(argv, check=False, timeout=180).returncode
