"""The names Azure ML accepts, one rule per kind, taken from the service's REST API specification and the SDK, so a
bad name is an input error before anything runs and the fake service refuses exactly what the service would.

Sources (azure-ai-ml 1.35.2, the version uv.lock installs):
- Assets and jobs: the REST API specification of Microsoft.MachineLearningServices gives workspaces/jobs, /models,
  /environments, /data, /codes, /onlineEndpoints and /onlineEndpoints/deployments one name pattern,
  ``^[a-zA-Z0-9][a-zA-Z0-9\\-_]{0,254}$``, unchanged in every api-version the SDK calls (azure/ai/ml/_ml_client.py:
  jobs, data and environments on 2023-04-01-preview, code on 2023-04-01, models on 2023-08-01-preview, online
  endpoints on 2022-02-01-preview) and in every stable one from 2022-05-01 to 2025-09-01 (as rendered in
  Azure/bicep-types-az generated/machinelearningservices/.../<api-version>/types.md). The SDK's own TypeSpec client
  (azure/ai/ml/_restclient/arm_ml_service, api-version 2025-12-01) no longer carries the pattern, so we keep it.
- A job is also a run-history run: azure/ai/ml/_restclient/runhistory/operations/_runs_operations.py checks run ids
  against ``^[a-zA-Z0-9][\\w-]{0,255}$``, which the ARM pattern above is inside of.
- Online endpoints and deployments: the SDK refuses, before any request, a name outside 3-32 characters or
  ``EndpointConfigurations.NAME_REGEX_PATTERN`` = ``^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$``
  (azure/ai/ml/constants/_endpoint.py, applied in azure/ai/ml/entities/_endpoint/_endpoint_helpers.py).
- Experiments: neither the SDK (azure/ai/ml/_schema/job/base_job.py: ``experiment_name = fields.Str()``) nor the
  run-history client (_experiments_operations.py) states a pattern; an experiment's runs are run-history runs, so the
  run-id pattern above applies, in ASCII (Python's ``\\w`` is Unicode, the service's is not documented as such).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rjobs.core.errors import InputError

ASSET_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}"
ASSET_FIX = "use 1-255 letters, digits, '-' or '_', starting with a letter or digit (no '.', no spaces)"
ENDPOINT_PATTERN = r"(?=.{3,32}$)[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?"
ENDPOINT_FIX = "use 3-32 letters, digits or '-', starting with a letter and not ending with '-'"


@dataclass(frozen=True)
class NameRule:
    """One kind's rule: the whole name must match `pattern`; `fix` says how to write one that does."""

    kind: str
    pattern: re.Pattern[str]
    fix: str

    def accepts(self, name: object) -> bool:
        return isinstance(name, str) and self.pattern.fullmatch(name) is not None


def _rule(kind: str, pattern: str, fix: str) -> NameRule:
    return NameRule(kind, re.compile(pattern, re.ASCII), fix)


RULES: dict[str, NameRule] = {
    "job": _rule("job", ASSET_PATTERN, ASSET_FIX),
    "model": _rule("model", ASSET_PATTERN, ASSET_FIX),
    "environment": _rule("environment", ASSET_PATTERN, ASSET_FIX),
    "data": _rule("data asset", ASSET_PATTERN, ASSET_FIX),
    "code": _rule("code asset", ASSET_PATTERN, ASSET_FIX),
    "experiment": _rule(
        "experiment",
        r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,255}",
        "use 1-256 letters, digits, '-' or '_', letter or digit first",
    ),
    "online_endpoint": _rule("online endpoint", ENDPOINT_PATTERN, ENDPOINT_FIX),
    "online_deployment": _rule("online deployment", ENDPOINT_PATTERN, ENDPOINT_FIX),
}
"""Keyed by kind; the service's route kinds (models, environments, data, codes) map here through ASSET_KINDS."""

ASSET_KINDS = {"models": "model", "environments": "environment", "data": "data", "codes": "code"}


def valid(kind: str, name: object) -> bool:
    """Whether Azure ML accepts `name` for this kind."""
    return RULES[kind].accepts(name)


def check_name(kind: str, name: object, file: str | Path | None, key: str | None = None) -> str:
    """The name, or an InputError naming the file (or flag), the key (or the name itself), the rule and the fix."""
    rule = RULES[kind]
    if not rule.accepts(name):
        problem = f"is not a valid {rule.kind} name" if key is None else f"{name!r} is not a valid {rule.kind} name"
        raise InputError(file, repr(name) if key is None else key, problem, rule.fix)
    return str(name)


def refusal(kind: str, name: object) -> str | None:
    """The service's message for a name it refuses (400 UserError), or None when it accepts it."""
    rule = RULES[kind]
    if rule.accepts(name):
        return None
    return f"{rule.kind.capitalize()} name {name!r} is invalid: it must match {rule.pattern.pattern}."
