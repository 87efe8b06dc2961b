"""rjobs.inputs.spec: the repo's job.yml as the engine reads it, and every bad job YAML as an InputError with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.inputs.spec import InputSpec, JobSpec, check_local_files, load_job_spec

REPO = Path(__file__).resolve().parents[2]
JOB_YML = REPO / "job.yml"


def write_job(tmp_path: Path, text: str, name: str = "job.yml") -> Path:
    """Write a job YAML under tmp_path and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_input_error(exc: InputError, file: Path, key: str | None, fix: str) -> None:
    """The message names the file, the key (when there is one) and says how to fix it."""
    message = str(exc)
    assert file.name in message
    assert exc.key == key
    if key is not None:
        assert key in message
    assert fix in exc.fix
    assert exc.fix in message
    assert exc.exit_code == 2


# --- the repo's own job.yml ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def repo_spec() -> JobSpec:
    return load_job_spec(JOB_YML)


def test_repo_job_command_is_one_line_with_every_input(repo_spec: JobSpec) -> None:
    assert repo_spec.command == (
        "Rscript train.R --data ${{inputs.penguins}} --model ${{inputs.model}} "
        "--features ${{inputs.features}} --test_fraction ${{inputs.test_fraction}} --seed ${{inputs.seed}}"
    )
    assert repo_spec.referenced("inputs") == ["penguins", "model", "features", "test_fraction", "seed"]
    assert repo_spec.referenced("outputs") == []


def test_repo_job_paths_are_absolute(repo_spec: JobSpec) -> None:
    assert repo_spec.source == JOB_YML
    assert repo_spec.code is not None and repo_spec.code.is_absolute()
    assert repo_spec.code == REPO / "r_src"
    assert repo_spec.base_dir == REPO


def test_repo_job_data_input(repo_spec: JobSpec) -> None:
    penguins = repo_spec.inputs["penguins"]
    assert (penguins.type, penguins.path, penguins.value) == ("uri_file", "data/penguins.csv", None)
    assert not penguins.is_literal
    assert penguins.is_local
    assert repo_spec.local_path(penguins) == REPO / "data" / "penguins.csv"


@pytest.mark.parametrize(
    ("name", "value"),
    [("model", "lm"), ("features", "flipper_length_mm+species"), ("test_fraction", "0.25"), ("seed", "1")],
)
def test_repo_job_literals_are_the_text_as_written(repo_spec: JobSpec, name: str, value: str) -> None:
    spec_input = repo_spec.inputs[name]
    assert spec_input.is_literal and not spec_input.is_local
    assert spec_input.value == value
    assert type(spec_input.value) is str


def test_repo_job_environment_compute_tags(repo_spec: JobSpec) -> None:
    assert repo_spec.environment == "azureml:r-penguins@latest"
    assert repo_spec.compute == "azureml:cpu-cluster"
    assert dict(repo_spec.tags) == {"project": "r-azure-ml", "dataset": "palmerpenguins"}
    assert dict(repo_spec.environment_variables) == {"TZ": "UTC"}
    assert repo_spec.experiment_name == "r-penguins"
    assert repo_spec.display_name == "r-penguins-body-mass"
    assert dict(repo_spec.extra) == {}


def test_repo_job_local_files_exist(repo_spec: JobSpec) -> None:
    check_local_files(repo_spec, "train.R")  # raises if code/, train.R or the data went missing


def test_with_value_binds_literal_or_path() -> None:
    literal = InputSpec(name="seed", type="literal", value="1")
    data = InputSpec(name="penguins", type="uri_file", path="data/a.csv")
    assert literal.with_value("007").value == "007"
    assert literal.with_value(7).value == "7"
    assert literal.with_value(True).value == "true"
    assert data.with_value("other.csv").path == "other.csv"
    assert data.with_value("other.csv").type == "uri_file"


# --- bad job YAML -------------------------------------------------------------------------------

GOOD_INPUTS = "inputs:\n  seed: 1\n"

