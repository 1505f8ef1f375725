"""Load extract/: the entity registry and one extraction file per source document, as typed records
with the file position of every value, collecting every problem instead of stopping at the first."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from graph import constants as C
from graph.errors import Problem, RunError, display_path
from graph.models import Extraction, Registry
from graph.yamlio import Located, YamlProblem, load_yaml


@dataclass
class Document:
    """One extraction file, loaded."""

    path: Path
    located: Located
    record: Extraction


@dataclass
class Corpus:
    """Everything under extract/, with the problems found while loading it."""

    root: Path
    registry: Registry | None = None
    registry_located: Located | None = None
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def extract_dir(self) -> Path:
        """The extract/ folder."""
        return self.root / C.EXTRACT_DIRNAME


def did_you_mean(word: str, choices: Any) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or ''."""
    pool = [str(c) for c in choices]
    lower = {c.lower(): c for c in pool}
    if word.lower() in lower:
        return f" (did you mean {lower[word.lower()]!r}?)"
    # short words differ by a larger share of their letters: 'a2' for 'a1' is still a typo
    cutoff = 0.5 if len(word) <= 4 else 0.6
    close = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


ID_FIELDS = {"id", "subject", "object", "in_scheme", "rule", "answered_by", "on_behalf_of"}

# How to write a value whose form is fixed by a pattern (graph.models), by field name.
WRITE_AS = {
    "currency": "write a three-letter ISO 4217 code in capitals, e.g. EUR",
    "wikidata": "write a Wikidata item id, e.g. Q55",
    "document_number": "write a Tweede Kamer document number, e.g. 2025D15102",
    "url": "write a full http(s) address, without spaces, quotes or <>",
    "lines": "write a line number or a range of lines, e.g. '12' or '12-18'",
}
# What a field of the wrong type should hold, by pydantic's error type.
EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number in digits (e.g. 100000000)",
    "float_parsing": "a number in digits (e.g. 100000000)",
    "finite_number": "a finite number in digits",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (e.g. [a, b])",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}
# What a bound in the models means, by pydantic's error type.
BOUNDS = {
    "greater_than_equal": ("ge", "{0} or more"),
    "greater_than": ("gt", "more than {0}"),
    "less_than_equal": ("le", "{0} or less"),
    "less_than": ("lt", "less than {0}"),
}


