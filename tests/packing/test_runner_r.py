"""The packed-job runner (rjobs/packing/runner.sh) with real R: K Rscript processes, each item in its own code copy
with its own outputs and log, retries, a per-item timeout, status files, a progress log, and resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from rjobs.packing.items import ProgressReader, item_dir, item_log, item_outputs, read_status
from tests.packing.support import make_pack, run_runner

pytestmark = pytest.mark.r


def events(pack: Path) -> list[tuple[str, str, int, int | None]]:
    return [(e.item_id, e.event, e.attempt, e.exit_code) for e in ProgressReader(pack / "progress.log").new_events()]


def test_items_succeed_fail_are_retried_and_time_out(tmp_path: Path) -> None:
    counter = str(tmp_path / "flaky")
    pack, command = make_pack(
        tmp_path,
        [
            ("ok", 1, 2, ["--mode", "ok", "--seed", "1"]),
            ("fail", 1, 2, ["--mode", "fail", "--seed", "2"]),
            ("flaky", 1, 2, ["--mode", "flaky", "--seed", "3", "--counter", counter]),
            ("slow", 1, 3, ["--mode", "sleep", "--seed", "4"]),
        ],
    )
    assert run_runner(command, processes=2, timeout_s=3) == 1  # an item failed: the pack's exit says so

    statuses = {item: read_status(pack, item) for item in ("ok", "fail", "flaky", "slow")}
    assert {k: (s.exit_code, s.attempt, s.timed_out) for k, s in statuses.items() if s} == {
        "ok": (0, 1, False),
        "fail": (3, 2, False),  # retried once, then out of attempts
        "flaky": (0, 2, False),  # failed once, then succeeded
        "slow": (124, 1, True),  # timed out, and a timeout is never tried again
    }
    assert (item_outputs(pack, "ok") / "metrics.json").read_text().strip() == '{"seed": 1, "score": 0.1}'
    assert (item_outputs(pack, "flaky") / "metrics.json").is_file()
    assert "fails by design" in item_log(pack, "fail").read_text()
    assert "first attempt fails" in (item_dir(pack, "flaky") / "std_log.attempt1.txt").read_text()
    assert "first attempt fails" not in item_log(pack, "flaky").read_text()  # std_log.txt is the latest attempt's
    seen = events(pack)
    assert [e for e in seen if e[1] == "done"].count(("fail", "done", 2, 3)) == 1
    assert {(item, attempt) for item, event, attempt, _ in seen if event == "start"} == {
        ("ok", 1),
        ("fail", 1),
        ("fail", 2),
        ("flaky", 1),
        ("flaky", 2),
        ("slow", 1),
    }


def test_a_rerun_of_the_pack_skips_items_that_finished(tmp_path: Path) -> None:
    pack, command = make_pack(
        tmp_path,
        [("ok", 1, 1, ["--mode", "ok", "--seed", "1"]), ("fail", 1, 1, ["--mode", "fail", "--seed", "2"])],
    )
    assert run_runner(command) == 1
    finished = (item_dir(pack, "ok") / "status").stat().st_mtime_ns, (item_outputs(pack, "ok") / "args.txt").read_text()
    reader = ProgressReader(pack / "progress.log")
    reader.new_events()

    assert run_runner(command) == 1
    again = [(e.item_id, e.event) for e in reader.new_events()]
    assert ("ok", "skip") in again and ("ok", "start") not in again
    assert ("fail", "start") in again
    assert (item_dir(pack, "ok") / "status").stat().st_mtime_ns == finished[0]
    assert (item_outputs(pack, "ok") / "args.txt").read_text() == finished[1]


def test_items_run_side_by_side_each_in_its_own_copy_with_values_verbatim(tmp_path: Path) -> None:
    gate = str(tmp_path / "met")
    odd = "a b  $(touch pwned) 'q' \"dq\" ; `x`"
    pack, command = make_pack(
        tmp_path,
        [
            ("one", 1, 1, ["--mode", "meet", "--seed", "1", "--other", "2", "--gate", gate, "--counter", odd]),
            ("two", 1, 1, ["--mode", "meet", "--seed", "2", "--other", "1", "--gate", gate]),
        ],
    )
    assert run_runner(command, processes=2) == 0  # each waits for the other to start: only two at once pass
    args = (item_outputs(pack, "one") / "args.txt").read_text().splitlines()
    assert args[args.index("--counter") + 1] == odd
    assert not any(p.name == "pwned" for p in tmp_path.rglob("pwned"))
    assert item_outputs(pack, "one") != item_outputs(pack, "two")
    assert (item_outputs(pack, "two") / "args.txt").read_text().splitlines()[3] == "2"
