# rjobs.R: the R side of r-azure-ml. Report a job's metrics and parameters the way the orchestrator reads
# them, name files under ./outputs, and read a finished sweep back into R.
#
#   source("rjobs.R")                      # a copy beside your script (r-azure-ml r-helper DIR writes it)
#   log_metrics(rmse = 312.5, r2 = 0.84)   # outputs/metrics.json, exact, NA/NaN/Inf as null
#   log_params(model = "lm", trees = 500)  # outputs/params.json
#   saveRDS(fit, output_path("model.rds")) # outputs/model.rds, folders created
#   sweep <- read_sweep("nightly")         # results/nightly/summary.csv, typed columns
#
# Base R only, so any image with R can source it. Numbers are written with as many digits as it takes to
# read back the same double (jsonlite's default digits = 4 rounds them), one value per name (no boxing).

# What this process logged, per file; kept when the file is sourced again, so a later call never drops earlier values.
.rjobs_state <- if (exists(".rjobs_state", inherits = FALSE) && is.environment(.rjobs_state)) {
  .rjobs_state
} else {
  new.env(parent = emptyenv())
}

# The folder outputs go to: options(rjobs.outputs = opt$output) when the script takes an --output option.
.rjobs_outputs_dir <- function() getOption("rjobs.outputs", "outputs")

output_path <- function(...) {
  dir <- .rjobs_outputs_dir()
  path <- if (...length() == 0) dir else file.path(dir, ...)
  target <- if (...length() == 0) path else dirname(path)
  dir.create(target, recursive = TRUE, showWarnings = FALSE)
  path
}

# Control characters JSON strings may not hold raw, as their escapes.
.rjobs_json_escapes <- local({
  codes <- setdiff(1:31, c(8L, 9L, 10L, 12L, 13L))
  c(
    "\\" = "\\\\", "\"" = "\\\"", "\b" = "\\b", "\t" = "\\t", "\n" = "\\n", "\f" = "\\f", "\r" = "\\r",
    stats::setNames(sprintf("\\u%04x", codes), vapply(codes, intToUtf8, ""))
  )
})

# UTF-8 bytes of a string. Text of unknown encoding is taken as it is, except in a Latin-1 locale: R reads a
# UTF-8 script's strings as unknown in a C locale, and converting those would garble them.
.rjobs_utf8_bytes <- function(text) {
  text <- as.character(text)
  if (Encoding(text) != "unknown" || isTRUE(l10n_info()[["Latin-1"]])) text <- enc2utf8(text)
  Encoding(text) <- "bytes"
  text
}

.rjobs_json_string <- function(text) {
  text <- .rjobs_utf8_bytes(text)
  for (raw in names(.rjobs_json_escapes)) {
    text <- gsub(raw, .rjobs_json_escapes[[raw]], text, fixed = TRUE, useBytes = TRUE)
  }
  paste0("\"", text, "\"")
}

# The fewest significant digits (15 to 17) that read back as the same double; no value is null.
.rjobs_json_number <- function(x) {
  if (is.na(x) || !is.finite(x)) return("null")
  if (is.integer(x)) return(as.character(x))
  for (digits in 15:16) {
    text <- sprintf("%.*g", digits, x)
    if (as.numeric(text) == x) return(text)
  }
  sprintf("%.17g", x)
}

.rjobs_json_value <- function(x) {
  if (is.logical(x)) return(if (is.na(x)) "null" else if (x) "true" else "false")
  if (is.numeric(x)) return(.rjobs_json_number(x))
  if (is.na(x)) return("null")
  .rjobs_json_string(x)
}

# Named single values from log_*(...): name = value arguments and unnamed named vectors or lists alike.
.rjobs_named_values <- function(args, caller, accept) {
  values <- list()
  arg_names <- names(args) %||% rep("", length(args))
  for (i in seq_along(args)) {
    arg <- args[[i]]
    if (nzchar(arg_names[[i]])) {
      if (length(arg) != 1) {
        stop(sprintf("%s: '%s' must be one value, got %d", caller, arg_names[[i]], length(arg)), call. = FALSE)
      }
      values[arg_names[[i]]] <- list(if (is.list(arg)) arg[[1]] else arg)
    } else {
      inner <- names(arg)
      if (is.null(inner) || any(!nzchar(inner))) {
        stop(sprintf("%s: every value needs a name, as in %s(rmse = 1.5)", caller, caller), call. = FALSE)
      }
      for (j in seq_along(arg)) values[inner[[j]]] <- list(arg[[j]])
    }
  }
  for (name in names(values)) {
    value <- values[[name]]
    if (length(value) != 1 || !accept(value)) {
      stop(sprintf("%s: '%s' must be %s", caller, name, attr(accept, "what")), call. = FALSE)
    }
  }
  values
}

