#!/usr/bin/env Rscript
# Batch scoring of the penguins model (a model.rds that train.R saved: lm or ranger), as a parallel job's
# entry script: Rscript score.R --model <model.rds> --mini_batch <rows.csv> --output <dir>.
# Writes <dir>/rows.csv (the batch's rows with a `prediction` column); rows missing a feature the model
# needs are listed in <dir>/failed_items.txt as "row <n>" and left out. Any other error fails the batch.

args <- commandArgs(trailingOnly = TRUE)
opt <- list()
for (i in seq(1, length(args), by = 2)) opt[[sub("^--", "", args[[i]])]] <- args[[i + 1]]
for (name in c("model", "mini_batch", "output")) {
  if (is.null(opt[[name]])) stop(sprintf("--%s is required", name), call. = FALSE)
}
dir.create(opt$output, recursive = TRUE, showWarnings = FALSE)

fit <- readRDS(opt$model)
rows <- read.csv(opt$mini_batch, na.strings = c("", "NA"), stringsAsFactors = TRUE)
features <- if (inherits(fit, "ranger")) {
  fit$forest$independent.variable.names
} else {
  all.vars(stats::delete.response(stats::terms(fit)))
}
missing <- setdiff(features, names(rows))
if (length(missing) > 0) stop("the data lacks column(s) the model needs: ", paste(missing, collapse = ", "), call. = FALSE)
complete <- stats::complete.cases(rows[features])
if (any(!complete)) writeLines(sprintf("row %d", which(!complete)), file.path(opt$output, "failed_items.txt"))
scored <- rows[complete, , drop = FALSE]
scored$prediction <- if (inherits(fit, "ranger")) {
  loadNamespace("ranger") # predict() finds ranger's method only once its namespace is loaded
  predict(fit, data = scored)$predictions
} else {
  predict(fit, newdata = scored)
}
write.csv(scored, file.path(opt$output, "rows.csv"), row.names = FALSE)
