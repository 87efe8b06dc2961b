"""An R script using the helper, run as a sweep by the real engine and local backend, then read back in R with
read_sweep: the metrics the orchestrator records are the ones R logged, and the columns come back typed."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from rjobs.backends.local.backend import LocalBackend
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.inputs.grid import build_cells
from rjobs.inputs.spec import load_job_spec
from tests.rhelper.support import HELPER, run_r

pytestmark = pytest.mark.r

SCRIPT_R = """
library(optparse)
source("rjobs.R")
opt <- parse_args(OptionParser(option_list = list(
  make_option("--alpha", type = "character"), make_option("--tag", type = "character"))))
alpha <- as.numeric(opt$alpha)
log_params(alpha = alpha, tag = opt$tag)
log_metrics(score = alpha / 3, "précision" = 1 - alpha, unstable = if (alpha > 0.5) NA else alpha^2)
"""

JOB_YML = """command: Rscript main.R --alpha ${{inputs.alpha}} --tag ${{inputs.tag}}
code: src
inputs:
  alpha: 0.1
  tag: x
"""

GRID = {"alpha": ["0.1", "0.9", "1e-7"], "tag": ["010", "b"]}

# The columns read_sweep gives, as R reports them: class and values (NA as null).
READ_BACK_R = """
sweep <- read_sweep("demo", results = "results")
sweep <- sweep[order(sweep$param.alpha, sweep$param.tag), ]
cols <- lapply(sweep, function(x) list(class = class(x)[[1]], values = as.list(x)))
for (name in names(cols)) {
  values <- vapply(cols[[name]]$values, function(v) if (is.na(v)) "null" else
    if (is.numeric(v)) sprintf("%.17g", v) else sprintf("\\"%s\\"", v), "")
  cat(name, "\\t", cols[[name]]$class, "\\t", paste(values, collapse = "|"), "\\n", sep = "")
}
"""


def run_sweep(project: Path) -> Sweep:
    spec = load_job_spec(project / "job.yml")
    backend = LocalBackend(check_packages=False)
    cells = build_cells(spec, grid=GRID)
    ledger = RunLedger(project / "results", "demo")
    sweep = Sweep(spec, cells, backend, ledger, SweepSettings(run="demo"), JobMonitor(backend, interval=0.05))
    sweep.prepare()
    for cell_id in sweep.cells:
        result = sweep.run_cell(cell_id)
        assert result.record.job_state == JobState.COMPLETED, result.record.error
    sweep.finish()
    return sweep


def records(sweep: Sweep) -> list[CellRecord]:
    loaded = [sweep.ledger.load(cell_id) for cell_id in sweep.cells]
    return [record for record in loaded if record is not None]


def test_logged_metrics_reach_the_summary_and_come_back_typed_in_r(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.R").write_text(SCRIPT_R, encoding="utf-8")
    shutil.copy2(HELPER, project / "src" / "rjobs.R")
    (project / "job.yml").write_text(JOB_YML, encoding="utf-8")
    sweep = run_sweep(project)

    by_alpha = {(r.params["alpha"], r.params["tag"]): r.metrics for r in records(sweep)}
    assert by_alpha[("0.1", "b")] == {"score": 0.1 / 3, "précision": 1 - 0.1, "unstable": 0.1**2}
    assert by_alpha[("0.9", "b")] == {"score": 0.9 / 3, "précision": 1 - 0.9}  # NA left out alone
    assert by_alpha[("1e-7", "010")]["unstable"] == 1e-7**2
    for cell_id, cell in sweep.cells.items():
        params_json = json.loads((sweep.ledger.outputs_dir(cell_id) / "params.json").read_text(encoding="utf-8"))
        assert params_json == {"alpha": float(cell.params["alpha"]), "tag": cell.params["tag"]}

    with (project / "results" / "demo" / "summary.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert {"metric.score", "metric.précision", "metric.unstable", "param.alpha", "param.tag"} <= set(header)

    result = run_r(project, READ_BACK_R)
    assert result.returncode == 0, result.stderr
    columns = {}
    for line in result.stdout.splitlines():
        name, kind, values = line.split("\t")
        columns[name] = (kind, values.split("|"))
    assert columns["param.alpha"][0] == "numeric"
    assert [float(v) for v in columns["param.alpha"][1]] == [1e-7, 1e-7, 0.1, 0.1, 0.9, 0.9]
    assert columns["param.tag"] == ("character", ['"010"', '"b"'] * 3)
    assert columns["attempt"] == ("integer", ["1"] * 6)
    assert columns["metric.unstable"][0] == "numeric"
    unstable = columns["metric.unstable"][1]
    assert [float(v) for v in unstable[:4]] == [1e-7**2, 1e-7**2, 0.1**2, 0.1**2] and unstable[4:] == ["null", "null"]
    assert [float(v) for v in columns["metric.précision"][1]] == [1 - 1e-7] * 2 + [1 - 0.1] * 2 + [1 - 0.9] * 2
    assert columns["status"][0] == "character"


def test_read_sweep_names_the_missing_run(tmp_path: Path) -> None:
    result = run_r(tmp_path, 'read_sweep("nope", results = "elsewhere")\n')
    assert result.returncode != 0
    assert "no summary.csv for run 'nope' under 'elsewhere'" in result.stderr
