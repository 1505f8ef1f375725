"""Load YAML safely, keeping the line and column of every value for error messages.

PyYAML's composer (libyaml's C one where available) builds a node tree with marks; we turn it into
plain Python values ourselves so that we can refuse what a curated file never needs: object tags,
aliases (the "billion laughs" bomb), duplicate keys (silently last-wins otherwise), absurd sizes.
Timestamps stay strings: dates are parsed by the models, which keep their precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from graph.constants import MAX_YAML_BYTES, MAX_YAML_DEPTH
from graph.errors import Problem

try:  # libyaml's C composer is ten times faster; the pure one gives the same nodes and marks.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP}


@dataclass
class Located:
    """A loaded YAML document and where each of its values (and keys) stands in the file."""

    data: Any
    file: str
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """Return (line, col) of the value at path, or of the nearest enclosing value."""
        table = self.key_marks if key else self.marks
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: Path_, message: str, key: bool = False) -> Problem:
        """Make a Problem located at path."""
        line, col = self.where(path, key)
        return Problem(self.file, line, col, message)


class YamlProblem(Exception):
    """The file cannot be loaded at all; carries the located problem."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.marks: dict[Path_, tuple[int, int]] = {}
        self.key_marks: dict[Path_, tuple[int, int]] = {}
        self.seen: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> YamlProblem:
        line, col = _mark(node)
        return YamlProblem(Problem(self.file, line, col, message))

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        if depth > MAX_YAML_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_YAML_DEPTH} levels; flatten the data")
        if id(node) in self.seen:
            raise self.fail(node, "YAML aliases (*name) are not allowed; write the value out")
        self.seen.add(id(node))
        self.marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.fail(node, f"tag {node.tag!r} is not allowed; remove it")
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "keys must be plain strings (no merge keys '<<')")
                key = key_node.value
                if key in out:
                    line, _ = self.key_marks[(*path, key)]
                    raise self.fail(key_node, f"duplicate key {key!r} (first at line {line}); keep one")
                self.key_marks[(*path, key)] = _mark(key_node)
                out[key] = self.build(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(node, f"tag {node.tag!r} is not allowed; remove it")
            return [self.build(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(node, f"tag {node.tag!r} is not allowed; remove it")
        return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    text = node.value
    if node.tag == _INT:
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if node.tag == _FLOAT:
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    if node.tag == _BOOL:
        return text.lower() in {"true", "yes", "on", "y"}
    if node.tag == _NULL:
        return None
    return text  # str and timestamp: dates are checked, with their precision, by the models


def load_yaml(path: Path, display: str | None = None) -> Located:
    """Load one YAML file safely; raise YamlProblem naming file:line:col if it cannot be read."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise YamlProblem(
                Problem(name, 1, 1, f"file is {size:,} bytes, over the {MAX_YAML_BYTES:,} limit; split it")
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlProblem(Problem(name, 0, 0, f"cannot read file: {exc.strerror or exc}")) from exc
    return load_yaml_bytes(raw, name)


def load_yaml_bytes(raw: bytes, name: str) -> Located:
    """Load YAML from bytes (see load_yaml)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is harmless; editors on Windows write one
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise YamlProblem(Problem(name, line, 1, "file contains NUL bytes; is it a binary file?"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(
            Problem(name, line, 1, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")
        ) from exc
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(Problem(name, line, col, f"YAML syntax: {what}")) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(name, 0, 0, f"YAML syntax: {exc}")) from exc
    except RecursionError as exc:
        raise YamlProblem(Problem(name, 0, 0, "nesting too deep to parse; flatten the data")) from exc
    if node is None:
        return Located({}, name, {(): (1, 1)})
    builder = _Builder(name)
    data = builder.build(node, (), 0)
    return Located(data, name, builder.marks, builder.key_marks)
