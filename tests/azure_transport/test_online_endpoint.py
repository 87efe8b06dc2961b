"""Blue-green deployment to a managed online endpoint over the fake service with the real MLClient: the endpoint and
deployment carry the image and serve.R's routes, the smoke request goes through the endpoint before traffic moves,
the previous deployment goes only after, and a failed smoke request (or image) leaves traffic where it was."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rjobs.core.errors import ServingError, SmokeTestError
from rjobs.serving.azure_endpoint import EndpointPlan, deploy
from rjobs.testing.fake_azureml.routes_online import PRIMARY_KEY, scoring_host
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport

REGISTRY = "fakeacr.azurecr.io/rjobs-serve/penguins"
ROWS = [{"flipper_length_mm": 181}, {"flipper_length_mm": 220}]


def container(status: int = 200) -> Any:
    """A stand-in for serve.R in the container: one prediction per row (status 500: a broken model)."""

    def answer(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        rows = json.loads(body)
        if status != 200:
            return status, b'{"error": "internal error while scoring; see the server log"}'
        return 200, json.dumps({"predictions": [2.0 * row["flipper_length_mm"] for row in rows]}).encode()

    return answer


def push(transport: FakeAzureMLTransport, tag: str, status: int = 200) -> EndpointPlan:
    image = f"{REGISTRY}:{tag}"
    transport.service.online.images.add(image)
    transport.service.online.containers[image] = container(status)
    return EndpointPlan("penguins", image, tag, tags={"rjobs.model": "r-penguins:3"})


def routes(transport: FakeAzureMLTransport) -> list[str]:
    """The online calls in order, the scoring host's as score:<deployment>."""
    return [r.route for r in transport.records if r.route.startswith("online_")]


def test_first_deploy_creates_the_endpoint_and_a_deployment_with_the_image_and_routes(
    ml_client: Any, transport: FakeAzureMLTransport
) -> None:
    plan = push(transport, "aaaa1111bbbb")
    outcome = deploy(ml_client, plan, ROWS)
    assert outcome.scoring_uri == f"https://{scoring_host('penguins')}/score"
    assert (outcome.deployment, outcome.created, outcome.removed) == ("d-aaaa1111bbbb", True, ())
    endpoint = ml_client.online_endpoints.get("penguins")
    assert (endpoint.auth_mode, endpoint.traffic) == ("key", {"d-aaaa1111bbbb": 100})
    deployment = ml_client.online_deployments.get("d-aaaa1111bbbb", "penguins")
    name, version = str(deployment.environment).split("/environments/")[1].split("/versions/")
    environment = ml_client.environments.get(name, version)  # the service resolves the deployment's environment
    assert environment.image == plan.image
    config = environment.inference_config
    as_dict = config if isinstance(config, dict) else config.as_dict()
    paths = {k: (v["path"], v["port"]) for k, v in as_dict.items()}  # as the service stores it (REST names)
    assert paths == {
        "livenessRoute": ("/health/live", 8000),
        "readinessRoute": ("/health/ready", 8000),
        "scoringRoute": ("/score", 8000),
    }
    assert transport.service.online.scored == [("penguins", "d-aaaa1111bbbb", 200)]
    calls = routes(transport)
    smoke = calls.index("online_endpoints.score")
    assert calls.index("online_deployments.create_or_update") < smoke
    traffic_moves = [i for i, c in enumerate(calls) if c == "online_endpoints.create_or_update"]
    assert len(traffic_moves) == 2 and traffic_moves[0] < smoke < traffic_moves[1]  # created, then traffic after smoke


def test_a_new_image_replaces_the_old_deployment_only_after_its_smoke_request(
    ml_client: Any, transport: FakeAzureMLTransport
) -> None:
    deploy(ml_client, push(transport, "aaaa1111bbbb"), ROWS)
    start = len(transport.records)
    outcome = deploy(ml_client, push(transport, "cccc2222dddd"), ROWS)
    assert (outcome.deployment, outcome.removed) == ("d-cccc2222dddd", ("d-aaaa1111bbbb",))
    calls = [r.route for r in transport.records[start:] if r.route.startswith("online_")]
    order = [c for c in calls if c.endswith(("create_or_update", "score", "delete"))]
    assert order == [
        "online_deployments.create_or_update",
        "online_endpoints.score",
        "online_endpoints.create_or_update",
        "online_deployments.delete",
    ]
    assert ml_client.online_endpoints.get("penguins").traffic == {"d-cccc2222dddd": 100}
    assert [d.name for d in ml_client.online_deployments.list("penguins")] == ["d-cccc2222dddd"]
    again = deploy(ml_client, push(transport, "cccc2222dddd"), ROWS)  # the same image: smoke again, nothing new
    assert (again.created, again.removed) == (False, ())


@pytest.mark.parametrize("broken", ["smoke", "image"])
def test_a_failed_smoke_request_or_image_leaves_traffic_where_it_was(
    ml_client: Any, transport: FakeAzureMLTransport, broken: str
) -> None:
    deploy(ml_client, push(transport, "aaaa1111bbbb"), ROWS)
    if broken == "smoke":
        plan, error = push(transport, "eeee3333ffff", status=500), SmokeTestError
    else:
        plan, error = EndpointPlan("penguins", f"{REGISTRY}:never-pushed", "never-pushed"), ServingError
    with pytest.raises(error, match=r"traffic left at \{'d-aaaa1111bbbb': 100\}"):
        deploy(ml_client, plan, ROWS)
    assert ml_client.online_endpoints.get("penguins").traffic == {"d-aaaa1111bbbb": 100}
    assert [d.name for d in ml_client.online_deployments.list("penguins")] == ["d-aaaa1111bbbb"]
    assert transport.service.online.scored[-1][1:] == (
        (plan.deployment, 500) if broken == "smoke" else ("d-aaaa1111bbbb", 200)
    )


def test_token_auth_and_no_key_no_answer(ml_client: Any, transport: FakeAzureMLTransport) -> None:
    plan = push(transport, "aaaa1111bbbb")
    token_plan = EndpointPlan("penguins-tok", plan.image, plan.tag, auth_mode="aml_token")
    outcome = deploy(ml_client, token_plan, ROWS)
    assert ml_client.online_endpoints.get("penguins-tok").auth_mode == "aml_token"
    session = transport.session
    anonymous = session.post(outcome.scoring_uri, data=json.dumps(ROWS))
    assert anonymous.status_code == 401
    wrong = session.post(outcome.scoring_uri, data=json.dumps(ROWS), headers={"Authorization": f"Bearer {PRIMARY_KEY}"})
    assert wrong.status_code == 401  # a key is no token
