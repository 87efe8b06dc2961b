"""The code snapshot: one list of files for the run name's hash, the local per-cell copy and the Azure code upload.
Ignore files are matched as azure-ai-ml matches them; results, .git, .venv and caches are never part of it; special
files and symlinks leaving the folder are skipped, in bounded time."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.core.hashing import hash_tree
from rjobs.core.snapshot import IgnoreRules, code_snapshot, copy_snapshot, ignore_file, snapshot_hash
from rjobs.inputs.grid import build_cells
from rjobs.inputs.options import derive_run_name
from rjobs.inputs.spec import load_job_spec
from tests.reliability.hostile import bind_socket, bounded, make_device

IGNORE_CASES = [
    # (ignore file text, paths relative to the code folder)
    ("results/\n", ["results/a/status.json", "results", "src/results/x", "resultsx/y", "a.R"]),
    ("/results/\n", ["results/a", "src/results/x"]),
    ("*.csv\n!keep.csv\n", ["a.csv", "d/b.csv", "keep.csv", "d/keep.csv", "a.R"]),
    ("data\n", ["data", "data/x.csv", "sub/data/x.csv", "database.R"]),
    ("data/*\n!data/keep.csv\n", ["data/x.csv", "data/keep.csv", "data/deep/y.csv"]),
    ("# comment\n\n  \n*.rds\n", ["model.rds", "# comment", "a.R"]),
    ("**/cache/**\n", ["cache/x", "a/b/cache/y", "cache"]),
    ("*.log\n!important.log\nimportant.log\n", ["important.log", "x.log"]),
    ("doc/*.md\n", ["doc/a.md", "doc/sub/b.md", "a.md"]),
    ("\\#hash\n\\!bang\n", ["#hash", "!bang"]),
    ("out?/\n", ["out1/x", "out/x", "out12/x"]),
]


@pytest.mark.parametrize(("text", "paths"), IGNORE_CASES, ids=[c[0].strip() for c in IGNORE_CASES])
def test_ignore_rules_match_as_azure_ml_matches_them(tmp_path: Path, text: str, paths: list[str]) -> None:
    from azure.ai.ml._utils._asset_utils import get_ignore_file

    (tmp_path / ".amlignore").write_text(text, encoding="utf-8")
    ours = IgnoreRules(ignore_file(tmp_path))
    theirs = get_ignore_file(tmp_path)
    for path in paths:
        assert ours.excluded(path) == theirs.is_file_excluded(tmp_path / path), (text, path)


def write_code(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


PROJECT = {
    "train.R": "x <- 1\n",
    "R/helpers.R": "f <- function() 1\n",
    "data/small.csv": "a\n1\n",
    "data/big.parquet": "...",
    "notes/todo.md": "todo\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".venv/lib/site.py": "",
    "R/__pycache__/x.pyc": "",
    "node_modules/a/index.js": "",
    ".Rproj.user/state": "",
    "results/run-1/c1/outputs/model.rds": "model",
    ".gitignore": "*.parquet\nnotes/\n",
}


def test_snapshot_leaves_out_ignored_files_caches_and_the_results_folder(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", PROJECT)
    snapshot = code_snapshot(code, exclude=[code / "results"])
    assert [name for name, _ in snapshot.files] == [".gitignore", "train.R", "R/helpers.R", "data/small.csv"]
    assert snapshot.ignore_file == code / ".gitignore"

    (code / ".amlignore").write_text("data/\n", encoding="utf-8")  # .amlignore wins over .gitignore, as on Azure
    names = [name for name, _ in code_snapshot(code, exclude=[code / "results"]).files]
    assert names == [".amlignore", ".gitignore", "train.R", "R/helpers.R", "notes/todo.md"]


def test_snapshot_agrees_with_what_azure_ml_would_upload_from_its_copy(tmp_path: Path) -> None:
    from azure.ai.ml._utils._asset_utils import get_ignore_file, get_upload_files_from_folder

    code = write_code(tmp_path / "code", PROJECT)
    snapshot = code_snapshot(code, exclude=[code / "results"])
    staged = tmp_path / "staged" / "code"
    copy_snapshot(snapshot, staged)
    uploaded = get_upload_files_from_folder(staged, ignore_file=get_ignore_file(staged))
    assert sorted(name for _, name in uploaded) == sorted(name for name, _ in snapshot.files)
    assert snapshot_hash(code_snapshot(staged)) == snapshot_hash(snapshot)


def test_a_clean_folder_hashes_as_before(tmp_path: Path) -> None:
    """Run names and code asset versions of existing sweeps stay valid: hash_tree's digest for a clean folder."""
    code = write_code(tmp_path / "code", {"train.R": "1", "b/x.R": "2", "a.R": "3", "b/c/y.R": "4", "z/w.R": "5"})
    assert snapshot_hash(code_snapshot(code)) == hash_tree(code)


def test_links_inside_are_copied_links_outside_and_special_files_are_skipped(
    tmp_path: Path, sockets: list[socket.socket]
) -> None:
    code = write_code(tmp_path / "code", {"train.R": "x <- 1\n", "lib/util.R": "u <- 2\n"})
    (tmp_path / "secret.env").write_text("TOKEN=1")
    (code / "util.R").symlink_to("lib/util.R")
    (code / "shared").symlink_to("lib", target_is_directory=True)
    (code / "secret.env").symlink_to(tmp_path / "secret.env")
    (code / "home").symlink_to(Path.home(), target_is_directory=True)
    os.mkfifo(code / "pipe")
    make_device(code / "zero")
    bind_socket(code / "sock", sockets)

    snapshot = bounded(lambda: code_snapshot(code), code / "pipe")
    assert [name for name, _ in snapshot.files] == ["train.R", "util.R", "lib/util.R", "shared/util.R"]
    assert sorted(name for name, _ in snapshot.skipped) == ["home", "pipe", "secret.env", "sock", "zero"]
    copy = tmp_path / "copy"
    bounded(lambda: copy_snapshot(snapshot, copy))
    assert (copy / "util.R").read_text() == "u <- 2\n" and not (copy / "util.R").is_symlink()
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == sorted(
        ["train.R", "util.R", "lib/util.R", "shared/util.R"]
    )


def test_a_bad_ignore_pattern_is_an_input_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / ".amlignore").write_text("ok\n!\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"\.amlignore: line 2"):
        code_snapshot(tmp_path)


def test_run_name_ignores_results_inside_the_code_folder(tmp_path: Path) -> None:
    """code: . with the default results folder: a run's own results must not change the next run's name."""
    write_code(tmp_path, {"train.R": "x <- 1\n"})
    (tmp_path / "job.yml").write_text("command: Rscript train.R --seed ${{inputs.seed}}\ncode: .\ninputs:\n  seed: 1\n")
    spec = load_job_spec(tmp_path / "job.yml")
    cells = build_cells(spec, grid={"seed": [1, 2]})
    before = derive_run_name(spec, cells, None, tmp_path / "results")
    write_code(tmp_path, {"results/run/c1/outputs/model.rds": "m", "results/mlflow.db": "db", ".git/HEAD": "x"})
    assert derive_run_name(spec, cells, None, tmp_path / "results") == before
    (tmp_path / "train.R").write_text("x <- 2\n")
    assert derive_run_name(spec, cells, None, tmp_path / "results") != before
