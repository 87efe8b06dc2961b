# Many models: one linear model of body mass per partition (species), as the parallel step's entry script.
# Run as: Rscript train_partition.R --mini_batch <rows.csv> --output <dir> --partition species=<value>
# Writes <dir>/rows.csv (the partition's metrics, one row) and <dir>/model.rds; rows with missing
# measurements are listed in <dir>/failed_items.txt (they count against error_threshold).

args <- commandArgs(trailingOnly = TRUE)
opt <- list(partition = character())
for (i in seq(1, length(args), by = 2)) {
  key <- sub("^--", "", args[[i]])
  if (key == "partition") opt$partition <- c(opt$partition, args[[i + 1]]) else opt[[key]] <- args[[i + 1]]
}
dir.create(opt$output, recursive = TRUE, showWarnings = FALSE)

rows <- read.csv(opt$mini_batch, na.strings = c("", "NA"))
rows$row <- seq_len(nrow(rows))
needed <- c("body_mass_g", "flipper_length_mm", "bill_length_mm")
complete <- stats::complete.cases(rows[, needed])
if (any(!complete)) {
  writeLines(sprintf("%s row %d", paste(opt$partition, collapse = ";"), rows$row[!complete]),
             file.path(opt$output, "failed_items.txt"))
}
train <- rows[complete, ]
if (nrow(train) < 5) stop("too few complete rows to fit a model: ", nrow(train))

model <- stats::lm(body_mass_g ~ flipper_length_mm + bill_length_mm, data = train)
residuals <- stats::residuals(model)
saveRDS(model, file.path(opt$output, "model.rds"))
metrics <- data.frame(
  partition = paste(opt$partition, collapse = ";"),
  n = nrow(train),
  rmse = sqrt(mean(residuals^2)),
  r2 = summary(model)$r.squared
)
write.csv(metrics, file.path(opt$output, "rows.csv"), row.names = FALSE)