BAD_JOBS = [
    pytest.param(None, None, "pass --job", id="missing-file"),
    pytest.param("command: [unclosed\n", "line 2", "fix the YAML syntax", id="invalid-yaml"),
    pytest.param("- a\n- b\n", None, "command-job schema", id="not-a-mapping"),
    pytest.param("type: pipeline\njobs: {}\n", "type", "set type: command", id="pipeline"),
    pytest.param(GOOD_INPUTS, "command", "Rscript train.R", id="missing-command"),
    pytest.param("command: '  '\n" + GOOD_INPUTS, "command", "Rscript train.R", id="blank-command"),
    pytest.param(
        "command: Rscript train.R --seed ${{inputs.sed}}\n" + GOOD_INPUTS,
        "command",
        "add sed under inputs",
        id="unknown-input",
    ),
    pytest.param(
        "command: Rscript train.R --out ${{outputs.x}}\n" + GOOD_INPUTS,
        "command",
        "add x under outputs",
        id="output-without-outputs",
    ),
    pytest.param(
        "command: Rscript train.R --seed ${{inputs.seed}}\ninputs:\n  seed:\n    type: integer\n    default: 1\n",
        "inputs.seed",
        "literals as plain values",
        id="typed-literal",
    ),
    pytest.param(
        "command: Rscript train.R --data ${{inputs.d}}\ninputs:\n  d:\n    type: uri_file\n",
        "inputs.d.path",
        "azureml:/https: URI",
        id="data-without-path",
    ),
    pytest.param(
        "command: Rscript train.R --seed ${{inputs.seed}}\ninputs:\n  seed:\n",
        "inputs.seed",
        "literal value",
        id="input-without-value",
    ),
    pytest.param("command: Rscript train.R\ninputs: [a, b]\n", "inputs", "name: value", id="inputs-not-mapping"),
    pytest.param("command: Rscript train.R\noutputs: [a]\n", "outputs", "uri_folder", id="outputs-not-mapping"),
    pytest.param("command: Rscript train.R\ntags: [a]\n", "tags", "name: value", id="tags-not-mapping"),
]


@pytest.mark.parametrize(("text", "key", "fix"), BAD_JOBS)
def test_bad_job_yaml_is_an_input_error(tmp_path: Path, text: str | None, key: str | None, fix: str) -> None:
    path = tmp_path / "my-job.yml" if text is None else write_job(tmp_path, text, "my-job.yml")
    with pytest.raises(InputError) as caught:
        load_job_spec(path)
    assert_input_error(caught.value, path, key, fix)


def test_unknown_input_message_names_the_input(tmp_path: Path) -> None:
    path = write_job(tmp_path, "command: Rscript train.R --seed ${{inputs.sed}}\n" + GOOD_INPUTS)
    with pytest.raises(InputError, match=r"\$\{\{inputs\.sed\}\} but inputs has no 'sed'"):
        load_job_spec(path)


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_dir = tmp_path / "project"
    job_dir.mkdir()
    write_job(job_dir, "command: Rscript train.R\ncode: src\ninputs:\n  d:\n    type: uri_folder\n    path: ../data\n")
    monkeypatch.chdir(tmp_path)
    spec = load_job_spec("project/job.yml")
    assert spec.source == job_dir / "job.yml"
    assert spec.code == job_dir / "src"
    assert spec.local_path(spec.inputs["d"]) == tmp_path / "data"


def test_unknown_top_level_keys_are_kept_as_extra(tmp_path: Path) -> None:
    spec = load_job_spec(write_job(tmp_path, "command: Rscript train.R\nresources:\n  instance_count: 1\nfoo: bar\n"))
    assert dict(spec.extra) == {"foo": "bar"}
    assert spec.raw["resources"] == {"instance_count": "1"}  # azure-ai-ml reads resources itself, typed


# --- check_local_files --------------------------------------------------------------------------

LOCAL_JOB = """\
command: Rscript train.R --data ${{inputs.penguins}}
code: src
inputs:
  penguins:
    type: uri_file
    path: data/penguins.csv
"""


def make_project(tmp_path: Path, *, code: bool = True, script: bool = True, data: bool = True) -> JobSpec:
    """A job folder with (optionally) its code folder, its train.R and its local data file."""
    if code:
        (tmp_path / "src").mkdir()
        if script:
            (tmp_path / "src" / "train.R").write_text("cat('hi')\n", encoding="utf-8")
    if data:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "penguins.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return load_job_spec(write_job(tmp_path, LOCAL_JOB))


def test_check_local_files_accepts_a_complete_project(tmp_path: Path) -> None:
    spec = make_project(tmp_path)
    check_local_files(spec, "train.R")
    check_local_files(spec)