`%||%` <- function(a, b) if (is.null(a)) b else a

.rjobs_is_metric <- structure(
  function(x) (is.numeric(x) && !is.complex(x)) || (is.logical(x) && is.na(x)),
  what = "one number (NA, NaN and Inf are written as null)"
)

.rjobs_is_param <- structure(
  function(x) is.atomic(x) && (is.numeric(x) || is.character(x) || is.logical(x) || is.factor(x)),
  what = "one number, string or logical"
)

# Rewrites the whole file from what this process logged so far, atomically: a reader never sees half of it.
.rjobs_write_values <- function(file, new_values) {
  path <- output_path(file)
  key <- file.path(normalizePath(dirname(path)), basename(path))
  known <- .rjobs_state[[key]] %||% list()
  known[names(new_values)] <- new_values
  .rjobs_state[[key]] <- known
  lines <- vapply(names(known), function(name) {
    value <- known[[name]]
    if (is.factor(value)) value <- as.character(value)
    paste0("  ", .rjobs_json_string(name), ": ", .rjobs_json_value(value))
  }, "")
  body <- if (length(lines) == 0) "{}\n" else paste0("{\n", paste(lines, collapse = ",\n"), "\n}\n")
  temporary <- tempfile(".rjobs-", tmpdir = dirname(path))
  connection <- file(temporary, open = "wb")
  writeBin(charToRaw(body), connection)
  close(connection)
  if (!file.rename(temporary, path)) {
    unlink(temporary)
    stop(sprintf("could not write %s", path), call. = FALSE)
  }
  invisible(path)
}

log_metrics <- function(...) {
  .rjobs_write_values("metrics.json", .rjobs_named_values(list(...), "log_metrics", .rjobs_is_metric))
}

log_params <- function(...) {
  .rjobs_write_values("params.json", .rjobs_named_values(list(...), "log_params", .rjobs_is_param))
}

# A parameter column as the values it holds: logical, integer or double when every value spells one
# (a leading zero, as in "010", keeps the column text: it is an identifier, not a number), else text.
.rjobs_typed_param <- function(text) {
  present <- text[nzchar(text)]
  blank <- !nzchar(text)
  if (length(present) == 0) return(text)
  if (all(tolower(present) %in% c("true", "false"))) {
    out <- tolower(text) == "true"
  } else if (all(grepl("^[-+]?(0|[1-9][0-9]{0,8})$", present))) {
    out <- suppressWarnings(as.integer(text))
  } else if (all(grepl("^[-+]?((0|[1-9][0-9]*)(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?$", present))) {
    out <- suppressWarnings(as.numeric(text))
  } else {
    return(text)
  }
  out[blank] <- NA
  out
}

.rjobs_number <- function(text) {
  out <- suppressWarnings(as.numeric(text))
  out[tolower(text) == "nan"] <- NaN
  out[!nzchar(text)] <- NA
  out
}

read_sweep <- function(run, results = "results") {
  candidates <- c(run, file.path(run, "summary.csv"), file.path(results, run, "summary.csv"))
  found <- candidates[file.exists(candidates) & !dir.exists(candidates)]
  if (length(found) == 0) {
    stop(sprintf("read_sweep: no summary.csv for run '%s' under '%s' (pass results = the results folder)",
                 run, results), call. = FALSE)
  }
  sweep <- utils::read.csv(found[[1]], colClasses = "character", na.strings = character(0),
                           check.names = FALSE, encoding = "UTF-8")
  for (name in names(sweep)) {
    if (startsWith(name, "param.")) {
      sweep[[name]] <- .rjobs_typed_param(sweep[[name]])
    } else if (startsWith(name, "metric.") || name == "duration_s") {
      sweep[[name]] <- .rjobs_number(sweep[[name]])
    } else if (name == "attempt") {
      sweep[[name]] <- as.integer(sweep[[name]])
    }
  }
  sweep
}
