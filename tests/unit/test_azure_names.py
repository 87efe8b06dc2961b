"""Azure ML's name rules per kind (rjobs.core.azure_names): what each accepts and refuses, and that the names the
product derives itself (slugs, job names) always pass them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rjobs.core.azure_names import RULES, check_name, valid
from rjobs.core.errors import InputError
from rjobs.core.naming import check_run_name, job_name, slug

ASSET_KINDS = ("job", "model", "environment", "data", "code")
ENDPOINT_KINDS = ("online_endpoint", "online_deployment")

# (name, accepted by the asset/job rule, accepted by the endpoint/deployment rule)
NAMES = [
    ("penguins", True, True),
    ("Penguins_2", True, False),
    ("0model", True, False),
    ("a", True, False),
    ("ab", True, False),
    ("abc", True, True),
    ("a-b-c", True, True),
    ("abc-", True, False),
    ("a.b", False, False),
    ("a.b-c", False, False),
    ("has space", False, False),
    ("a/b", False, False),
    ("quote'd", False, False),
    ("-lead", False, False),
    ("_lead", False, False),
    ("", False, False),
    ("good\n", False, False),
    ("é", False, False),
    ("x" * 32, True, True),
    ("x" * 33, True, False),
    ("x" * 255, True, False),
    ("x" * 256, False, False),
]


@pytest.mark.parametrize("kind", ASSET_KINDS)
@pytest.mark.parametrize(("name", "asset_ok", "_endpoint_ok"), NAMES)
def test_asset_and_job_names(kind: str, name: str, asset_ok: bool, _endpoint_ok: bool) -> None:
    assert valid(kind, name) is asset_ok


@pytest.mark.parametrize("kind", ENDPOINT_KINDS)
@pytest.mark.parametrize(("name", "_asset_ok", "endpoint_ok"), NAMES)
def test_endpoint_and_deployment_names(kind: str, name: str, _asset_ok: bool, endpoint_ok: bool) -> None:
    assert valid(kind, name) is endpoint_ok


@pytest.mark.parametrize(("name", "ok"), [("reliability", True), ("x" * 256, True), ("x" * 257, False), ("a b", False)])
def test_experiment_names(name: str, ok: bool) -> None:
    assert valid("experiment", name) is ok


def test_a_refused_name_is_an_input_error_naming_the_file_key_and_fix() -> None:
    with pytest.raises(InputError) as caught:
        check_name("model", "my.model", "--register-model")
    assert str(caught.value).startswith("--register-model: 'my.model': is not a valid model name; use ")
    assert caught.value.exit_code == 2


def test_every_kind_has_a_rule() -> None:
    assert set(RULES) == {*ASSET_KINDS, *ENDPOINT_KINDS, "experiment"}


@given(st.text(max_size=300))
def test_slugs_are_valid_experiment_data_and_code_names(text: str) -> None:
    """Data and code asset names are slugs of the experiment and input names: always accepted."""
    name = slug(text, limit=120)
    assert valid("data", name) and valid("code", name) and valid("experiment", name)


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,79}", fullmatch=True), st.integers(min_value=1, max_value=999))
def test_every_job_name_of_a_valid_run_is_a_valid_job_name(run: str, attempt: int) -> None:
    assert valid("job", job_name(check_run_name(run), "0123456789ab", attempt))


def test_a_run_name_with_a_trailing_newline_is_refused() -> None:
    """`re.match` with `$` accepted 'good\\n'; the whole name must match."""
    with pytest.raises(InputError, match="is not a valid run name"):
        check_run_name("good\n")


@given(st.from_regex(r"[0-9a-f]{12}", fullmatch=True))
def test_a_deployment_named_after_its_image_tag_is_a_valid_deployment_name(tag: str) -> None:
    """The build context's tag is a content hash (rjobs.serving.context); the deployment is `d-<tag>`."""
    from rjobs.serving.azure_endpoint import EndpointPlan

    assert valid("online_deployment", EndpointPlan("penguins", "image", tag).deployment)