@pytest.mark.parametrize(
    ("missing", "key", "fix"),
    [
        ({"code": False}, "code", "fix code:"),
        ({"script": False}, "command", "add the file to the code folder"),
        ({"data": False}, "inputs.penguins.path", "relative to the job YAML"),
    ],
    ids=["code-folder", "entry-script", "data-path"],
)
def test_check_local_files_missing(tmp_path: Path, missing: dict[str, bool], key: str, fix: str) -> None:
    spec = make_project(tmp_path, **missing)
    with pytest.raises(InputError) as caught:
        check_local_files(spec, "train.R")
    assert_input_error(caught.value, spec.source, key, fix)


def test_missing_script_is_fine_without_an_entry_script(tmp_path: Path) -> None:
    check_local_files(make_project(tmp_path, script=False))


@pytest.mark.parametrize(
    "uri",
    ["azureml:penguins:1", "azureml://datastores/workspaceblobstore/paths/p.csv", "https://example.org/p.csv"],
)
def test_remote_paths_are_not_local(tmp_path: Path, uri: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.R").write_text("1\n", encoding="utf-8")
    spec = load_job_spec(write_job(tmp_path, LOCAL_JOB.replace("data/penguins.csv", uri)))
    assert spec.inputs["penguins"].path == uri
    assert not spec.inputs["penguins"].is_local
    check_local_files(spec, "train.R")  # a remote path is never looked for on disk


# --- values as written, keys once, no aliases ---------------------------------------------------------


def test_literal_inputs_are_the_text_as_written(tmp_path: Path) -> None:
    spellings = ["010", "0x10", "1_000", "1:30", "yes", "on", "1.5e-7", ".nan", "2024-01-01", "'16'", '"true"']
    inputs = "".join(f"  v{n}: {text}\n" for n, text in enumerate(spellings))
    spec = load_job_spec(write_job(tmp_path, "command: Rscript train.R\ninputs:\n" + inputs))
    expected = [text.strip("'\"") for text in spellings]
    assert [spec.inputs[f"v{n}"].value for n in range(len(spellings))] == expected
    assert spec.raw["inputs"]["v0"] == "010"


def test_tags_and_environment_variables_are_the_text_as_written(tmp_path: Path) -> None:
    text = "command: Rscript train.R\ntags: {release: 1.10, on: yes}\nenvironment_variables: {OMP_NUM_THREADS: 01}\n"
    spec = load_job_spec(write_job(tmp_path, text))
    assert dict(spec.tags) == {"release": "1.10", "on": "yes"}
    assert dict(spec.environment_variables) == {"OMP_NUM_THREADS": "01"}


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("command: Rscript a.R\ninputs: {}\ncommand: Rscript b.R\n", 3, "command"),
        ("command: Rscript a.R\ninputs:\n  seed: 1\n  seed: 2\n", 4, "seed"),
    ],
)
def test_a_key_given_twice_is_refused_with_file_line_and_key(tmp_path: Path, text: str, line: int, key: str) -> None:
    path = write_job(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_job_spec(path)
    assert str(caught.value).startswith(f"{path}: line {line}: key {key!r} appears twice")
    assert caught.value.exit_code == 2


def test_an_alias_bomb_in_job_yml_is_refused_at_once(tmp_path: Path) -> None:
    layers = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    layers += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(9)]
    path = write_job(tmp_path, "command: Rscript a.R\n" + "\n".join(layers) + "\n")
    with pytest.raises(InputError, match=r"line 3: uses the alias \*a; write the value out in full"):
        load_job_spec(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('command: "Rscript a.R\\0"\n', "command"),
        ('command: Rscript a.R\ninputs:\n  v: "a\\0b"\n', "inputs.v"),
        ('command: Rscript a.R\nenvironment_variables:\n  X: "a\\0b"\n', "environment_variables.X"),
        ("command: Rscript a.R\ninputs:\n  v: " + "x" * 140_000 + "\n", "inputs.v"),
    ],
    ids=["nul-command", "nul-input", "nul-env", "too-long-input"],
)
def test_a_value_no_program_can_receive_is_an_input_error(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        load_job_spec(write_job(tmp_path, text))
    assert caught.value.key == key and caught.value.exit_code == 2
    assert len(str(caught.value)) < 300
