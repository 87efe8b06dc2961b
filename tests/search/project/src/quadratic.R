#!/usr/bin/env Rscript
# A smooth objective for sweep tests: loss = (x - 1.3)^2 + (y + 0.7)^2, reported at steps 1..steps as
# loss * (1 + 1/step) and finally as metrics.json. With --hang_above L a trial whose final loss is above L
# keeps running after its steps until it is cancelled (at most 120 s), so early termination has a live job
# to stop; a trial at or below L finishes.
source("rjobs_metrics.R")

args <- commandArgs(trailingOnly = TRUE)
opt <- list(x = "0", y = "0", steps = "0", hang_above = "Inf", pause = "0")
for (i in seq(1, length(args), by = 2)) opt[[sub("^--", "", args[[i]])]] <- args[[i + 1]]
x <- as.numeric(opt$x)
y <- as.numeric(opt$y)
if (is.na(x) || is.na(y)) stop("x and y must be numbers, got ", opt$x, " and ", opt$y, call. = FALSE)
loss <- (x - 1.3)^2 + (y + 0.7)^2
steps <- as.integer(opt$steps)
for (step in seq_len(steps)) {
  log_metric_step(step, loss = loss * (1 + 1 / step))
  Sys.sleep(as.numeric(opt$pause))
}
if (loss > as.numeric(opt$hang_above)) {
  waited <- 0
  while (waited < 120) {
    Sys.sleep(0.1)
    waited <- waited + 0.1
  }
}
dir.create("outputs", showWarnings = FALSE)
writeLines(sprintf('{"loss": %.15g, "x": %.15g, "y": %.15g}', loss, x, y), file.path("outputs", "metrics.json"))
