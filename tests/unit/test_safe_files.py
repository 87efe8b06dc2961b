"""Reading files nobody vouches for: a FIFO, device or socket is never read (a FIFO's open blocks, /dev/zero never
ends) and a symlink is never followed out of its boundary, in listings, hashes, log tails and outputs."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.core.files import iter_outputs, tail_text
from rjobs.core.hashing import hash_tree
from rjobs.core.safe_files import NotRegularFile, list_files, open_regular
from tests.reliability.hostile import bind_socket, bounded, make_device, make_special


def hostile_folder(root: Path, opened: list[socket.socket], outside: Path) -> Path:
    """A folder with every kind of entry a job can leave: files, links in and out, a loop, FIFO, device, socket."""
    root.mkdir(parents=True)
    (root / "model.txt").write_text("model")
    (root / "sub").mkdir()
    (root / "sub" / "deep.txt").write_text("deep")
    (root / "inside.txt").symlink_to("model.txt")
    (root / "inside-dir").symlink_to("sub", target_is_directory=True)
    (root / "loop").symlink_to(".", target_is_directory=True)
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "environ").symlink_to("/proc/self/environ")
    (root / "secret").symlink_to(outside)
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    (root / "dangling").symlink_to(root / "missing")
    os.mkfifo(root / "fifo")
    make_device(root / "zero")
    bind_socket(root / "sock", opened)
    return root


def test_list_files_follows_symlinks_only_inside_the_boundary(tmp_path: Path, sockets: list[socket.socket]) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    root = hostile_folder(tmp_path / "job", sockets, outside)

    inside = bounded(lambda: list_files(root, boundary=root), root / "fifo")
    assert [name for name, _ in inside.files] == ["inside.txt", "model.txt", "inside-dir/deep.txt", "sub/deep.txt"]
    assert dict(inside.files)["inside.txt"] == (root / "model.txt").resolve()
    assert sorted(name for name, _ in inside.skipped) == [
        "dangling",
        "environ",
        "etc",
        "fifo",
        "loop",
        "passwd",
        "secret",
        "sock",
        "zero",
    ]

    unfollowed = bounded(lambda: list_files(root), root / "fifo")
    assert [name for name, _ in unfollowed.files] == ["model.txt", "sub/deep.txt"]


def test_iter_outputs_lists_regular_files_only_and_warns(
    tmp_path: Path, sockets: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    outputs = hostile_folder(tmp_path / "outputs", sockets, tmp_path)
    with caplog.at_level(logging.WARNING):
        found = bounded(lambda: list(iter_outputs(outputs)), outputs / "fifo")
    assert found == [outputs / "model.txt", outputs / "sub" / "deep.txt"]
    warned = caplog.text
    assert all(name in warned for name in ("passwd", "environ", "fifo", "zero", "sock"))
    (tmp_path / "linked").symlink_to(outputs, target_is_directory=True)
    assert list(iter_outputs(tmp_path / "linked")) == []


SPECIAL = ["fifo", "device", "socket", "symlink-to-etc-passwd", "symlink-to-fifo"]


@pytest.mark.parametrize("kind", SPECIAL)
def test_tail_text_of_anything_but_a_regular_file_is_empty_at_once(
    tmp_path: Path, sockets: list[socket.socket], kind: str
) -> None:
    log = tmp_path / "std_log.txt"
    make_special(kind, log, sockets)
    assert bounded(lambda: tail_text(log), log, tmp_path / "real-fifo") == ""


@pytest.mark.parametrize("kind", SPECIAL[:3])
def test_open_regular_refuses_special_files_without_blocking(
    tmp_path: Path, sockets: list[socket.socket], kind: str
) -> None:
    path = tmp_path / "x"
    make_special(kind, path, sockets)
    with pytest.raises(NotRegularFile):
        bounded(lambda: open_regular(path, follow_symlinks=True), path)


def test_hash_tree_skips_special_files_in_a_folder_and_refuses_one_given_as_the_path(
    tmp_path: Path, sockets: list[socket.socket]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("a,b\n1,2\n")
    clean = hash_tree(folder)
    os.mkfifo(folder / "fifo")
    make_device(folder / "zero")
    bind_socket(folder / "sock", sockets)
    assert bounded(lambda: hash_tree(folder), folder / "fifo") == clean

    os.mkfifo(tmp_path / "input.csv")
    with pytest.raises(InputError, match="FIFO"):
        bounded(lambda: hash_tree(tmp_path / "input.csv"), tmp_path / "input.csv")
