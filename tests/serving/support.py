"""Real models for serving tests: r_src/train.R fitted on the demo data, and R's own predictions on given rows."""

from __future__ import annotations

import csv
import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "penguins.csv"
ALL_FEATURES = "bill_length_mm+bill_depth_mm+flipper_length_mm+species+sex"
NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year")

OFFLINE_PREDICT = r"""
args <- commandArgs(trailingOnly = TRUE)
fit <- readRDS(args[1])
if (inherits(fit, "ranger")) library(ranger)
rows <- read.csv(args[2], stringsAsFactors = TRUE)
p <- if (inherits(fit, "ranger")) predict(fit, data = rows)$predictions else predict(fit, newdata = rows)
writeLines(sprintf("%.17g", p), args[3])
"""


def train_model(dest: Path, model: str, features: str = ALL_FEATURES, seed: int = 1) -> Path:
    """Fit one model with the demo's train.R (as a cell of the sweep would: in its code folder, where it sources
    rjobs.R) and return its model.rds."""
    subprocess.run(
        ["Rscript", "train.R", "--data", str(DATA), "--model", model,
         "--features", features, "--seed", str(seed), "--output", str(dest)],
        check=True, capture_output=True, timeout=300, cwd=REPO / "r_src",
    )  # fmt: skip
    return dest / "model.rds"


def penguin_rows(features: str = ALL_FEATURES) -> list[dict[str, Any]]:
    """The demo rows complete in the features, as JSON objects (numbers as numbers, factors as text)."""
    names = features.split("+")
    rows = []
    with DATA.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if any(row[n] in ("", "NA") for n in names):
                continue
            rows.append({n: (float(row[n]) if n in NUMERIC else row[n]) for n in names})
    return rows


def offline_predictions(model: Path, rows: list[dict[str, Any]], work: Path) -> list[float]:
    """R's own predict() on the rows, read back exactly (17 significant digits)."""
    work.mkdir(parents=True, exist_ok=True)
    rows_csv, out = work / "rows.csv", work / "predictions.txt"
    with rows_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    script = work / "offline.R"
    script.write_text(OFFLINE_PREDICT, encoding="utf-8")
    subprocess.run(["Rscript", str(script), str(model), str(rows_csv), str(out)], check=True, timeout=300)
    return [float(line) for line in out.read_text(encoding="utf-8").split()]


def post(url: str, body: bytes | str, timeout: float = 90.0) -> tuple[int, dict[str, Any]]:
    """POST a body; the status and the decoded JSON answer, errors included."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
