# Template entry script for a `type: parallel` job (the R contract of rjobs' parallel step).
#
# rjobs runs it once per mini-batch as
#   Rscript parallel_template.R <program_arguments> --mini_batch <path> --output <dir> [--partition key=value ...]
# <path> is, for a folder input, a text file listing the batch's files (one path per line); for a table input
# (CSV or Parquet), a CSV holding the batch's rows (header included). With partition_keys, the batch is one
# group and its key values come as --partition key=value, once per key.
# Write the rows to append as <dir>/rows.csv (gathered into one file by append_row_to), list the items you
# could not process in <dir>/failed_items.txt (one per line; they count against error_threshold), and exit
# non-zero only when the whole batch failed. Other files written to <dir> are kept with the batch's results.
# Base R only, so the template runs anywhere R does; replace process_file() / process_rows() with your work.

parse_args <- function(args) {
  options <- list(partition = character())
  i <- 1
  while (i <= length(args)) {
    key <- sub("^--", "", args[[i]])
    value <- if (i < length(args)) args[[i + 1]] else ""
    if (key == "partition") options$partition <- c(options$partition, value) else options[[key]] <- value
    i <- i + 2
  }
  options
}

opt <- parse_args(commandArgs(trailingOnly = TRUE))
if (is.null(opt$mini_batch) || is.null(opt$output)) stop("usage: --mini_batch <path> --output <dir>")
dir.create(opt$output, recursive = TRUE, showWarnings = FALSE)

# One file of a folder input: return a data frame of rows to append (or stop() to mark the file failed).
process_file <- function(path) {
  lines <- readLines(path, warn = FALSE)
  data.frame(file = basename(path), lines = length(lines), chars = sum(nchar(lines)))
}

# The rows of a table batch: return the rows to append.
process_rows <- function(rows) {
  rows$n_fields <- ncol(rows)
  rows
}

failed <- character()
if (grepl("\\.csv$", opt$mini_batch)) {
  rows <- read.csv(opt$mini_batch, colClasses = "character", check.names = FALSE)
  result <- process_rows(rows)
  if (length(opt$partition) > 0) result$partition <- paste(opt$partition, collapse = ";")
} else {
  files <- readLines(opt$mini_batch, warn = FALSE)
  parts <- lapply(files, function(path) {
    tryCatch(process_file(path), error = function(e) {
      failed <<- c(failed, path)
      NULL
    })
  })
  result <- do.call(rbind, parts)
}

if (!is.null(result) && nrow(result) > 0) {
  write.csv(result, file.path(opt$output, "rows.csv"), row.names = FALSE)
}
if (length(failed) > 0) writeLines(failed, file.path(opt$output, "failed_items.txt"))
