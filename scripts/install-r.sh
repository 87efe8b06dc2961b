#!/usr/bin/env bash
# Install R and the R packages this project runs with, on Debian/Ubuntu, as root.
# Idempotent: one Rscript call finds what is missing; apt-get (update, then install) runs only then.
# optparse, jsonlite and ranger are what r_src/train.R needs; tidyverse is for the seed guide's
# penguins.R that a test runs; plumber serves a model (rjobs/serving/serve.R).
# Silent when nothing is missing; says what it installs otherwise.
set -euo pipefail

r_packages=(optparse jsonlite ranger tidyverse plumber)

missing_r_packages() {
    Rscript -e 'pkgs <- commandArgs(trailingOnly = TRUE)
                found <- vapply(pkgs, function(p) nzchar(system.file(package = p)), logical(1))
                cat(pkgs[!found], sep = "\n")' "${r_packages[@]}"
}

apt_packages=()
if command -v Rscript >/dev/null 2>&1; then
    missing=$(missing_r_packages)
else
    apt_packages+=(r-base-core)
    missing=$(printf '%s\n' "${r_packages[@]}")
fi
for package in $missing; do
    apt_packages+=("r-cran-${package,,}")
done

if ((${#apt_packages[@]} == 0)); then
    exit 0
fi
if ((EUID != 0)); then
    echo "install-r.sh: run as root to install: ${apt_packages[*]}" >&2
    exit 1
fi

echo "installing R with apt-get (a minute or two the first time): ${apt_packages[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${apt_packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-r.sh: apt-get failed installing: ${apt_packages[*]}" >&2
    exit 1
fi

still_missing=$(missing_r_packages)
if [[ -n $still_missing ]]; then
    echo "install-r.sh: still missing after install: $still_missing" >&2
    exit 1
fi
