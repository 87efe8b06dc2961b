# Make the MLflow R API talk to an Azure ML workspace's tracking server from inside a job.
#
# Usage, at the top of a script that runs as an Azure ML command job:
#   source("azureml_utils.R")
#   mlflow::mlflow_log_metric("rmse", 1.23)
#
# Azure ML hands a job an MLFLOW_TRACKING_URI with the scheme "azureml://" (which the
# MLflow R client does not know) and a short-lived MLFLOW_TRACKING_TOKEN. This file
#   1. strips the query string Azure ML appends to the tracking URI,
#   2. registers an MLflow client for the "azureml" scheme that talks https to the same host,
#   3. renews the token from the run-history service whenever the client asks for credentials
#      and the current token is older than MLFLOW_TOKEN_REFRESH_INTERVAL_SECONDS (default 30).
# Renewing on use instead of on a timer needs no Tcl/Tk event loop and works under Rscript.
# Needs the R packages mlflow, httr and jsonlite, and the mlflow + azureml-mlflow Python packages
# on PATH for the artifact calls that go through the MLflow CLI.
# envcheck: optional (only scripts that log to MLflow source this; the demo environment omits mlflow)

local({
  token_state <- new.env(parent = emptyenv())
  token_state$refreshed_at <- Sys.time()

  refresh_interval <- function() {
    seconds <- suppressWarnings(as.numeric(Sys.getenv("MLFLOW_TOKEN_REFRESH_INTERVAL_SECONDS", "30")))
    if (is.na(seconds) || seconds <= 0) 30 else seconds
  }

  # The token service lives next to the tracking API: .../history/v1.0/... instead of .../mlflow/v1.0/...
  token_url <- function() {
    base <- sub("^azureml://", "https://", Sys.getenv("MLFLOW_TRACKING_URI"))
    base <- sub("/mlflow/v1.0/", "/history/v1.0/", base, fixed = TRUE)
    sprintf("%s/experimentids/%s/runs/%s/token",
            base, Sys.getenv("MLFLOW_EXPERIMENT_ID"), Sys.getenv("MLFLOW_RUN_ID"))
  }

  request_token <- function() {
    httr::GET(
      token_url(),
      httr::add_headers(Authorization = paste("Bearer", Sys.getenv("MLFLOW_TRACKING_TOKEN"))),
      httr::timeout(getOption("mlflow.rest.timeout", 30))
    )
  }

  # Retries 429s with doubling waits; returns the token or NULL.
  fetch_token <- function(max_wait_seconds) {
    response <- request_token()
    wait <- 1
    waited <- 0
    while (httr::status_code(response) == 429 && waited + wait <= max_wait_seconds) {
      Sys.sleep(wait)
      waited <- waited + wait
      wait <- wait * 2
      response <- request_token()
    }
    if (httr::status_code(response) != 200) {
      stop(sprintf("HTTP %d from the token service", httr::status_code(response)), call. = FALSE)
    }
    jsonlite::fromJSON(httr::content(response, as = "text", encoding = "UTF-8"))$token
  }

  # Best effort: on failure keep the old token and warn, so a network blip does not kill the job.
  refresh_token <- function(max_wait_seconds = 30) {
    token <- tryCatch(fetch_token(max_wait_seconds), error = function(e) {
      warning("azureml_utils: token refresh failed (", conditionMessage(e), "); keeping the current token",
              call. = FALSE)
      NULL
    })
    if (is.null(token) || !nzchar(token)) return(invisible(FALSE))
    Sys.setenv(MLFLOW_TRACKING_TOKEN = token)
    token_state$refreshed_at <- Sys.time()
    invisible(TRUE)
  }

  refresh_token_if_stale <- function() {
    age <- as.numeric(difftime(Sys.time(), token_state$refreshed_at, units = "secs"))
    if (age >= refresh_interval()) refresh_token()
  }

  optional_env <- function(name) Sys.getenv(name, NA)

  new_client_for_azureml <- function(tracking_uri) {
    host <- paste0("https://", tracking_uri$path)
    host_creds <- function() {
      refresh_token_if_stale()
      mlflow:::new_mlflow_host_creds(
        host = host,
        token = Sys.getenv("MLFLOW_TRACKING_TOKEN"),
        username = optional_env("MLFLOW_TRACKING_USERNAME"),
        password = optional_env("MLFLOW_TRACKING_PASSWORD"),
        insecure = optional_env("MLFLOW_TRACKING_INSECURE")
      )
    }
    cli_env <- function() {
      creds <- host_creds()
      env <- list(
        MLFLOW_TRACKING_TOKEN = creds$token,
        MLFLOW_TRACKING_USERNAME = creds$username,
        MLFLOW_TRACKING_PASSWORD = creds$password,
        MLFLOW_TRACKING_INSECURE = creds$insecure
      )
      env[!is.na(env)]
    }
    mlflow:::new_mlflow_client_impl(host_creds, cli_env, class = "mlflow_azureml_client")
  }

  tracking_uri <- Sys.getenv("MLFLOW_TRACKING_URI")
  if (startsWith(tracking_uri, "azureml://")) {
    Sys.setenv(MLFLOW_TRACKING_URI = sub("\\?.*$", "", tracking_uri))
    registerS3method("new_mlflow_client", "mlflow_azureml", new_client_for_azureml,
                     envir = asNamespace("mlflow"))
    tools <- c(MLFLOW_BIN = "mlflow", MLFLOW_PYTHON_BIN = "python")
    tools <- setNames(Sys.which(tools), names(tools))
    tools <- tools[nzchar(tools)]
    if (length(tools) > 0) do.call(Sys.setenv, as.list(tools))
    assign("azureml_refresh_token", refresh_token, envir = globalenv())
  } else {
    message("azureml_utils: MLFLOW_TRACKING_URI is not an azureml:// URI; leaving MLflow as configured")
  }
})
