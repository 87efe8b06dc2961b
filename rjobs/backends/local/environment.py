"""A local job's environment is an allowlist, the contract an Azure job has: it sees job.yml's environment_variables,
what R needs to run, and the names the user passes with --pass-env; nothing else of the orchestrator's environment
(cloud keys, database URLs, tokens) reaches R, its log, error tails, the results or MLflow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

from rjobs.core.errors import InputError

log = logging.getLogger(__name__)

R_NEEDS = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR"})
"""Names R needs to start, find its libraries and temp space, and speak the user's language."""
R_NEEDS_PREFIXES = ("LC_", "R_", "RJOBS_")
"""Locale categories, R's own settings (R_LIBS_USER, R_HOME, ...), and this project's RJOBS_* (RJOBS_MARKER,
RJOBS_PAUSE, RJOBS_BARRIER, RJOBS_CANCEL_GRACE_S for the supervisor, ...)."""
DEFAULT_TZ = "UTC"
"""Azure compute runs in UTC; a local job does too unless job.yml or --pass-env TZ says otherwise."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_pass_env(names: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """--pass-env names, checked: NAME=value is refused (the value would land in the flow's parameters); a name this
    shell does not set is a warning, since the job then simply lacks it."""
    checked = []
    for name in names:
        if not ENV_NAME.fullmatch(name):
            raise InputError(
                "--pass-env",
                name,
                "is not an environment variable name",
                "pass the name only, e.g. --pass-env MY_TOKEN, and set its value in this shell",
            )
        if name not in environ:
            log.warning("--pass-env %s: not set in this environment, so the local job will not have it", name)
        checked.append(name)
    return tuple(dict.fromkeys(checked))


def job_environment(
    environ: Mapping[str, str],
    declared: Mapping[str, str],
    pass_env: Sequence[str] = (),
    job_name: str | None = None,
) -> dict[str, str]:
    """What R needs from environ, TZ=UTC, the --pass-env names from environ, then job.yml's environment_variables
    (declared: they win, as on Azure) and RJOBS_JOB_NAME."""
    env = {k: v for k, v in environ.items() if k in R_NEEDS or k.startswith(R_NEEDS_PREFIXES)}
    env["TZ"] = DEFAULT_TZ
    env.update({name: environ[name] for name in pass_env if name in environ})
    env.update({str(k): str(v) for k, v in declared.items()})
    if job_name is not None:
        env["RJOBS_JOB_NAME"] = job_name
    return env
