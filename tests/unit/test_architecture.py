"""The layout's rules, checked on the source: modules small, no import cycles, layers pointing one way
(flows -> tasks -> rjobs; inside rjobs, no Prefect), nothing outside tests/ importing tests/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("rjobs", "flows", "tasks")
MAX_LINES = 350


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path) -> Iterator[str]:
    """Every module an import statement names, at any depth (a lazy import is still a dependency), except those
    under `if TYPE_CHECKING:`, which only annotations see."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {dep for dep in imported(path) if dep in known and dep != name} for name, path in known.items()}


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("rjobs", ("prefect", "flows", "tasks", "tests")),
        ("tasks", ("flows", "tests")),
        ("flows", ("tests",)),
    ],
)
def test_layers_point_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        name: sorted({dep for dep in imported(path) if dep.split(".")[0] in forbidden})
        for name, path in modules().items()
        if name.split(".")[0] == layer
    }
    assert {name: deps for name, deps in wrong.items() if deps} == {}


def test_bench_does_not_import_tests() -> None:
    wrong = [path.name for path in (REPO / "bench").rglob("*.py") if any(d.startswith("tests") for d in imported(path))]
    assert wrong == []
