"""Turn a job command template into argv (local) or a shell string (Azure) with values reaching R verbatim."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from rjobs.core.errors import InputError
from rjobs.core.values import MAX_ARG_STRLEN, argument_problem, argv_limit, value_text
from rjobs.inputs.spec import REFERENCE, JobSpec

OPERATOR_CHARS = frozenset(";&|<>")
POINTER_BYTES = 8
"""What each argument costs the kernel besides its text: its pointer in argv."""
LARGE_VALUE_FIX = "pass large or binary data as a data input (type: uri_file) and read it in R"


def unquoted_operators(command: str) -> list[str]:
    """Shell operators outside quotes: a quoted ';' is an argument, an unquoted one needs a shell."""
    found: list[str] = []
    quote: str | None = None
    escaped = False
    current = ""
    for char in command + " ":
        if escaped:
            escaped = False
        elif quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':
                escaped = True
        elif char == "\\":
            escaped = True
        elif char in "'\"":
            quote = char
        elif char in OPERATOR_CHARS:
            current += char
            continue
        if current:
            found.append(current)
            current = ""
    return found


def split_command(spec: JobSpec) -> list[str]:
    """Split the template into tokens as a POSIX shell would, refusing what needs a real shell."""
    try:
        tokens = shlex.split(spec.command, comments=False, posix=True)
    except ValueError as exc:
        raise InputError(
            spec.source, "command", f"cannot be split into arguments ({exc})", "balance the quotes"
        ) from None
    operators = unquoted_operators(spec.command)
    if operators or "\n" in spec.command:
        raise InputError(
            spec.source,
            "command",
            f"uses shell syntax ({', '.join(operators) or 'several lines'})",
            "run one program (e.g. Rscript train.R ...); put multi-step logic in the R script",
        )
    if not tokens:
        raise InputError(spec.source, "command", "is empty", "give the program to run, e.g. Rscript train.R")
    return tokens


def _substitute(token: str, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> str:
    def replace(match: object) -> str:
        kind, name = match.group(1), match.group(2)  # type: ignore[attr-defined]
        table = inputs if kind == "inputs" else outputs
        return table[name]

    return REFERENCE.sub(replace, token)


def fill(tokens: Sequence[str], inputs: Mapping[str, str], outputs: Mapping[str, str] | None = None) -> list[str]:
    """Substitute `${{inputs.x}}` and `${{outputs.x}}` inside each already split token."""
    return [_substitute(token, inputs, outputs or {}) for token in tokens]


def render_argv(spec: JobSpec, inputs: Mapping[str, str], outputs: Mapping[str, str] | None = None) -> list[str]:
    """Split first, then substitute inside each token: a value with spaces or `$(...)` stays one argument."""
    return fill(split_command(spec), inputs, outputs)


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape")) + 1


class ArgvChecker:
    """Refuses a cell whose command the kernel would not start (one argument over MAX_ARG_STRLEN, or all over
    what SC_ARG_MAX leaves once a quarter is kept for the environment). Each cell's argv is rendered only when
    the widest values of the grid could break a limit, so a big grid of small values costs nothing here."""

    def __init__(self, spec: JobSpec, widths: Mapping[str, int]) -> None:
        self.tokens = split_command(spec)
        self.defaults = {
            name: value_text(spec_input.value) if spec_input.is_literal else str(spec_input.path)
            for name, spec_input in spec.inputs.items()
        }
        self.outputs = {name: f"outputs/{name}" for name in spec.outputs}
        self.budget = argv_limit() * 3 // 4
        widest = {name: max(_size(text), widths.get(name, 0) + 1) for name, text in self.defaults.items()}
        bounds = [
            _size(token) + sum(widest.get(m.group(2), _size(m.group(0))) for m in REFERENCE.finditer(token))
            for token in self.tokens
        ]
        self.needed = max(bounds, default=0) >= MAX_ARG_STRLEN or sum(bounds) + POINTER_BYTES * len(bounds) > (
            self.budget
        )

    def check(self, source: str, params: Mapping[str, str], label: str) -> dict[str, str]:
        """The inputs R gets for these params (job defaults, then the cell's values); an InputError naming the
        source and the cell (label) when they make an argv the kernel refuses."""
        effective = {**self.defaults, **params}
        if not self.needed:
            return effective
        argv = fill(self.tokens, effective, self.outputs)
        for index, token in enumerate(argv):
            problem = argument_problem(token)
            if problem:
                raise InputError(
                    source, label, f"makes argument {index} of the command, which {problem}", LARGE_VALUE_FIX
                )
        total = sum(_size(token) + POINTER_BYTES for token in argv)
        if total > self.budget:
            raise InputError(
                source,
                label,
                f"makes a command of {total} bytes, more than this system starts ({self.budget} of SC_ARG_MAX)",
                LARGE_VALUE_FIX,
            )
        return effective


def render_shell_command(spec: JobSpec, literals: Mapping[str, str]) -> str:
    """Azure runs the command through a shell: bake literal values in, each token shell-quoted.

    Data inputs and outputs stay as ${{...}} placeholders for Azure to fill with mount paths, so
    shlex.split of the result, placeholders resolved, is exactly the argv the local backend runs.
    """
    tokens = []
    for token in split_command(spec):

        def keep_or_fill(match: object) -> str:
            kind, name = match.group(1), match.group(2)  # type: ignore[attr-defined]
            if kind == "inputs" and name in literals:
                return literals[name]
            return match.group(0)  # type: ignore[attr-defined]

        tokens.append(REFERENCE.sub(keep_or_fill, token))
    return shlex.join(tokens)


def entry_script(spec: JobSpec) -> str | None:
    """The R script the command runs (first *.R token after Rscript), to check it exists in code/."""
    tokens = split_command(spec)
    for token in tokens[1:]:
        if token.lower().endswith(".r") and not REFERENCE.search(token):
            return token
    return None
