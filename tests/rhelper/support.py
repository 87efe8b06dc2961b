"""Run R code that sources the metrics helper, in a folder of its own, and read what it wrote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HELPER = REPO / "rjobs" / "rhelper" / "R" / "rjobs.R"
R_TIMEOUT_S = 120


def run_r(
    folder: Path, code: str, *, lang: str = "C.UTF-8", prelude: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Rscript on code (a UTF-8 file) in folder, after `prelude` (default: source the helper), with LANG=lang."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "script.R"
    start = f'HELPER <- "{HELPER.as_posix()}"\nsource(HELPER)\n' if prelude is None else prelude
    script.write_text(start + code, encoding="utf-8")
    env = {**os.environ, "LANG": lang, "LC_ALL": lang}
    return subprocess.run(
        ["Rscript", script.name], cwd=folder, env=env, capture_output=True, text=True, timeout=R_TIMEOUT_S, check=False
    )
