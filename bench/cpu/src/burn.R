# CPU-bound stand-in for a training script, for bench/fanout_local.py: a scalar loop of `iterations`
# steps (about 1 s on one core of the bench machine), then metrics.json as r_src/train.R writes it.
suppressPackageStartupMessages(library(optparse))

options <- parse_args(OptionParser(option_list = list(
  make_option("--iterations", type = "integer", default = 4000000L),
  make_option("--seed", type = "integer", default = 1L),
  make_option("--output", type = "character", default = "./outputs")
)))

set.seed(options$seed)
x <- runif(1)
total <- 0
for (i in seq_len(options$iterations)) {
  x <- (x * 1103515245 + 12345) %% 2147483648
  total <- total + sqrt(x) / i
}

dir.create(options$output, showWarnings = FALSE, recursive = TRUE)
cat(sprintf('{"total": %.10g, "iterations": %d}\n', total, options$iterations),
    file = file.path(options$output, "metrics.json"))
