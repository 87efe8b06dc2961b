"""R printing 200 MB: the orchestrator keeps only the log's tail (in status.json's error) and its memory stays
small, measured in a subprocess driver (its VmHWM: getrusage's ru_maxrss survives exec, so it would
report the forking pytest's size), whether the log is many lines or one endless line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rjobs.core.files import LONG_LINE, tail_text
from rjobs.engine.ledger import RunLedger
from rjobs.inputs.grid import cell_id
from tests.reliability.support import write_project

REPO = Path(__file__).resolve().parents[2]
LOG_MB = 200
PEAK_RSS_LIMIT_MIB = 120  # the local driver alone peaks near 35 MiB; reading the log whole would cost 200+

LOUD_R = f"""
args <- commandArgs(trailingOnly = TRUE)
mode <- args[[match("--mode", args) + 1]]
chunk <- strrep("x", 1e6)
for (i in seq_len({LOG_MB})) cat(chunk, if (mode == "one-line") "" else "\\n", sep = "")
dir.create("outputs", showWarnings = FALSE)
writeLines('{{"mb": {LOG_MB}}}', "outputs/metrics.json")
if (mode != "ok") stop("boom after a huge log (", mode, ")")
"""


FAKE = ["--backend", "fake", "--run-commands", "--interval", "15"]
BACKENDS = [  # (driver arguments, peak RSS limit: the driver's own size plus far less than the log)
    pytest.param([], PEAK_RSS_LIMIT_MIB, id="local"),
    pytest.param(FAKE, PEAK_RSS_LIMIT_MIB + 100, id="azure-fake", marks=pytest.mark.azure_fake),  # azure-ai-ml: ~115
]


@pytest.mark.slow
@pytest.mark.r
@pytest.mark.parametrize(("backend", "limit_mib"), BACKENDS)
def test_a_200_mb_log_is_tailed_not_loaded(tmp_path: Path, backend: list[str], limit_mib: int) -> None:
    modes = ["lines", "one-line", "ok"]
    job = write_project(
        tmp_path / "project",
        script=LOUD_R,
        script_name="loud.R",
        command="Rscript loud.R --mode ${{inputs.mode}}",
        inputs={"mode": "ok"},
        grid={"mode": modes},
        azure=True,
    )
    report = tmp_path / "report.json"
    args = ["--job", str(job), "--results", str(tmp_path / "results"), "--run", "loud", "--retries", "0", *backend]
    args += ["--state", str(tmp_path / "fake-state.json")]
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tests.reliability.driver", *args, "--report", str(report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    ledger = RunLedger(tmp_path / "results", "loud")
    for mode in modes:
        cell = cell_id({"mode": mode})
        record = ledger.load(cell)
        assert record is not None
        assert os.path.getsize(ledger.log_path(cell)) >= LOG_MB * 10**6
        assert len(ledger.status_path(cell).read_bytes()) < 32 * 1024, "status.json holds more than a tail"
        if mode == "ok":
            assert (record.state, record.metrics) == ("Completed", {"mb": float(LOG_MB)})
        else:
            assert record.state == "Failed"
            assert f"boom after a huge log ({mode})" in record.error, record.error[-300:]
            assert len(record.error.encode()) <= 16 * 1024
    peak_mib = json.loads(report.read_text())["peak_rss_kib"] / 1024
    print(f"\n{LOG_MB} MB logs ({'azure fake' if backend else 'local'}): orchestrator peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < limit_mib


TAILS = [
    # (id, log bytes, tail_text keyword arguments, expected tail)
    ("fragment-dropped", b"x" * 100 + b"\nkept 1\nkept 2\n", {"max_bytes": 20}, "kept 1\nkept 2"),
    (
        "endless-line-keeps-its-end",
        b"x" * 50_000 + b"Error: boom\nExecution halted\n",
        {},
        "…" + "x" * (LONG_LINE - len("Error: boom")) + "Error: boom\nExecution halted",
    ),
    ("long-line-capped", b"y" * 5000 + b"\nshort\n", {}, "…" + "y" * LONG_LINE + "\nshort"),
    ("short-lines-kept", b"a\nb\n", {}, "a\nb"),
    ("progress-bar-carriage-returns", b"|==  |\r|=== |\r|====|\nError: x\n", {}, "|==  |\n|=== |\n|====|\nError: x"),
]


@pytest.mark.parametrize(("log", "kwargs", "expected"), [t[1:] for t in TAILS], ids=[t[0] for t in TAILS])
def test_tail_keeps_the_end_of_an_endless_line(tmp_path: Path, log: bytes, kwargs: dict, expected: str) -> None:
    path = tmp_path / "std_log.txt"
    path.write_bytes(log)
    assert tail_text(path, **kwargs) == expected
