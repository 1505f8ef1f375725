"""Load YAML safely, keeping the line and column of every value for error messages.

We read libyaml's parser events (through PyYAML) and build plain Python values ourselves, so that
we can refuse what a curated file never needs: object tags, aliases (the "billion laughs" bomb),
duplicate keys (silently last-wins otherwise), control characters, absurd sizes and depths.
Timestamps stay strings: dates are parsed by the models, which keep their precision.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from graph.constants import MAX_YAML_BYTES, MAX_YAML_DEPTH
from graph.errors import CONTROLS, Problem

try:  # libyaml's C parser is ten times faster; the pure one gives the same events and marks.
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
_MERGE = "tag:yaml.org,2002:merge"
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


# YAML refuses most control characters as raw bytes, but a double-quoted "\x1b" or "\u202e"
# escape lets them in (see graph.errors.CONTROLS).
_CONTROL = re.compile(f"[{CONTROLS}]")

_Event = yaml.events.Event
_Scalar = yaml.ScalarEvent
_MappingStart = yaml.MappingStartEvent
_SequenceStart = yaml.SequenceStartEvent
_MappingEnd = yaml.MappingEndEvent
_SequenceEnd = yaml.SequenceEndEvent
# an anchor is only there to be aliased; refusing both keeps every value written out
_TOO_DEEP = f"nesting deeper than {MAX_YAML_DEPTH} levels; flatten the data"
_NO_ALIASES = "YAML aliases (*name) are not allowed, nor anchors (&name); write the value out"


def _mark(event: _Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark else (0, 0)


_KEY_TAGS = _SCALAR_TAGS | {_MERGE}

# An open mapping or sequence while the events stream past: [value, path, key, is a mapping].
# The key is None until a mapping's next key is read (and always in a sequence).
_Frame = list[Any]


class _Builder:
    """Build plain values from the parser's events, without ever composing a node tree.

    libyaml's composer recurses in C, so a few hundred thousand '[' overflow the C stack and kill
    the process; the parser itself keeps an explicit stack. Building from events keeps the depth
    check ahead of any recursion, and refuses aliases before anything is expanded.

    The loop over the events does all its work inline: it is what reading a large corpus costs
    above libyaml's own parsing (half of it with a method call per question asked of an event).
    """

    def __init__(self, file: str):
        self.file = file
        self.marks: dict[Path_, tuple[int, int]] = {}
        self.key_marks: dict[Path_, tuple[int, int]] = {}
        self.resolver = yaml.resolver.Resolver()
        self.plain: dict[str, str] = {}  # the tag of each plain scalar's text, once resolved

    def fail(self, event: _Event, message: str) -> YamlProblem:
        line, col = _mark(event)
        return YamlProblem(Problem(self.file, line, col, message))

    def _tag(self, event: Any, collection: str | None) -> str:
        """The tag of an event: as written, else what the resolver would answer, without asking
        it for every node: a collection is a map or a seq, a quoted scalar a str, and a plain one
        is resolved once per distinct text."""
        tag = event.tag
        if tag is not None and tag != "!":
            return str(tag)
        if collection is not None:
            return collection
        if not event.implicit[0]:
            return _STR
        value = event.value
        tag = self.plain.get(value)
        if tag is None:
            tag = self.plain[value] = self.resolver.resolve(yaml.ScalarNode, value, (True, False))
        return str(tag)

    def _text(self, event: _Event, value: str) -> None:
        """Refuse a control character in a value that is not printable (nearly every value is,
        and no control character is: one C call settles it before any regex runs)."""
        if bad := _CONTROL.search(value):
            code = f"U+{ord(bad.group()):04X}"
            raise self.fail(
                event,
                f"control character {code} in the text; remove it (it can hide or reorder text)",
            )

    def build(self, loader: Any) -> Any:
        """The value of the one document the loader's events describe."""
        root: Any = None
        stack: list[_Frame] = []
        documents = 0
        get = loader.get_event
        marks, key_marks, plain = self.marks, self.key_marks, self.plain
        tag_of, text = self._tag, self._text
        while (event := get()) is not None:
            kind = type(event)  # compared by identity: a chain of isinstance per event is slow
            if kind is _MappingEnd or kind is _SequenceEnd:
                stack.pop()
                continue
            if kind is not _Scalar and kind is not _MappingStart and kind is not _SequenceStart:
                if kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        raise self.fail(
                            event, "a second YAML document ('---'); keep one document per file"
                        )
                elif kind is yaml.AliasEvent:
                    raise self.fail(event, _NO_ALIASES)
                continue  # stream and document ends
            if event.anchor is not None:
                raise self.fail(event, _NO_ALIASES)
            mark = event.start_mark
            at = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            top = stack[-1] if stack else None
            if top is not None and top[3] and top[2] is None:  # a mapping's key
                if kind is not _Scalar:
                    raise self.fail(event, "keys must be plain strings, not lists or mappings")
                key = event.value
                tag = event.tag
                if tag is None and event.implicit[0]:  # a plain key, as nearly all are
                    tag = plain.get(key) or tag_of(event, None)
                else:
                    tag = tag_of(event, None)
                if tag not in _KEY_TAGS:
                    raise self.fail(event, f"tag {tag!r} is not allowed; remove it")
                if tag == _MERGE:
                    raise self.fail(event, "merge keys ('<<') are not allowed; write the keys out")
                if not key.isprintable():
                    text(event, key)
                where = top[1] + (key,)
                if key in top[0]:
                    line = key_marks[where][0]
                    raise self.fail(
                        event, f"duplicate key {key!r} (first at line {line}); keep one"
                    )
                key_marks[where] = at
                top[2] = key
                continue
            if len(stack) > MAX_YAML_DEPTH:
                raise self.fail(event, _TOO_DEEP)
            if top is None:
                path: Path_ = ()
            elif top[3]:
                path = top[1] + (top[2],)
            else:
                path = top[1] + (len(top[0]),)
            marks[path] = at
            value: Any
            if kind is _Scalar:
                value = event.value
                tag = event.tag
                if tag is None and not event.implicit[0]:  # quoted: a string
                    tag = _STR
                elif tag is None:
                    tag = plain.get(value) or tag_of(event, None)
                else:
                    tag = tag_of(event, None)
                if tag not in _SCALAR_TAGS:
                    raise self.fail(event, f"tag {tag!r} is not allowed; remove it")
                if not value.isprintable():
                    text(event, value)
                if tag != _STR:
                    value = _scalar(tag, value)
            else:
                mapping = kind is _MappingStart
                tag = tag_of(event, _MAP if mapping else _SEQ)
                if tag != (_MAP if mapping else _SEQ):
                    raise self.fail(event, f"tag {tag!r} is not allowed; remove it")
                value = {} if mapping else []
                stack.append([value, path, None, mapping])
            if top is None:
                root = value
            elif top[3]:
                top[0][top[2]] = value
                top[2] = None
            else:
                top[0].append(value)
        return root


def _scalar(tag: str, text: str) -> Any:
    if tag == _INT:
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if tag == _FLOAT:
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    if tag == _BOOL:
        return text.lower() in {"true", "yes", "on", "y"}
    if tag == _NULL:
        return None
    return text  # str and timestamp: dates are checked, with their precision, by the models


def load_yaml(path: Path, display: str | None = None) -> Located:
    """Load one YAML file safely; raise YamlProblem naming file:line:col if it cannot be read."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise YamlProblem(
                Problem(
                    name,
                    1,
                    1,
                    f"file is {size:,} bytes, over the {MAX_YAML_BYTES:,} limit; split it",
                )
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlProblem(Problem(name, 0, 0, f"cannot read file: {exc.strerror or exc}")) from exc
    return load_yaml_bytes(raw, name)


def load_yaml_bytes(raw: bytes, name: str) -> Located:
    """Load YAML from bytes (see load_yaml)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is harmless; editors on Windows write one
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlProblem(
            Problem(name, 1, 1, "file is UTF-16 or UTF-32 (byte-order mark); save it as UTF-8")
        )
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise YamlProblem(Problem(name, line, 1, "file contains NUL bytes; is it a binary file?"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(
            Problem(
                name,
                line,
                1,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            )
        ) from exc
    builder = _Builder(name)
    loader = _Loader(text)
    try:
        data = builder.build(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = exc.problem or exc.context or "invalid YAML"
        rows = text.splitlines()  # the line breaks YAML knows: \n, \r\n, \r, \x85, \u2028...
        if line > len(rows):  # libyaml marks the end of a file without a final newline one further
            line, col = max(len(rows), 1), len(rows[-1]) + 1 if rows else 1
        if what == "exceeded maximum nesting depth":  # libyaml >= 0.2.6 stops at 1,000 levels
            raise YamlProblem(Problem(name, line, col, _TOO_DEEP)) from exc
        if "\t" in (rows[line - 1] if 0 < line <= len(rows) else ""):
            what += " (a tab: YAML is indented with spaces, never tabs)"
        raise YamlProblem(Problem(name, line, col, f"YAML syntax: {what}")) from exc
    except yaml.reader.ReaderError as exc:  # a raw control character; its position is unmarked
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        at = max(text.find(char), 0)
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        message = f"character U+{ord(char[:1] or ' '):04X} is not allowed in YAML ({exc.reason}); remove it"
        raise YamlProblem(Problem(name, line, col, message)) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(name, 0, 0, f"YAML syntax: {exc}")) from exc
    finally:
        loader.dispose()
    if data is None:
        return Located({}, name, {(): (1, 1)})
    return Located(data, name, builder.marks, builder.key_marks)


# --- A list file read item by item ---------------------------------------------------------------

_ITEM = "  - "


def split_items(text: str, key: str) -> tuple[int, list[tuple[int, str]]] | None:
    """A file that holds one key whose value is a block list indented by two spaces, the layout
    of extract/entities.yaml: the line of the key, and each item's first line and text (up to
    the next item, comments and blank lines with it). None if the file is laid out otherwise."""
    if "\r" in text or "\x85" in text or "\u2028" in text or "\u2029" in text:
        return None
    lines = text.split("\n")
    head = next((i for i, ln in enumerate(lines) if ln.rstrip() == f"{key}:"), None)
    if head is None or any(ln.strip() and not ln.startswith("#") for ln in lines[:head]):
        return None
    items: list[tuple[int, list[str]]] = []
    for i, ln in enumerate(lines[head + 1 :], start=head + 2):
        if ln.startswith(_ITEM):
            items.append((i, [ln]))
        elif ln.startswith("   ") or not ln.strip() or ln.lstrip().startswith("#"):
            if items:
                items[-1][1].append(ln)
            elif ln.strip() and not ln.lstrip().startswith("#"):
                return None
        else:
            return None
    if not items:
        return None
    return head + 1, [(line, "\n".join(body) + "\n") for line, body in items]


def load_items(
    raw: bytes, name: str, key: str, known: dict[str, Any]
) -> tuple[Located, dict[str, Any]] | None:
    """A file laid out as split_items reads it, loaded item by item: an item whose text known
    holds (by its digest) is not parsed again. Returns the file as load_yaml_bytes would, and
    every item's value by its text's digest; None if the file is laid out otherwise, or an item
    does not load on its own (load it whole: its problems then have their true places).

    Where each value stands is worked out only if asked (for a problem): a file read whole
    again. Where the list and its key stand, which every build asks, is known from the layout."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff") or "\x00" in text:
        return None
    split = split_items(text, key)
    if split is None:
        return None
    line, items = split
    values: list[Any] = []
    table: dict[str, Any] = {}
    for _first, body in items:
        digest = _digest(body)
        if digest in known:
            value = known[digest]
        else:
            try:
                loaded = load_yaml_bytes(f"{key}:\n{body}".encode(), name).data
            except YamlProblem:
                return None
            if not isinstance(loaded, dict) or not isinstance(loaded.get(key), list):
                return None
            if len(loaded[key]) != 1:
                return None
            value = loaded[key][0]
        table[digest] = value
        values.append(value)
    whole = _Whole(raw, name)  # (the places: see _Marks)
    marks = _Marks(whole, False, {(): (line, 1), (key,): (items[0][0], 3)})
    key_marks = _Marks(whole, True, {(key,): (line, 1)})
    return Located({key: values}, name, marks, key_marks), table  # type: ignore[arg-type]


class _Whole:
    """A file's places, from reading it whole, once, when first asked."""

    def __init__(self, raw: bytes, name: str):
        self.raw, self.name = raw, name
        self.located: Located | None = None

    def get(self) -> Located:
        if self.located is None:
            self.located = load_yaml_bytes(self.raw, self.name)
        return self.located


class _Marks(Mapping[Path_, tuple[int, int]]):
    """The places of a file's values (or keys) that load_items loaded: a few known from its
    layout, the rest from reading it whole."""

    def __init__(self, whole: _Whole, keys: bool, known: dict[Path_, tuple[int, int]]):
        self.whole, self.of_keys, self.known = whole, keys, known

    def _table(self) -> dict[Path_, tuple[int, int]]:
        located = self.whole.get()
        return located.key_marks if self.of_keys else located.marks

    def __contains__(self, path: object) -> bool:
        return path in self.known or path in self._table()

    def __getitem__(self, path: Path_) -> tuple[int, int]:
        found = self.known.get(path)
        return found if found is not None else self._table()[path]

    def __iter__(self) -> Iterator[Path_]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


def item_values(raw: bytes, key: str, values: Any) -> dict[str, Any] | None:
    """Every item's value by its text's digest, as load_items returns them, for a file laid out
    as split_items reads it and loaded whole (values: its list); None if laid out otherwise."""
    split = split_items(raw.decode("utf-8", errors="replace"), key)
    if split is None or not isinstance(values, list) or len(split[1]) != len(values):
        return None
    return {_digest(body): value for (_line, body), value in zip(split[1], values, strict=True)}


def _digest(body: str) -> str:
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()
