#!/usr/bin/env Rscript
# Predict penguin body mass (body_mass_g) from chosen columns with lm or ranger.
# Contract with the orchestrator: one optparse option per job input, everything written
# under --output, metrics.json is flat name -> number (rjobs.R's log_metrics), any error exits non-zero.

suppressPackageStartupMessages(library(optparse))
source("rjobs.R")  # log_metrics(), log_params(), output_path(): the R side of r-azure-ml

target <- "body_mass_g"
models <- c("lm", "ranger")

option_list <- list(
  make_option("--data", type = "character", default = NULL,
              help = "Path to the penguins csv (required)"),
  make_option("--model", type = "character", default = "lm",
              help = "Model to fit: lm or ranger [default %default]"),
  make_option("--features", type = "character", default = "flipper_length_mm",
              help = "'+'-separated predictor columns [default %default]"),
  make_option("--test_fraction", type = "double", default = 0.25,
              help = "Share of rows held out for testing, 0 < x < 1 [default %default]"),
  make_option("--seed", type = "integer", default = 1L,
              help = "Random seed for the split and for ranger [default %default]"),
  make_option("--output", type = "character", default = "./outputs",
              help = "Directory for metrics.json, model.rds and the plot [default %default]")
)

# stop() without the call, so the message on stderr reads as a sentence, not a traceback.
fail <- function(...) stop(sprintf(...), call. = FALSE)

# optparse only warns on a non-numeric value and passes the string through, so coerce here.
validate_options <- function(opt) {
  raw <- opt
  opt$test_fraction <- suppressWarnings(as.numeric(opt$test_fraction))
  opt$seed <- suppressWarnings(as.integer(opt$seed))
  if (is.null(opt$data) || !nzchar(opt$data)) fail("--data is required")
  if (!file.exists(opt$data)) fail("--data file not found: %s", opt$data)
  if (!opt$model %in% models) {
    fail("unknown --model '%s' (expected one of: %s)", opt$model, paste(models, collapse = ", "))
  }
  if (is.na(opt$test_fraction) || opt$test_fraction <= 0 || opt$test_fraction >= 1) {
    fail("--test_fraction must be a number strictly between 0 and 1, got '%s'", raw$test_fraction)
  }
  if (is.na(opt$seed)) fail("--seed must be an integer, got '%s'", raw$seed)
  invisible(opt)
}

parse_features <- function(spec, columns) {
  features <- trimws(strsplit(spec, "+", fixed = TRUE)[[1]])
  features <- unique(features[nzchar(features)])
  if (length(features) == 0) fail("--features is empty")
  if (target %in% features) fail("--features must not include the target column %s", target)
  unknown <- setdiff(features, columns)
  if (length(unknown) > 0) {
    fail("unknown feature column(s): %s (available: %s)",
         paste(unknown, collapse = ", "), paste(setdiff(columns, target), collapse = ", "))
  }
  features
}

fit_model <- function(model, formula, train, seed) {
  switch(model,
    lm = stats::lm(formula, data = train),
    ranger = ranger::ranger(formula, data = train, num.threads = 1, seed = seed)
  )
}

# The columns the model reads, as served: numeric, or categorical with the training levels (rjobs/serving/serve.R
# builds factors with these levels, so a request's rows are coded as the training rows were).
input_schema <- function(train, features) {
  lapply(features, function(name) {
    column <- train[[name]]
    if (is.numeric(column)) list(name = name, type = "numeric", levels = NULL)
    else list(name = name, type = "categorical", levels = levels(as.factor(column)))
  })
}

predict_model <- function(fit, test) {
  if (inherits(fit, "ranger")) predict(fit, data = test)$predictions else predict(fit, newdata = test)
}

regression_metrics <- function(actual, predicted, n_train) {
  residuals <- actual - predicted
  list(
    rmse = sqrt(mean(residuals^2)),
    mae = mean(abs(residuals)),
    r2 = 1 - sum(residuals^2) / sum((actual - mean(actual))^2),
    n_train = n_train,
    n_test = length(actual)
  )
}

plot_pred_vs_actual <- function(path, actual, predicted, model, features) {
  png(path, width = 800, height = 800, res = 120, type = "cairo")
  on.exit(dev.off())
  limits <- range(actual, predicted)
  title <- sprintf("%s: %s ~ %s (test set)", model, target, paste(features, collapse = " + "))
  plot(actual, predicted, xlim = limits, ylim = limits, pch = 19, col = "#1f77b480",
       xlab = "Actual body mass (g)", ylab = "Predicted body mass (g)",
       main = paste(strwrap(title, width = 50), collapse = "\n"), cex.main = 0.95)
  abline(0, 1, lty = 2, col = "grey40")
}

main <- function() {
  opt <- validate_options(suppressWarnings(parse_args(OptionParser(option_list = option_list))))

  penguins <- read.csv(opt$data, stringsAsFactors = TRUE)
  if (!target %in% names(penguins)) fail("target column %s not found in %s", target, opt$data)
  features <- parse_features(opt$features, names(penguins))
  penguins <- droplevels(penguins[stats::complete.cases(penguins[c(target, features)]), ])

  n <- nrow(penguins)
  set.seed(opt$seed)
  is_test <- seq_len(n) %in% sample.int(n, size = round(n * opt$test_fraction))
  train <- penguins[!is_test, ]
  test <- penguins[is_test, ]
  if (nrow(train) < 2 || nrow(test) < 2) {
    fail("too few rows after the split (train %d, test %d); adjust --test_fraction", nrow(train), nrow(test))
  }

  formula <- stats::reformulate(features, response = target)
  fit <- fit_model(opt$model, formula, train, opt$seed)
  predicted <- predict_model(fit, test)
  metrics <- regression_metrics(test[[target]], predicted, nrow(train))

  options(rjobs.outputs = opt$output)
  log_params(model = opt$model, features = paste(features, collapse = "+"), seed = opt$seed,
             test_fraction = opt$test_fraction)
  log_metrics(metrics)
  attr(fit, "input_schema") <- input_schema(train, features)
  saveRDS(fit, output_path("model.rds"))
  plot_pred_vs_actual(output_path("pred_vs_actual.png"), test[[target]], predicted, opt$model, features)

  cat(sprintf("%s on %s: rmse=%.1f mae=%.1f r2=%.3f (n_train=%d, n_test=%d)\n",
              opt$model, paste(features, collapse = "+"), metrics$rmse, metrics$mae, metrics$r2,
              metrics$n_train, metrics$n_test))
}

tryCatch(main(), error = function(e) {
  message("train.R: error: ", conditionMessage(e))
  quit(save = "no", status = 1)
})
