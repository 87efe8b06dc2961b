"""Deploy the serving image to an Azure ML managed online endpoint, blue-green: the new deployment is created beside the
live one with no traffic, answers a real scoring request through the endpoint (addressed to it by name), and only then
takes all traffic; the deployments that served before are removed after that. A failed smoke request removes the new
deployment and leaves traffic where it was. Auth is the endpoint's key or Azure ML token; keys are never logged.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rjobs.core.errors import InputError, ServingError, SmokeTestError
from rjobs.serving.routes import CONTAINER_PORT, LIVENESS_ROUTE, READINESS_ROUTE, SCORING_ROUTE

log = logging.getLogger(__name__)

AUTH_MODES = ("key", "aml_token")
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"
"""The smallest SKU Azure ML recommends for a general-purpose online deployment."""


@dataclass(frozen=True)
class EndpointPlan:
    """What to deploy: endpoint, the image (its tag names the deployment, so the same image is the same deployment),
    instance size and count, auth mode and the tags that say which model it serves."""

    endpoint: str
    image: str
    tag: str
    auth_mode: str = "key"
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def deployment(self) -> str:
        """d-<image tag>: 3-32 characters, a letter first, as Azure ML requires of deployment names."""
        return f"d-{self.tag[:12]}".lower()


@dataclass(frozen=True)
class DeployOutcome:
    """What a deploy did: the scoring URI, the live deployment, whether it was new, the deployments removed."""

    endpoint: str
    scoring_uri: str
    deployment: str
    created: bool
    removed: tuple[str, ...]


def inference_config() -> dict[str, dict[str, Any]]:
    """The routes Azure ML probes and forwards to in the container: serve.R's, on its port."""
    routes = {"liveness_route": LIVENESS_ROUTE, "readiness_route": READINESS_ROUTE, "scoring_route": SCORING_ROUTE}
    return {name: {"path": path, "port": CONTAINER_PORT} for name, path in routes.items()}


def endpoint_entity(plan: EndpointPlan, traffic: Mapping[str, int] | None = None) -> Any:
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    if plan.auth_mode not in AUTH_MODES:
        raise InputError("--auth-mode", plan.auth_mode, "is not an auth mode", f"use one of {', '.join(AUTH_MODES)}")
    return ManagedOnlineEndpoint(
        name=plan.endpoint,
        auth_mode=plan.auth_mode,
        description="R model served by plumber (r-azure-ml)",
        tags=dict(plan.tags),
        traffic=dict(traffic or {}),
    )


def deployment_entity(plan: EndpointPlan) -> Any:
    """A managed deployment of the image (the model is inside it), with serve.R's routes as its inference_config."""
    from azure.ai.ml.entities import Environment, ManagedOnlineDeployment

    environment = Environment(image=plan.image, inference_config=inference_config())
    return ManagedOnlineDeployment(
        name=plan.deployment,
        endpoint_name=plan.endpoint,
        environment=environment,
        instance_type=plan.instance_type,
        instance_count=plan.instance_count,
        tags={**plan.tags, "rjobs.image": plan.image},
    )


def check_answer(text: str, rows: int) -> list[Any]:
    """The smoke answer must be {"predictions": [...]} with one value per row sent."""
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {text[:200]!r}") from exc
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != rows:
        raise ValueError(f"expected {rows} predictions, got {text[:200]!r}")
    return predictions


def smoke_request(ml_client: Any, endpoint: str, deployment: str, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """One real scoring request through the endpoint, addressed to the deployment (no traffic needed)."""
    with tempfile.TemporaryDirectory(prefix="rjobs-smoke-") as folder:
        request_file = Path(folder) / "request.json"
        request_file.write_text(json.dumps(list(rows)), encoding="utf-8")
        text = ml_client.online_endpoints.invoke(
            endpoint_name=endpoint, deployment_name=deployment, request_file=str(request_file)
        )
    return check_answer(text, len(rows))


def existing_endpoint(ml_client: Any, name: str) -> Any | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return ml_client.online_endpoints.get(name)
    except ResourceNotFoundError:
        return None


def deployment_names(ml_client: Any, endpoint: str) -> list[str]:
    return sorted(d.name for d in ml_client.online_deployments.list(endpoint_name=endpoint))


def deploy(
    ml_client: Any,
    plan: EndpointPlan,
    smoke_rows: Sequence[Mapping[str, Any]],
    *,
    report: Callable[[str], None] = log.info,
) -> DeployOutcome:
    """Create or reuse the endpoint, deploy the image beside what serves, smoke-test it, move traffic, drop the old."""
    from azure.core.exceptions import HttpResponseError

    if not smoke_rows:
        raise InputError("--smoke-rows", None, "is empty", "give at least one row the model can score")
    endpoint = existing_endpoint(ml_client, plan.endpoint)
    if endpoint is None:
        report(f"creating endpoint {plan.endpoint} (auth: {plan.auth_mode})")
        endpoint = ml_client.online_endpoints.begin_create_or_update(endpoint_entity(plan)).result()
    before = {name: int(share) for name, share in (endpoint.traffic or {}).items() if int(share) > 0}
    existing = deployment_names(ml_client, plan.endpoint)
    created = plan.deployment not in existing
    if created:
        report(f"creating deployment {plan.deployment} of {plan.image} ({plan.instance_count} x {plan.instance_type})")
        try:
            ml_client.online_deployments.begin_create_or_update(deployment_entity(plan)).result()
        except HttpResponseError as exc:
            reason = str(exc.message).strip().splitlines()[0]
            detail = f"deployment {plan.deployment} could not be created ({reason}); traffic left at {before}"
            raise ServingError(plan.endpoint, detail) from exc
    try:
        predictions = smoke_request(ml_client, plan.endpoint, plan.deployment, smoke_rows)
    except Exception as exc:
        if created:
            report(f"smoke request failed; removing deployment {plan.deployment}, traffic stays {before or 'none'}")
            ml_client.online_deployments.begin_delete(name=plan.deployment, endpoint_name=plan.endpoint).result()
        detail = f"deployment {plan.deployment} failed its smoke request ({exc}); traffic left at {before or 'none'}"
        raise SmokeTestError(plan.endpoint, detail) from exc
    report(f"smoke request answered {len(predictions)} prediction(s); moving all traffic to {plan.deployment}")
    if before != {plan.deployment: 100}:
        endpoint.traffic = {plan.deployment: 100}
        endpoint = ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    removed = tuple(name for name in existing if name != plan.deployment)
    for name in removed:
        report(f"removing the previous deployment {name}")
        ml_client.online_deployments.begin_delete(name=name, endpoint_name=plan.endpoint).result()
    scoring_uri = str(getattr(endpoint, "scoring_uri", "") or "")
    if not scoring_uri:
        raise ServingError(plan.endpoint, "the endpoint has no scoring URI after the deployment")
    return DeployOutcome(plan.endpoint, scoring_uri, plan.deployment, created, removed)
