"""rjobs.inputs.command: values reach R verbatim, as argv locally and through a real POSIX shell on Azure."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.core.values import value_text
from rjobs.inputs.command import entry_script, render_argv, render_shell_command, split_command
from rjobs.inputs.spec import REFERENCE, InputSpec, JobSpec, Scalar, load_job_spec

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "Rscript train.R --data ${{inputs.penguins}} --model ${{inputs.model}} --tag=${{inputs.tag}}"
DATA_PATH = "/mnt/azureml/cr/j/abc/cap/data-capability/wd/INPUT_penguins/penguins.csv"

HOSTILE = [
    pytest.param("two words", id="space"),
    pytest.param("it's", id="single-quote"),
    pytest.param('say "hi"', id="double-quote"),
    pytest.param("'\"mixed\"'", id="both-quotes"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("; echo injected", id="semicolon-command"),
    pytest.param("$(rm -rf /)", id="command-substitution"),
    pytest.param("`echo pwned`", id="backticks"),
    pytest.param("$HOME", id="variable"),
    pytest.param("é 你好", id="unicode"),
    pytest.param("--evil", id="leading-dashes"),
    pytest.param("", id="empty"),
    pytest.param("line1\nline2", id="newline"),
    pytest.param("*", id="glob"),
    pytest.param("a && b | c > d", id="operators"),
    pytest.param("back\\slash", id="backslash"),
]


def make_spec(command: str, names: tuple[str, ...] = ("penguins", "model", "tag")) -> JobSpec:
    """A JobSpec for the command, without YAML: every referenced name is a literal input."""
    inputs = {name: InputSpec(name=name, type="literal", value="x") for name in names}
    return JobSpec(source=Path("/project/job.yml"), command=command, code=None, inputs=inputs)


def azure_substitutes(command: str, data: dict[str, str]) -> str:
    """What Azure ML does to the command before its shell runs it: textual ${{inputs.x}} substitution."""
    return REFERENCE.sub(lambda m: data[m.group(2)] if m.group(1) == "inputs" else m.group(0), command)


# --- render_argv ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_render_argv_keeps_each_value_one_exact_argument(value: str) -> None:
    argv = render_argv(make_spec(TEMPLATE), {"penguins": DATA_PATH, "model": value, "tag": value})
    assert argv == ["Rscript", "train.R", "--data", DATA_PATH, "--model", value, f"--tag={value}"]


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("Rscript train.R --title 'two words'", ["Rscript", "train.R", "--title", "two words"]),
        ('Rscript train.R --title "two words"', ["Rscript", "train.R", "--title", "two words"]),
        ("Rscript train.R --x=\"a b\"'c'", ["Rscript", "train.R", "--x=a bc"]),
        ('Rscript train.R --q "it\'s"', ["Rscript", "train.R", "--q", "it's"]),
        ("Rscript train.R --e ''", ["Rscript", "train.R", "--e", ""]),
        ("Rscript   train.R\t--a  1", ["Rscript", "train.R", "--a", "1"]),
        ("Rscript train.R --m '${{inputs.model}} x'", ["Rscript", "train.R", "--m", "$(rm -rf /) x"]),
        pytest.param(
            "Rscript train.R --sep ';' --and '&&'",
            ["Rscript", "train.R", "--sep", ";", "--and", "&&"],
            id="quoted-operators",
        ),
    ],
)
def test_template_tokens_are_unquoted_like_a_shell(command: str, argv: list[str]) -> None:
    assert render_argv(make_spec(command), {"model": "$(rm -rf /)"}) == argv


def test_outputs_are_substituted_in_argv() -> None:
    spec = make_spec("Rscript train.R --out ${{outputs.model}}", names=())
    assert render_argv(spec, {}, {"model": "/tmp/out dir"}) == ["Rscript", "train.R", "--out", "/tmp/out dir"]


def test_a_value_that_looks_like_a_placeholder_is_not_substituted_again() -> None:
    argv = render_argv(make_spec(TEMPLATE), {"penguins": DATA_PATH, "model": "${{inputs.tag}}", "tag": "t"})
    assert argv[5] == "${{inputs.tag}}"


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("Rscript train.R && echo done", "&&"),
        ("Rscript train.R || true", "||"),
        ("Rscript train.R | tee log.txt", "|"),
        ("Rscript train.R ; rm -rf out", ";"),
        ("Rscript train.R > out.txt", ">"),
        ("Rscript train.R >> out.txt", ">>"),
        ("Rscript train.R < in.txt", "<"),
        ("Rscript train.R 2>&1", ">&"),
        ("Rscript train.R &", "&"),
        ("Rscript prep.R\nRscript train.R", "several lines"),
    ],
)
def test_shell_syntax_is_refused(command: str, named: str) -> None:
    with pytest.raises(InputError) as caught:
        split_command(make_spec(command))
    assert caught.value.key == "command"
    assert named in caught.value.problem
    assert "job.yml" in str(caught.value)
    assert "run one program" in caught.value.fix


@pytest.mark.parametrize("render", [render_argv, render_shell_command])
def test_both_renderers_refuse_shell_syntax(render: object) -> None:
    with pytest.raises(InputError, match="shell syntax"):
        render(make_spec("Rscript train.R && echo done"), {})  # type: ignore[operator]


@pytest.mark.parametrize(
    ("command", "problem"), [("Rscript train.R --x 'open", "cannot be split"), ("", "is empty"), ("  ", "is empty")]
)
def test_unsplittable_or_empty_command_is_refused(command: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        split_command(make_spec(command))


# --- render_shell_command: the Azure side ---------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_command_splits_to_the_same_argv_as_local(value: str) -> None:
    spec = make_spec(TEMPLATE)
    shell_command = render_shell_command(spec, {"model": value, "tag": value})
    assert "${{inputs.penguins}}" in shell_command  # the data input stays for Azure to fill
    on_azure = shlex.split(azure_substitutes(shell_command, {"penguins": DATA_PATH}))
    assert on_azure == render_argv(spec, {"penguins": DATA_PATH, "model": value, "tag": value})


@pytest.mark.parametrize("value", HOSTILE)
def test_a_real_posix_shell_receives_exactly_the_values(tmp_path: Path, value: str) -> None:
    # A file in the cwd makes an unquoted glob visible; PATH="" means even an evaluated $(rm ...) finds no rm.
    (tmp_path / "decoy.txt").write_text("x", encoding="utf-8")
    spec = make_spec(TEMPLATE)
    shell_command = azure_substitutes(
        render_shell_command(spec, {"model": value, "tag": value}), {"penguins": DATA_PATH}
    )
    result = subprocess.run(
        ["/bin/sh", "-c", "printf '%s\\0' " + shell_command],
        capture_output=True,
        cwd=tmp_path,
        env={"PATH": "", "HOME": "/nonexistent-home"},
        timeout=10,
        check=True,
    )
    received = result.stdout.decode("utf-8").split("\0")[:-1]
    assert result.stderr == b""
    assert received == render_argv(spec, {"penguins": DATA_PATH, "model": value, "tag": value})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoy.txt"]


def test_shell_command_keeps_outputs_and_unknown_inputs_as_placeholders() -> None:
    spec = make_spec("Rscript train.R --model ${{inputs.model}} --out ${{outputs.m}}", names=("model",))
    assert render_shell_command(spec, {"model": "lm"}) == "Rscript train.R --model lm --out '${{outputs.m}}'"


def test_repo_job_renders_the_same_on_both_backends() -> None:
    spec = load_job_spec(REPO / "job.yml")
    literals = {name: value_text(i.value) for name, i in spec.inputs.items() if i.is_literal and i.value is not None}
    local = render_argv(spec, {**literals, "penguins": DATA_PATH})
    assert local == [
        "Rscript", "train.R", "--data", DATA_PATH, "--model", "lm", "--features", "flipper_length_mm+species",
        "--test_fraction", "0.25", "--seed", "1",
    ]  # fmt: skip
    assert shlex.split(azure_substitutes(render_shell_command(spec, literals), {"penguins": DATA_PATH})) == local


# --- value_text and entry_script ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (0.25, "0.25"), (1, "1"), (0, "0"), (-3, "-3"), (1.5, "1.5"), ("lm", "lm")],
)
def test_value_text(value: Scalar, text: str) -> None:
    assert value_text(value) == text


@pytest.mark.parametrize(
    ("command", "script"),
    [
        ("Rscript train.R --seed 1", "train.R"),
        ("Rscript --vanilla train.R", "train.R"),
        ("Rscript src/fit.r --seed 1", "src/fit.r"),
        ("Rscript -e 'print(1)'", None),
        ("Rscript ${{inputs.model}}.R", None),
    ],
)
def test_entry_script(command: str, script: str | None) -> None:
    assert entry_script(make_spec(command)) == script


def test_entry_script_of_the_repo_job() -> None:
    spec = load_job_spec(REPO / "job.yml")
    assert entry_script(spec) == "train.R"
    assert spec.code is not None and (spec.code / "train.R").is_file()
