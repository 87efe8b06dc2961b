"""Hostile and odd input: grid values that a shell would split or run, file and folder names with spaces,
artifact names that escape the cell folder, grids too big to mean it, and metrics.json that is not a flat
name -> number object."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from flows.cli import EXIT_BAD_INPUT, main
from rjobs.core.states import JobState
from rjobs.inputs.grid import DEFAULT_MAX_CELLS, cell_id
from rjobs.inputs.options import SweepOptions, resolve
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient, FakeSymlink, JobScript
from tests.reliability.support import engine_sweep, write_project

needs_r = pytest.mark.r

ECHO_R = """
args <- commandArgs(trailingOnly = TRUE)
dir.create("outputs", showWarnings = FALSE)
jsonlite::write_json(args, "outputs/args.json")
writeLines('{"n": 1}', "outputs/metrics.json")
"""


def hostile_values(canary: Path) -> list[str]:
    """What a shell would split, expand or run; each must reach R as one argument, byte for byte."""
    return [
        "two words",
        "  padded  ",
        'it\'s "quoted"',
        "a;b && c || d",
        f"$(touch {canary}-1)",
        f"`touch {canary}-2`",
        f"x; touch {canary}-3",
        "$HOME ${PATH} $0",
        "é 你好 🎉",
        "--evil",
        "-x",
        "*",
        "back\\slash\\",
        "tab\there",
        "new\nline",
        "a > b < c | d &",
        "",
    ]


@pytest.mark.slow
@pytest.mark.azure_fake
@needs_r
def test_hostile_values_reach_r_verbatim_on_both_backends_and_never_a_shell(tmp_path: Path) -> None:
    canary = tmp_path / "PWNED"
    values = hostile_values(canary)
    job = write_project(
        tmp_path / "project",
        script=ECHO_R,
        script_name="echo.R",
        command="Rscript echo.R --value ${{inputs.value}} --n 1",
        inputs={"value": "x"},
        grid=[{"value": v} for v in values],
        azure=True,
    )
    local = engine_sweep(job, tmp_path / "results-local", "hl")
    fake = FakeMLClient(FakeClock(), store=tmp_path / "fake-store", run_commands=True)
    azure = engine_sweep(job, tmp_path / "results-azure", "ha", client=fake)

    for value in values:
        cell = cell_id({"value": value})
        for sweep in (local, azure):
            record = sweep.ledger.load(cell)
            assert record.job_state == JobState.COMPLETED, (sweep.backend.name, value, record.error)
            args = json.loads((sweep.ledger.outputs_dir(cell) / "args.json").read_text(encoding="utf-8"))
            assert args == ["--value", value, "--n", "1"], (sweep.backend.name, value)
    assert sorted(p.name for p in tmp_path.rglob("PWNED*")) == []


SPACED_R = """
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[[match("--data", args) + 1]])
dir.create("outputs", showWarnings = FALSE)
writeLines(sprintf('{"rows": %d, "seed": %s}', nrow(data), args[[match("--seed", args) + 1]]), "outputs/metrics.json")
"""


@pytest.mark.slow
@pytest.mark.azure_fake
@needs_r
def test_data_file_code_folder_and_script_with_spaces_run_on_both_backends(tmp_path: Path) -> None:
    project = tmp_path / "my project"
    job = write_project(
        project,
        script=SPACED_R,
        script_name="read it.R",
        code_dir="r code",
        command="Rscript 'read it.R' --data ${{inputs.data}} --seed ${{inputs.seed}}",
        inputs={"data": {"type": "uri_file", "path": "data files/my data.csv"}, "seed": 1},
        grid={"seed": [1, 2]},
        azure=True,
    )
    (project / "data files").mkdir()
    (project / "data files" / "my data.csv").write_text("a,b\n1,2\n3,4\n5,6\n", encoding="utf-8")

    local = engine_sweep(job, tmp_path / "results local", "sl")
    fake = FakeMLClient(FakeClock(), store=tmp_path / "fake store", run_commands=True)
    azure = engine_sweep(job, tmp_path / "results azure", "sa", client=fake)

    for sweep in (local, azure):
        for cell, params in ((c, s.params) for c, s in sweep.cells.items()):
            record = sweep.ledger.load(cell)
            assert record.job_state == JobState.COMPLETED, (sweep.backend.name, record.error)
            assert record.metrics == {"rows": 3.0, "seed": float(params["seed"])}


def escaping_artifacts(outside: Path) -> list[tuple[str, dict[str, bytes | str | FakeSymlink]]]:
    """Artifact trees a hostile or broken store could hand back, beside a good metrics.json."""
    return [
        ("parent-dirs", {"outputs/../../escaped.txt": "x"}),
        ("backslashes", {"outputs/..\\..\\..\\escaped.txt": "x"}),
        ("deep-parent", {"outputs/a/b/../../../../../escaped.txt": "x"}),
        ("absolute", {str(outside / "absolute.txt"): "x"}),
        ("symlinked-output", {"outputs/passwd": FakeSymlink("/etc/passwd")}),
        ("symlinked-folder", {"outputs/up": FakeSymlink("../../../..")}),
        ("symlinked-log", {"user_logs/std_log.txt": FakeSymlink("/etc/passwd")}),
        ("symlinked-metrics", {"outputs/metrics.json": FakeSymlink(str(outside / "secret.json"))}),
    ]


@pytest.mark.azure_fake
@pytest.mark.parametrize("case", range(8), ids=[c for c, _ in escaping_artifacts(Path("/x"))])
def test_artifact_names_from_the_service_never_land_outside_the_cell(tmp_path: Path, case: int) -> None:
    outside = tmp_path / f"outside-{uuid.uuid4().hex[:8]}"
    outside.mkdir()
    (outside / "secret.json").write_text('{"stolen": 1}')
    _, artifacts = escaping_artifacts(outside)[case]
    job = write_project(
        tmp_path / "project", command="Rscript work.R --seed ${{inputs.seed}}", inputs={"seed": 1}, azure=True
    )
    fake = FakeMLClient(FakeClock(), store=tmp_path / "fake-store")
    fake.script("art-*", JobScript(outcome="Completed", artifacts={"outputs/metrics.json": '{"ok": 1}', **artifacts}))
    before = {p for p in tmp_path.rglob("*") if "results" not in p.parts and "fake-store" not in p.parts}

    sweep = engine_sweep(job, tmp_path / "results", "art", client=fake)

    (cell,) = sweep.cells
    record = sweep.ledger.load(cell)
    assert record.job_state == JobState.COMPLETED
    after = {p for p in tmp_path.rglob("*") if "results" not in p.parts and "fake-store" not in p.parts}
    assert after == before, "something landed outside the results folder"
    cell_dir = sweep.ledger.cell_dir(cell)
    assert [p for p in cell_dir.rglob("*") if p.is_symlink()] == []
    assert all(p.resolve().is_relative_to(cell_dir.resolve()) for p in cell_dir.rglob("*"))
    log = cell_dir / "std_log.txt"
    assert not log.exists() or "root:" not in log.read_text()
    assert "stolen" not in record.metrics
    if "outputs/metrics.json" in artifacts:  # the good metrics.json was replaced by a symlink: refused
        assert (record.metrics, bool(record.metrics_error)) == ({}, True)
    else:
        assert record.metrics == {"ok": 1.0}


def test_a_ten_thousand_cell_grid_is_refused_by_default_and_accepted_when_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = write_project(tmp_path / "project", inputs={"seed": 1, "pause": 0.1, "fail": 0})
    seeds = ",".join(str(n) for n in range(10_000))
    args = ["--job", str(job), "--results", str(tmp_path / "results"), "--param", f"seed={seeds}"]

    assert main([*args, "--dry-run"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"limit of {DEFAULT_MAX_CELLS}" in err and "--max-cells 10000" in err
    assert not (tmp_path / "results").exists()

    resolved = resolve(
        SweepOptions(job=str(job), results=str(tmp_path / "results"), param=[f"seed={seeds}"], max_cells=10_000)
    )
    assert len(resolved.cells) == 10_000 == len({c.cell_id for c in resolved.cells})


METRICS_R = """
args <- commandArgs(trailingOnly = TRUE)
dir.create("outputs", showWarnings = FALSE)
text <- args[[match("--metrics", args) + 1]]
if (text != "<none>") writeLines(text, "outputs/metrics.json", sep = "")
"""

METRICS_CASES = [
    # (id, what R writes to outputs/metrics.json, metrics kept, reason given when refused)
    ("flat", '{"rmse": 1.5, "r2": 0.9}', {"rmse": 1.5, "r2": 0.9}, ""),
    ("jsonlite-boxed", '{"rmse": [1.5], "n": [10]}', {"rmse": 1.5, "n": 10.0}, ""),
    ("not-json", "rmse = 1.5", {}, "not valid JSON"),
    ("empty", "", {}, "not valid JSON"),
    ("truncated", '{"rmse": 1.', {}, "not valid JSON"),
    ("a-list", "[1, 2]", {}, "not a JSON object"),
    ("nested", '{"scores": {"rmse": 1.5}}', {}, "not flat"),
    ("text-value", '{"model": "lm"}', {}, "not flat"),
    ("null-value", '{"rmse": null, "r2": 0.9}', {"r2": 0.9}, ""),  # R's NA: that metric left out, the others kept
    ("boolean", '{"converged": true}', {}, "not flat"),
    ("long-array", '{"rmse": [1, 2]}', {}, "not flat"),
    ("missing", "<none>", {}, "no metrics.json"),
]


@pytest.mark.slow
@needs_r
def test_bad_metrics_json_marks_metrics_invalid_and_the_cell_still_completes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = write_project(
        tmp_path / "project",
        script=METRICS_R,
        script_name="m.R",
        command="Rscript m.R --metrics ${{inputs.metrics}}",
        inputs={"metrics": "{}"},
        grid=[{"metrics": text} for _, text, _, _ in METRICS_CASES],
    )
    with caplog.at_level(logging.WARNING, logger="rjobs.engine.sweep"):
        sweep = engine_sweep(job, tmp_path / "results", "mx")

    warned = " ".join(r.getMessage() for r in caplog.records)
    for case, text, metrics, reason in METRICS_CASES:
        cell = cell_id({"metrics": text})
        record = sweep.ledger.load(cell)
        assert record.job_state == JobState.COMPLETED, (case, record.error)
        assert record.metrics == metrics, case
        assert (reason in record.metrics_error) if reason else record.metrics_error == "", (case, record.metrics_error)
        assert (f"cell {cell}: metrics ignored" in warned) == bool(reason), case
