"""A cell's outputs folder as MLflow artifacts: only its regular files, never a symlink's target or a special file
(MLflow copies a folder following symlinks and opening FIFOs, so /dev/zero would hang it, /etc/passwd be logged)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rjobs.core.safe_files import Listing, copy_regular, list_files

if TYPE_CHECKING:
    from mlflow import MlflowClient

ARTIFACT_PATH = "outputs"


def outputs_listing(outputs: Path) -> Listing:
    """The folder's regular files (os.walk order, as hash_tree digests it); what else is there is warned about once."""
    listing = list_files(outputs) if outputs.is_dir() and not outputs.is_symlink() else Listing()
    listing.warn(str(outputs))
    return listing


def log_outputs(client: MlflowClient, run_id: str, outputs: Path, listing: Listing) -> None:
    """The listed files as the run's artifacts under outputs/: the folder itself when nothing was skipped, else a
    scratch folder of hard links (or copies) of the listed files only."""
    if not listing.skipped:
        client.log_artifacts(run_id, str(outputs), artifact_path=ARTIFACT_PATH)
        return
    with tempfile.TemporaryDirectory(prefix=".artifacts-", dir=outputs.parent) as scratch:
        for name, path in listing.files:
            staged = Path(scratch) / name
            staged.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, staged, follow_symlinks=False)
            except OSError:
                copy_regular(path, staged)
        client.log_artifacts(run_id, scratch, artifact_path=ARTIFACT_PATH)
