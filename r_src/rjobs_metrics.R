# Intermediate metrics for early termination, read by the orchestrator while the job runs.
#
# Usage, in a script that runs as a trial of a sweep job:
#   source("rjobs_metrics.R")
#   for (epoch in 1:10) { ...; log_metric_step(epoch, rmse = current_rmse) }
#
# Each call appends one line {"step": n, "<metric>": value, ...} to outputs/metrics.jsonl. The local
# backend reads the file while the job runs; on Azure ML it is read from the job's outputs. A
# non-finite value is written as null and ignored. Base R only: no package to install.

log_metric_step <- function(step, ..., path = file.path("outputs", "metrics.jsonl")) {
  metrics <- list(...)
  if (length(step) != 1 || !is.numeric(step) || is.na(step) || step != round(step)) {
    stop("log_metric_step: step must be one whole number, e.g. log_metric_step(3, rmse = 0.5)", call. = FALSE)
  }
  if (length(metrics) == 0 || is.null(names(metrics)) || any(!nzchar(names(metrics)))) {
    stop("log_metric_step: give named metrics, e.g. log_metric_step(3, rmse = 0.5)", call. = FALSE)
  }
  values <- vapply(metrics, function(value) {
    if (!is.numeric(value) || length(value) != 1) {
      stop("log_metric_step: each metric must be one number", call. = FALSE)
    }
    if (is.finite(value)) sprintf("%.15g", value) else "null"
  }, character(1))
  keys <- gsub("([\"\\\\])", "\\\\\\1", names(metrics))
  line <- sprintf("{\"step\": %.0f, %s}\n", step, paste(sprintf("\"%s\": %s", keys, values), collapse = ", "))
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  cat(line, file = path, append = TRUE)
  invisible(NULL)
}
