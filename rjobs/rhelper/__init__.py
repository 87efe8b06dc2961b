"""The R helper users source (rjobs.R) and the tiny R package around it, shipped inside the Python package so the
installed command can copy it into any project's code folder."""

from __future__ import annotations

from pathlib import Path

from rjobs.core.files import atomic_write_text

HELPER_FILE = Path(__file__).with_name("R") / "rjobs.R"
R_PACKAGE_DIR = Path(__file__).parent


def write_helper(folder: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Copy rjobs.R into folder; (path, written). An existing copy that differs is kept unless force is set."""
    target = Path(folder) / HELPER_FILE.name
    text = HELPER_FILE.read_text(encoding="utf-8")
    if target.is_file() and target.read_text(encoding="utf-8", errors="replace") == text:
        return target, False
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists and differs from this version's helper; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    return target, True
