"""A small parallel-job project on disk for tests: an R entry script whose behaviour each item's content chooses."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from rjobs.inputs.options import SweepOptions
from rjobs.parallel.engine import ParallelRun
from rjobs.parallel.summary import finish
from rjobs.parallel.wiring import build_run, prepare_parallel

SCORE_R = r"""
args <- commandArgs(trailingOnly = TRUE)
opt <- list(partition = character())
for (i in seq(1, length(args), by = 2)) {
  key <- sub("^--", "", args[[i]])
  if (key == "partition") opt$partition <- c(opt$partition, args[[i + 1]]) else opt[[key]] <- args[[i + 1]]
}
cat(basename(opt$mini_batch), "\n", file = opt$log, append = TRUE, sep = "")
dir.create(opt$output, showWarnings = FALSE, recursive = TRUE)
failed <- character()
if (grepl("\\.csv$", opt$mini_batch)) {
  rows <- read.csv(opt$mini_batch, colClasses = "character")
  if (any(rows$x == "FAILBATCH")) quit(status = 3)
  if (any(rows$x == "FAILONCE")) {
    marker <- file.path(opt$state, basename(opt$mini_batch))
    if (!file.exists(marker)) { file.create(marker); quit(status = 4) }
  }
  ok <- rows$x != "bad"
  failed <- rows$id[!ok]
  out <- data.frame(id = rows$id[ok], pred = as.numeric(rows$x[ok]) * 2)
  if (length(opt$partition) > 0) {
    out <- data.frame(partition = paste(opt$partition, collapse = ";"), n = nrow(rows), total = sum(out$pred))
  }
} else {
  files <- readLines(opt$mini_batch)
  out <- NULL
  for (path in files) {
    text <- readLines(path, warn = FALSE)
    if (identical(text, "FAILBATCH")) quit(status = 3)
    if (identical(text, "SLEEP")) Sys.sleep(60)
    if (identical(text, "WAIT")) {
      waited <- 0
      while (!file.exists(file.path(opt$state, "go")) && waited < 900) { Sys.sleep(0.1); waited <- waited + 1 }
      text <- "1"
    }
    if (identical(text, "FAILONCE")) {
      marker <- file.path(opt$state, basename(path))
      if (!file.exists(marker)) { file.create(marker); quit(status = 4) }
    }
    if (identical(text, "CORRUPT")) { failed <- c(failed, basename(path)); next }
    out <- rbind(out, data.frame(file = basename(path), value = as.numeric(text) * 2))
  }
}
if (!is.null(out) && nrow(out) > 0) write.csv(out, file.path(opt$output, "rows.csv"), row.names = FALSE)
if (length(failed) > 0) writeLines(failed, file.path(opt$output, "failed_items.txt"))
"""


def make_project(root: Path, data: dict[str, Any], **keys: Any) -> Path:
    """root/job.yml (a parallel job over `data`, other keys given), root/src/score.R, root/state, root/calls.log."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "score.R").write_text(textwrap.dedent(SCORE_R))
    (root / "state").mkdir(exist_ok=True)
    job: dict[str, Any] = {
        "type": "parallel",
        "inputs": {"data": data, "log": str(root / "calls.log"), "state": str(root / "state")},
        "outputs": {"predictions": {"type": "uri_folder"}},
        "input_data": "${{inputs.data}}",
        "max_concurrency_per_instance": 2,
        "retry_settings": {"max_retries": 1, "timeout": 60},
        "task": {
            "type": "run_function",
            "code": "src",
            "entry_script": "score.R",
            "program_arguments": "--log ${{inputs.log}} --state ${{inputs.state}}",
            "append_row_to": "${{outputs.predictions}}",
        },
    }
    job.update(keys)
    (root / "job.yml").write_text(yaml.safe_dump(job, sort_keys=False))
    return root / "job.yml"


def write_files(folder: Path, contents: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (folder / name).write_text(text + "\n")


def run_parallel(job_file: Path, run_name: str = "p") -> tuple[ParallelRun, dict[str, Any]]:
    """Prepare, run and finish a parallel job on the local backend, without Prefect."""
    options = SweepOptions(job=str(job_file), results=str(job_file.parent / "results"), run_name=run_name)
    prepared = prepare_parallel(options)
    run = build_run(prepared)
    run.run()
    return run, finish(run)


def driver_command(job_file: Path, run_name: str = "p") -> list[str]:
    """A separate orchestrator process running the job, for tests that kill it."""
    code = f"from tests.parallel.support import run_parallel; run_parallel(Path({str(job_file)!r}), {run_name!r})"
    return [sys.executable, "-c", "from pathlib import Path; " + code]


def calls(root: Path) -> list[str]:
    """The batch files R was started on, one line per start."""
    path = root / "calls.log"
    return path.read_text().split() if path.is_file() else []