def _kind_of(value: Any) -> str:
    """What a loaded YAML value is, as a curator sees it."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (yes/no/on/off are read as true or false)"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def suggest_id(value: str) -> str:
    """The id a curator probably meant: ASCII, lower-case, hyphens ('Financiën' -> 'financien')."""
    text = unicodedata.normalize("NFKD", value)  # also folds full-width and ligature forms
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80]


def _validation_problems(exc: ValidationError, located: Located) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind = err["type"]
        value = err.get("input")
        field_name = loc[-1] if loc else ""
        if kind == "extra_forbidden":
            problems.append(
                located.problem(
                    loc, f"unknown key {field_name!r}; remove it or fix its spelling", key=True
                )
            )
            continue
        if kind == "missing":
            problems.append(located.problem(loc[:-1], f"missing required key {field_name!r}"))
            continue
        if kind in ("enum", "literal_error"):
            expected = err.get("ctx", {}).get("expected", "")
            options = [
                o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()
            ]
            hint = did_you_mean(str(value), options)
            message = f"{field_name}: {value!r} is not one of the allowed values{hint}"
            if not hint:
                message += f"; choose from {', '.join(options)}"
            problems.append(located.problem(loc, message))
            continue
        if kind == "string_pattern_mismatch" and "sections" in loc and field_name == "id":
            message = f"id: {value!r} is not a valid section id; use lower-case letters, digits, '+', '.' and '-'"
            problems.append(located.problem(loc, message))
            continue
        named = next((p for p in reversed(loc) if isinstance(p, str)), "")  # answered_by[0] too
        if kind == "string_pattern_mismatch" and named in ID_FIELDS:
            # name the first non-ASCII character: 'ë' and 'e' + U+0308 print alike
            odd = next((ch for ch in str(value) if ord(ch) > 127), "")
            held = f" (it holds U+{ord(odd):04X} {unicodedata.name(odd, '?')})" if odd else ""
            message = f"{named}: {value!r} is not a valid id{held}; use lower-case letters, digits and hyphens"
            meant = suggest_id(str(value))
            if meant and meant != value:  # 'SecFund' or 'financiën' for 'secfund' or 'financien'
                message += f" (did you mean {meant!r}?)"
            problems.append(located.problem(loc, message))
            continue
        if kind == "string_pattern_mismatch" and named in WRITE_AS:
            message = f"{named}: {value!r} is not in the expected form; {WRITE_AS[named]}"
            problems.append(located.problem(loc, message))
            continue
        if kind in EXPECTED:
            message = f"{named}: expected {EXPECTED[kind]}, found {_kind_of(value)}"
            problems.append(located.problem(loc, message))
            continue
        if kind == "string_too_short":
            message = f"{named}: empty text; write it, or remove the key"
            problems.append(located.problem(loc, message))
            continue
        if kind in BOUNDS:
            key, wording = BOUNDS[kind]
            limit = err.get("ctx", {}).get(key, "?")
            if isinstance(limit, float) and limit.is_integer():
                limit = int(limit)  # ge=0 on a float field: "0", not "0.0"
            bound = wording.format(limit)
            problems.append(located.problem(loc, f"{named}: {value!r} must be {bound}"))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        prefix = f"{field_name}: " if isinstance(field_name, str) and field_name else ""
        problems.append(located.problem(loc, prefix + msg))
    return problems


def _load_model(
    path: Path, root: Path, model: type[Any]
) -> tuple[Any, Located | None, list[Problem]]:
    name = display_path(path, root)
    try:
        located = load_yaml(path, name)
    except YamlProblem as exc:
        return None, None, [exc.problem]
    return validated(located, model)


def validated(located: Located, model: type[Any]) -> tuple[Any, Located, list[Problem]]:
    """The record a loaded file holds, or None and the problems that keep it from being one."""
    if not isinstance(located.data, dict):
        return None, located, [located.problem((), "expected a mapping at the top of the file")]
    try:
        return model.model_validate(located.data), located, []
    except ValidationError as exc:
        return None, located, _validation_problems(exc, located)


def extraction_files(folder: Path) -> list[Path]:
    """The extraction files in extract/documents/: *.yaml, then *.yml, each in name order. Hidden
    files are an editor's (Emacs locks a file being edited as .#name.yaml), not extractions."""
    if not folder.is_dir():
        return []
    return [
        path
        for pattern in ("*.yaml", "*.yml")
        for path in sorted(folder.glob(pattern))
        if not path.name.startswith(".")
    ]


def nested_extractions(folder: Path) -> list[Path]:
    """YAML files in subfolders of extract/documents/, which are not read: a curator who sorts
    extractions into folders by year must hear so, not find the documents silently missing."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for pattern in ("*/**/*.yaml", "*/**/*.yml")
        for path in folder.glob(pattern)
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


NO_REGISTRY = (
    "the entity registry is missing: create it, with the line `entities: []` to start"
    " (see extract/README.md)"
)


def load_corpus(root: Path) -> Corpus:
    """Load the registry and every extraction file under root/extract."""
    corpus = Corpus(root=root)
    extract = corpus.extract_dir
    if not extract.is_dir():
        raise RunError(f"no {C.EXTRACT_DIRNAME}/ folder in {root}; run dkg from the project folder")
    reg_path = extract / C.REGISTRY_FILENAME
    if not reg_path.is_file():
        corpus.problems.append(Problem(display_path(reg_path, root), 0, 0, NO_REGISTRY))
    else:
        corpus.registry, corpus.registry_located, probs = _load_model(reg_path, root, Registry)
        corpus.problems += probs
    for path in extraction_files(extract / C.DOCUMENTS_DIRNAME):
        record, located, probs = _load_model(path, root, Extraction)
        corpus.problems += probs
        if record is not None and located is not None:
            corpus.documents.append(Document(path, located, record))
    return corpus
