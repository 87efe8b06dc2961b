"""YAML as the user wrote it: each scalar is its source text (YAML 1.1 typing would turn `010` into 8 and `yes`
into true before R sees it), keys are unique, aliases are refused and nesting is bounded, errors name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rjobs.core.errors import InputError

NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 64
"""Deeper nesting than any job, grid or environment file needs; the composer recurses, so it is bounded."""
MAX_BYTES = 16 * 1024 * 1024
"""Larger than any hand-written job or grid file; a bigger one is a mistake, not a sweep."""


class Refused(yaml.MarkedYAMLError):
    """Something SafeLoader would accept but we do not: an alias, a repeated key, runaway nesting."""

    def __init__(self, mark: yaml.Mark, problem: str, fix: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


class SourceLoader(yaml.SafeLoader):
    """SafeLoader's scanner, parser and resolver with a stricter composer: no aliases (so no alias bombs),
    at most MAX_DEPTH levels, and no key twice in one mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise Refused(
                event.start_mark,
                f"uses the alias *{event.anchor}",
                "write the value out in full: job, grid and environment files take no anchors or aliases",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise Refused(self.peek_event().start_mark, f"nests deeper than {MAX_DEPTH} levels", "flatten it")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        first_line: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                raise Refused(key.start_mark, "has a key that is a list or mapping", "use plain names as keys")
            if key.tag == MERGE_TAG:
                raise Refused(key.start_mark, "uses a merge key (<<)", "write the keys out in full")
            if key.value in first_line:
                raise Refused(
                    key.start_mark,
                    f"key {key.value!r} appears twice (first on line {first_line[key.value]})",
                    "keep one of them: the second would silently replace the first",
                )
            first_line[key.value] = key.start_mark.line + 1
        return node


def source_tree(node: Node | None) -> Any:
    """Mappings and lists as dicts and lists; every scalar as its text (a plain scalar's source text, a quoted
    one's string); null (`~`, `null`, nothing) as None. Keys are texts too, so `1:` and `"1":` are one key."""
    if node is None:
        return None
    if isinstance(node, ScalarNode):
        return None if node.tag == NULL_TAG else node.value
    if isinstance(node, SequenceNode):
        return [source_tree(item) for item in node.value]
    return {key.value: source_tree(value) for key, value in node.value}


def parse_yaml(text: str, source: str | Path) -> Any:
    """The source tree of one YAML document; any problem is an InputError naming the source and the line."""
    loader = SourceLoader(text)
    try:
        return source_tree(loader.get_single_node())
    except Refused as exc:
        raise _error(source, exc, exc.fix) from None
    except yaml.YAMLError as exc:
        raise _error(source, exc, "fix the YAML syntax") from None
    finally:
        loader.dispose()


def _error(source: str | Path, exc: yaml.YAMLError, fix: str) -> InputError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = f"line {mark.line + 1}" if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, Refused):
        return InputError(source, line, problem, fix)
    return InputError(source, line, f"is not valid YAML ({problem})", fix)


def read_yaml_file(path: Path, missing_fix: str) -> Any:
    """Read a YAML file we were pointed at: absent, not a regular file, too big or not UTF-8 are InputErrors."""
    try:
        info = path.stat()
    except OSError:
        raise InputError(path, None, "file not found", missing_fix) from None
    if not path.is_file():
        raise InputError(path, None, "is not a regular file", missing_fix)
    if info.st_size > MAX_BYTES:
        raise InputError(path, None, f"is {info.st_size} bytes, more than a YAML file of ours may be", missing_fix)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"cannot be read ({exc.strerror})", missing_fix) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, f"line {line}", "is not UTF-8 text", "save the file as UTF-8") from None
    return parse_yaml(text, path)
