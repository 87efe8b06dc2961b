"""Which R packages R code uses, found statically: pkg::fn, pkg:::fn, literal library()/require() calls and
pacman::p_load(); a load whose package is a variable (character.only = TRUE) is reported as not knowable.

R sources are tokenised just enough that comments and string contents never match, with no R needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from rjobs.environment.packages import BASE_PACKAGES, is_package_name

R_SUFFIXES = frozenset({".r", ".rmd"})
OPTIONAL_PRAGMA = re.compile(r"^#+\s*envcheck:\s*optional\b", re.IGNORECASE)

_IDENT = re.compile(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*")
_NUMBER = re.compile(r"\.?[0-9][0-9A-Za-z.]*")
_RAW_STRING_START = re.compile(r"""[rR](?P<quote>["'])(?P<dashes>-*)(?P<open>[(\[{])""")
_RAW_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_RMD_CHUNK_START = re.compile(r"^\s*```+\s*\{\s*[rR]\b")
_RMD_CHUNK_END = re.compile(r"^\s*```+\s*$")

# library(x) and require(x) take a bare name; the namespace functions only take strings.
_ATTACHERS = frozenset({"library", "require"})
_NAMESPACE_LOADERS = frozenset({"requireNamespace", "loadNamespace"})
_PACMAN_LOADERS = frozenset({"p_load", "p_install"})


class _Token(NamedTuple):
    kind: str  # "ident", "string", "op" or "comment"
    value: str


class PackageUsage(NamedTuple):
    """Package -> sorted files, for the files a job needs and for every file (optional ones included); and
    file -> loads whose package is chosen at run time, which no static check can see."""

    required: dict[str, list[str]]
    everything: dict[str, list[str]]
    dynamic: dict[str, list[str]]


class _FileScan(NamedTuple):
    rel: str
    packages: set[str]
    optional: bool
    dynamic: list[str]


def _scan_quoted(source: str, start: int, quote: str) -> tuple[str, int]:
    """Return the contents of the quoted token opening at start, and the index after it."""
    i, n = start + 1, len(source)
    chars: list[str] = []
    while i < n and source[i] != quote:
        if source[i] == "\\" and i + 1 < n:
            i += 1
        chars.append(source[i])
        i += 1
    return "".join(chars), min(i + 1, n)


def _r_tokens(source: str) -> Iterator[_Token]:
    """Tokenise R just enough to tell names, strings, comments and the few operators we need apart."""
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char.isspace():
            i += 1
        elif char == "#":
            end = source.find("\n", i)
            end = n if end < 0 else end
            yield _Token("comment", source[i:end])
            i = end
        elif raw := _RAW_STRING_START.match(source, i):
            closer = _RAW_CLOSERS[raw["open"]] + raw["dashes"] + raw["quote"]
            end = source.find(closer, raw.end())
            end = n if end < 0 else end
            yield _Token("string", source[raw.end() : end])
            i = min(end + len(closer), n)
        elif char in "\"'`":
            value, i = _scan_quoted(source, i, char)
            yield _Token("ident" if char == "`" else "string", value)
        elif ident := _IDENT.match(source, i):
            yield _Token("ident", ident.group())
            i = ident.end()
        elif number := _NUMBER.match(source, i):
            i = number.end()
        elif source.startswith(":::", i):
            yield _Token("op", ":::")
            i += 3
        elif source.startswith(("::", "==", "<-", "<<-"), i):
            op = next(o for o in ("::", "==", "<<-", "<-") if source.startswith(o, i))
            yield _Token("op", op)
            i += len(op)
        else:
            yield _Token("op", char)
            i += 1


def _call_arguments(tokens: list[_Token], open_index: int) -> list[list[_Token]]:
    """Split the tokens of the call whose "(" is at open_index into top-level arguments."""
    args: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens[open_index + 1 :]:
        if token.kind == "op" and token.value in "([{":
            depth += 1
        elif token.kind == "op" and token.value in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and token == _Token("op", ","):
            args.append([])
            continue
        args[-1].append(token)
    return [arg for arg in args if arg]


def _split_named(args: list[list[_Token]]) -> tuple[dict[str, list[_Token]], list[list[_Token]]]:
    """A call's arguments as name -> tokens and the positional ones, in order."""
    named = {arg[0].value: arg[2:] for arg in args if len(arg) > 2 and arg[1] == _Token("op", "=")}
    positional = [arg for arg in args if not (len(arg) > 2 and arg[1] == _Token("op", "="))]
    return named, positional


def _is_true(tokens: list[_Token]) -> bool:
    return any(t.value in ("TRUE", "T") for t in tokens)


def _loaded_package(function: str, args: list[list[_Token]]) -> tuple[str | None, str | None]:
    """(package, None) for a literal library()/require()/requireNamespace() call; (None, call) when the package
    is a variable, so only run time knows it; (None, None) for anything else (library(help = x), no argument)."""
    named, positional = _split_named(args)
    value = named.get("package") or (positional[0] if positional else None)
    if value is None or len(value) != 1:
        return None, None
    token = value[0]
    if token.kind == "string":
        return token.value, None
    character_only = _is_true(named.get("character.only", []))
    if token.kind == "ident" and function in _ATTACHERS and not character_only:
        return token.value, None
    if token.kind == "ident":
        shown = f"{function}({token.value}, character.only = TRUE)" if character_only else f"{function}({token.value})"
        return None, shown
    return None, None


def _pacman_packages(args: list[list[_Token]]) -> tuple[set[str], list[str]]:
    """Packages of p_load(a, "b", char = c("c", "d")): bare names unless character.only = TRUE; variables are
    run-time choices."""
    named, positional = _split_named(args)
    character_only = _is_true(named.get("character.only", []))
    found: set[str] = set()
    dynamic: list[str] = []
    for tokens in [*positional, named.get("char", [])]:
        strings = [t.value for t in tokens if t.kind == "string"]
        idents = [t.value for t in tokens if t.kind == "ident" and t.value != "c"]
        found.update(strings)
        if len(tokens) == 1 and tokens[0].kind == "ident" and not character_only and tokens is not named.get("char"):
            found.add(tokens[0].value)
        elif idents and not strings:
            dynamic.append(f"p_load({', '.join(idents)}, character.only = TRUE)")
    return found, dynamic


def _packages_in_tokens(tokens: list[_Token]) -> tuple[set[str], list[str]]:
    """Packages named by pkg::fn, pkg:::fn, literal library/require/requireNamespace and pacman calls; and the
    loads whose package is a variable."""
    found: set[str] = set()
    dynamic: list[str] = []
    for k, token in enumerate(tokens):
        previous = tokens[k - 1] if k else None
        if token.kind == "op" and token.value in ("::", ":::"):
            if previous is not None and previous.kind in ("ident", "string"):
                found.add(previous.value)
        elif (
            token.kind == "ident"
            and token.value in _ATTACHERS | _NAMESPACE_LOADERS | _PACMAN_LOADERS
            and k + 1 < len(tokens)
            and tokens[k + 1] == _Token("op", "(")
            and not (previous is not None and previous.kind == "op" and previous.value in "$@")
        ):
            args = _call_arguments(tokens, k + 1)
            if token.value in _PACMAN_LOADERS:
                packages, unknown = _pacman_packages(args)
                found |= packages
                dynamic += unknown
                continue
            package, unknown_call = _loaded_package(token.value, args)
            if package:
                found.add(package)
            if unknown_call:
                dynamic.append(unknown_call)
    return {p for p in found if is_package_name(p) and p not in BASE_PACKAGES}, dynamic


def _rmd_code(text: str) -> str:
    """Keep only the R chunks of an R Markdown document; prose is not code."""
    lines: list[str] = []
    in_chunk = False
    for line in text.splitlines():
        if not in_chunk and _RMD_CHUNK_START.match(line):
            in_chunk = True
        elif in_chunk and _RMD_CHUNK_END.match(line):
            in_chunk = False
        elif in_chunk:
            lines.append(line)
    return "\n".join(lines)


def _scan_r_file(path: Path) -> tuple[set[str], bool, list[str]]:
    """Packages the file uses, whether it marks itself `# envcheck: optional`, and its run-time-chosen loads."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".rmd":
        text = _rmd_code(text)
    tokens = list(_r_tokens(text))
    optional = any(t.kind == "comment" and OPTIONAL_PRAGMA.match(t.value) for t in tokens)
    packages, dynamic = _packages_in_tokens([t for t in tokens if t.kind != "comment"])
    return packages, optional, dynamic


def _scan_tree(code_dir: Path) -> list[_FileScan]:
    """Every R or R Markdown file under code_dir, read once, in sorted order."""
    paths = sorted(p for p in code_dir.rglob("*") if p.is_file() and p.suffix.lower() in R_SUFFIXES)
    scans = []
    for path in paths:
        packages, optional, dynamic = _scan_r_file(path)
        scans.append(_FileScan(path.relative_to(code_dir).as_posix(), packages, optional, dynamic))
    return scans


def _by_package(scans: Iterable[_FileScan], *, include_optional: bool) -> dict[str, list[str]]:
    """Invert per-file scans into package -> sorted files, so a report can say where each package is used."""
    usage: dict[str, set[str]] = {}
    for scan in scans:
        if scan.optional and not include_optional:
            continue
        for package in scan.packages:
            usage.setdefault(package, set()).add(scan.rel)
    return {package: sorted(files) for package, files in sorted(usage.items())}


def r_packages_used(code_dir: Path, *, include_optional: bool = True) -> dict[str, list[str]]:
    """Map each non-base package the R code under code_dir uses to the sorted files using it.

    include_optional=False leaves out files marked `# envcheck: optional` (helpers a job may skip).
    """
    return _by_package(_scan_tree(Path(code_dir)), include_optional=include_optional)


def package_usage(code_dir: Path) -> PackageUsage:
    """Both views of r_packages_used from one read of the code: without and with optional files."""
    scans = _scan_tree(Path(code_dir))
    return PackageUsage(
        required=_by_package(scans, include_optional=False),
        everything=_by_package(scans, include_optional=True),
        dynamic={scan.rel: scan.dynamic for scan in scans if scan.dynamic and not scan.optional},
    )
