"""Turn a job command template into argv (local) or a shell string (Azure) with values reaching R verbatim."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from rjobs.core.errors import InputError
from rjobs.inputs.spec import REFERENCE, JobSpec

OPERATOR_CHARS = frozenset(";&|<>")


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


def render_argv(spec: JobSpec, inputs: Mapping[str, str], outputs: Mapping[str, str] | None = None) -> list[str]:
    """Split first, then substitute inside each token: a value with spaces or `$(...)` stays one argument."""
    return [_substitute(token, inputs, outputs or {}) for token in split_command(spec)]


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
