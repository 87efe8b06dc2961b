"""The local backend's collection of ./outputs, without R: what each kind of entry a job leaves becomes in the cell
folder (hard-linked, copied from inside the job's folder, or skipped), in bounded time."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rjobs.backends.local.collect import collect_outputs, copy_log
from tests.reliability.hostile import bounded, make_device

ENTRIES = [
    # (id, how the job leaves outputs/<name>, what the cell folder holds afterwards: name -> text, or None: nothing)
    ("file", lambda o: (o / "x").write_text("x"), {"x": "x"}),
    ("nested", lambda o: ((o / "d").mkdir(), (o / "d" / "x").write_text("x")), {"d/x": "x"}),
    ("link-to-output", lambda o: ((o / "m").write_text("m"), (o / "x").symlink_to("m")), {"m": "m", "x": "m"}),
    ("link-to-code", lambda o: (o / "x").symlink_to("../train.R"), {"x": "code"}),
    ("link-to-moved-folder", lambda o: ((o / "a").mkdir(), (o / "a" / "f").write_text("f"), (o / "z").symlink_to("a")),
     {"a/f": "f", "z/f": "f"}),
    ("link-out-of-job", lambda o: (o / "x").symlink_to("../../exit.json"), {}),
    ("passwd", lambda o: (o / "x").symlink_to("/etc/passwd"), {}),
    ("environ", lambda o: (o / "x").symlink_to("/proc/self/environ"), {}),
    ("dev-zero", lambda o: (o / "x").symlink_to("/dev/zero"), {}),
    ("device", lambda o: make_device(o / "x"), {}),
    ("fifo", lambda o: os.mkfifo(o / "x"), {}),
    ("loop", lambda o: (o / "x").symlink_to(".", target_is_directory=True), {}),
]  # fmt: skip


@pytest.mark.parametrize(("make", "expected"), [e[1:] for e in ENTRIES], ids=[e[0] for e in ENTRIES])
def test_each_kind_of_entry_is_linked_copied_or_skipped(
    tmp_path: Path, make: Callable[[Path], object], expected: dict[str, str]
) -> None:
    work = tmp_path / "job"
    code = work / "code"
    (code / "outputs").mkdir(parents=True)
    (code / "train.R").write_text("code")
    (work / "exit.json").write_text('{"returncode": 0}')
    make(code / "outputs")
    target = tmp_path / "cell" / "outputs"

    bounded(lambda: collect_outputs("job", code / "outputs", code, target), code / "outputs" / "x")

    found = {p.relative_to(target).as_posix(): p for p in target.rglob("*") if not p.is_dir()}
    assert {name: path.read_text() for name, path in found.items()} == expected
    assert not any(path.is_symlink() for path in found.values())


def test_an_outputs_folder_that_is_a_symlink_is_not_followed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "outputs").symlink_to("/etc", target_is_directory=True)
    with caplog.at_level(logging.WARNING):
        assert collect_outputs("job", code / "outputs", code, tmp_path / "cell" / "outputs") == 0
    assert list((tmp_path / "cell" / "outputs").iterdir()) == [] and "symlink to /etc" in caplog.text


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_log_replaced_by_a_symlink_or_fifo_is_not_copied(tmp_path: Path, kind: str) -> None:
    log = tmp_path / "std_log.txt"
    if kind == "symlink":
        log.symlink_to("/etc/passwd")
    else:
        os.mkfifo(log)
    assert bounded(lambda: copy_log("job", log, tmp_path / "cell" / "std_log.txt"), log) is None
    assert not (tmp_path / "cell" / "std_log.txt").exists()
