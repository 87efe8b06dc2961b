"""Check that local R can run the R code before any job starts, and that the Dockerfile agrees.

Static and stdlib-only: R sources are tokenised (comments and string contents never match), the
Dockerfile is read for the usual install idioms, and local R is asked once which packages it lacks.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "BASE_PACKAGES",
    "EnvReport",
    "check_environment",
    "dockerfile_packages",
    "find_rscript",
    "install_hint",
    "missing_r_packages",
    "r_packages_used",
]

BASE_PACKAGES: frozenset[str] = frozenset(
    {
        "base",
        "compiler",
        "datasets",
        "graphics",
        "grDevices",
        "grid",
        "methods",
        "parallel",
        "splines",
        "stats",
        "stats4",
        "tcltk",
        "tools",
        "utils",
    }
)

R_SUFFIXES = frozenset({".r", ".rmd"})
OPTIONAL_PRAGMA = re.compile(r"^#+\s*envcheck:\s*optional\b", re.IGNORECASE)

_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]")
_IDENT = re.compile(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*")
_NUMBER = re.compile(r"\.?[0-9][0-9A-Za-z.]*")
_RAW_STRING_START = re.compile(r"""[rR](?P<quote>["'])(?P<dashes>-*)(?P<open>[(\[{])""")
_RAW_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_RMD_CHUNK_START = re.compile(r"^\s*```+\s*\{\s*[rR]\b")
_RMD_CHUNK_END = re.compile(r"^\s*```+\s*$")

# library(x) and require(x) take a bare name; the namespace functions only take strings.
_ATTACHERS = frozenset({"library", "require"})
_NAMESPACE_LOADERS = frozenset({"requireNamespace", "loadNamespace"})

_RSCRIPT_MARKER = "<<envcheck-missing>>"
_RSCRIPT_TIMEOUT_SECONDS = 120
_MISSING_EXPR = (
    "pkgs <- commandArgs(trailingOnly = TRUE); "
    "found <- vapply(pkgs, function(p) nzchar(system.file(package = p)), logical(1)); "
    f'cat("{_RSCRIPT_MARKER}", pkgs[!found], sep = "\\n")'
)


class _Token(NamedTuple):
    kind: str  # "ident", "string", "op" or "comment"
    value: str


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


def _loaded_package(function: str, args: list[list[_Token]]) -> str | None:
    """The package a library()/require()/requireNamespace() call loads, when it is a literal."""
    named = {arg[0].value: arg[2:] for arg in args if len(arg) > 2 and arg[1] == _Token("op", "=")}
    positional = [arg for arg in args if not (len(arg) > 2 and arg[1] == _Token("op", "="))]
    value = named.get("package") or (positional[0] if positional else None)
    if value is None or len(value) != 1:
        return None
    token = value[0]
    if token.kind == "string":
        return token.value
    character_only = named.get("character.only", [])
    by_name = function in _ATTACHERS and not any(t.value in ("TRUE", "T") for t in character_only)
    return token.value if token.kind == "ident" and by_name else None


def _packages_in_tokens(tokens: list[_Token]) -> set[str]:
    """Packages named by pkg::fn, pkg:::fn and literal library/require/requireNamespace calls."""
    found: set[str] = set()
    for k, token in enumerate(tokens):
        previous = tokens[k - 1] if k else None
        if token.kind == "op" and token.value in ("::", ":::"):
            if previous is not None and previous.kind in ("ident", "string"):
                found.add(previous.value)
        elif (
            token.kind == "ident"
            and token.value in _ATTACHERS | _NAMESPACE_LOADERS
            and k + 1 < len(tokens)
            and tokens[k + 1] == _Token("op", "(")
            and not (previous is not None and previous.kind == "op" and previous.value in "$@")
        ):
            package = _loaded_package(token.value, _call_arguments(tokens, k + 1))
            if package:
                found.add(package)
    return {p for p in found if _PACKAGE_NAME.fullmatch(p) and p not in BASE_PACKAGES}


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


def _r_files(code_dir: Path) -> list[Path]:
    return sorted(p for p in code_dir.rglob("*") if p.is_file() and p.suffix.lower() in R_SUFFIXES)


def _scan_r_file(path: Path) -> tuple[set[str], bool]:
    """Packages the file uses, and whether it marks itself `# envcheck: optional`."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".rmd":
        text = _rmd_code(text)
    tokens = list(_r_tokens(text))
    optional = any(t.kind == "comment" and OPTIONAL_PRAGMA.match(t.value) for t in tokens)
    return _packages_in_tokens([t for t in tokens if t.kind != "comment"]), optional


def r_packages_used(code_dir: Path, *, include_optional: bool = True) -> dict[str, list[str]]:
    """Map each non-base package the R code under code_dir uses to the sorted files using it.

    include_optional=False leaves out files marked `# envcheck: optional` (helpers a job may skip).
    """
    code_dir = Path(code_dir)
    usage: dict[str, set[str]] = {}
    for path in _r_files(code_dir):
        packages, optional = _scan_r_file(path)
        if optional and not include_optional:
            continue
        for package in packages:
            usage.setdefault(package, set()).add(path.relative_to(code_dir).as_posix())
    return {package: sorted(files) for package, files in sorted(usage.items())}


def _dockerfile_text(dockerfile: Path) -> str:
    """The Dockerfile's instructions with comment lines dropped and continuations joined."""
    lines = [
        line for line in Path(dockerfile).read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\[ \t]*\n", " ", "\n".join(lines))
    return joined.replace('\\"', '"').replace("\\'", "'")


_INSTALL_PACKAGES = re.compile(
    r"\b(?:install\.packages|install_cran)\(\s*(?:pkgs\s*=\s*)?(?:c\((?P<many>[^)]*)\)|(?P<q>['\"])(?P<one>[^'\"]+)(?P=q))"
)
_INSTALL_VERSION = re.compile(r"\binstall_version\(\s*(?:package\s*=\s*)?(?P<q>['\"])(?P<name>[^'\"]+)(?P=q)")
_QUOTED = re.compile(r"""(['"])([^'"]+)\1""")
_DEBIAN_R_PACKAGE = re.compile(r"(?<![\w.-])r-(?:cran|bioc)-(?P<name>[a-z0-9.]+)")
_LITTLER = re.compile(r"(?:^|[\s/;&|(])(?P<tool>install2\.r|installGithub\.r)(?P<args>[^\n;&|)]*)")
# install2.r options that consume the next argument (littler's docopt usage).
_LITTLER_VALUE_OPTIONS = frozenset(
    {"-r", "--repos", "-l", "--libloc", "-d", "--deps", "-n", "--ncpus", "-m", "--method", "-t", "--type"}
)


def _littler_arguments(args: str) -> list[str]:
    """Positional arguments of an install2.r / installGithub.r call (options and values dropped)."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    positional: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
        elif word.startswith("-"):
            skip_next = word in _LITTLER_VALUE_OPTIONS
        else:
            positional.append(word)
    return positional


def _github_package(ref: str) -> str:
    """Package name of an installGithub.r reference like user/repo[/subdir][@ref|#pr]."""
    return re.split(r"[@#]", ref, maxsplit=1)[0].rstrip("/").rsplit("/", 1)[-1]


def dockerfile_packages(dockerfile: Path) -> set[str]:
    """R packages the Dockerfile installs: install.packages, install_version, littler, r-cran-* apt.

    Debian package names are lower case, so r-cran-* installs come back lower-cased.
    """
    text = _dockerfile_text(dockerfile)
    found: set[str] = set()
    for match in _INSTALL_PACKAGES.finditer(text):
        if match["many"] is not None:
            found.update(name for _, name in _QUOTED.findall(match["many"]))
        else:
            found.add(match["one"])
    found.update(match["name"] for match in _INSTALL_VERSION.finditer(text))
    found.update(match["name"] for match in _DEBIAN_R_PACKAGE.finditer(text))
    for match in _LITTLER.finditer(text):
        for arg in _littler_arguments(match["args"]):
            found.add(_github_package(arg) if match["tool"] == "installGithub.r" else arg)
    return {name for name in found if _PACKAGE_NAME.fullmatch(name)}


def find_rscript(rscript: str = "Rscript") -> str | None:
    """Full path of the Rscript executable, or None when R is not installed (or not on PATH)."""
    return shutil.which(rscript)


def missing_r_packages(packages: Iterable[str], rscript: str = "Rscript") -> list[str]:
    """Which of packages local R does not have installed, asked in one Rscript call.

    Checks installation (system.file), not loading, so a check of many packages stays fast.
    Raises FileNotFoundError when Rscript is absent and RuntimeError when R itself fails.
    """
    wanted = sorted(set(packages))
    invalid = [p for p in wanted if not _PACKAGE_NAME.fullmatch(p)]
    to_ask = [p for p in wanted if _PACKAGE_NAME.fullmatch(p)]
    if not to_ask:
        return invalid
    executable = find_rscript(rscript)
    if executable is None:
        raise FileNotFoundError(f"Rscript not found: {rscript!r}")
    result = subprocess.run(
        [executable, "-e", _MISSING_EXPR, *to_ask],
        capture_output=True,
        text=True,
        timeout=_RSCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    lines = result.stdout.splitlines()
    if result.returncode != 0 or _RSCRIPT_MARKER not in lines:
        raise RuntimeError(f"{executable} could not check packages (exit {result.returncode}): {result.stderr.strip()}")
    reported = lines[lines.index(_RSCRIPT_MARKER) + 1 :]
    return sorted({line.strip() for line in reported if line.strip()} | set(invalid))


def install_hint(missing: Iterable[str], *, debian: bool | None = None) -> str:
    """A command that installs the missing packages on this machine (apt on Debian, else CRAN)."""
    names = sorted(set(missing))
    if not names:
        return ""
    if debian is None:
        debian = Path("/etc/debian_version").exists()
    if debian:
        return "apt-get install -y " + " ".join(sorted({f"r-cran-{name.lower()}" for name in names}))
    quoted = ", ".join(f'"{name}"' for name in names)
    return f"Rscript -e 'install.packages(c({quoted}))'"


@dataclass
class EnvReport:
    """What the R code needs versus what local R has and what the Dockerfile installs.

    missing is an error (the local run would fail); docker_only and not_in_docker are warnings.
    Packages only used by files marked `# envcheck: optional` are listed in optional, not checked.
    """

    used: dict[str, list[str]]
    docker: set[str]
    missing: list[str]
    docker_only: list[str]
    not_in_docker: list[str]
    optional: dict[str, list[str]] = field(default_factory=dict)
    rscript: str | None = None

    @property
    def ok(self) -> bool:
        """True when local R exists and has every package the code uses."""
        return self.rscript is not None and not self.missing

    def errors(self) -> list[str]:
        """Problems that make a local run fail, as sentences for a log or an exception."""
        problems: list[str] = []
        if self.rscript is None:
            problems.append("Rscript not found on PATH; install R (scripts/install-r.sh on Debian)")
        if self.missing:
            problems.append(
                f"R packages used by the code but not installed locally: {', '.join(self.missing)}"
                f" (install with: {install_hint(self.missing)})"
            )
        return problems

    def warnings(self) -> list[str]:
        """Mismatches between the code and the Dockerfile that do not stop a local run."""
        notes: list[str] = []
        if self.not_in_docker:
            notes.append(
                "R packages used by the code but not installed by the Dockerfile (jobs on Azure ML "
                f"would lack them): {', '.join(self.not_in_docker)}"
            )
        if self.docker_only:
            notes.append(f"R packages the Dockerfile installs but the code never uses: {', '.join(self.docker_only)}")
        return notes


def check_environment(code_dir: Path, dockerfile: Path | None, rscript: str = "Rscript") -> EnvReport:
    """Compare the code's packages with local R and the Dockerfile; reports, never raises on findings.

    A missing Rscript counts every used package as missing. Names are compared case-insensitively
    with the Dockerfile, because Debian's r-cran-* names are lower case.
    """
    used = r_packages_used(code_dir, include_optional=False)
    everything = r_packages_used(code_dir)
    optional = {p: files for p, files in everything.items() if p not in used}
    docker = dockerfile_packages(dockerfile) if dockerfile is not None else set()

    executable = find_rscript(rscript)
    missing = missing_r_packages(used, executable) if executable else sorted(used)

    if dockerfile is None:
        not_in_docker: list[str] = []
        docker_only: list[str] = []
    else:
        docker_lower = {name.lower() for name in docker}
        used_lower = {name.lower() for name in everything}
        not_in_docker = sorted(p for p in used if p.lower() not in docker_lower)
        docker_only = sorted(p for p in docker if p.lower() not in used_lower)
    return EnvReport(
        used=used,
        docker=docker,
        missing=missing,
        docker_only=docker_only,
        not_in_docker=not_in_docker,
        optional=optional,
        rscript=executable,
    )
