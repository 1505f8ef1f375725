"""Read the ontology and the SHACL shapes from ontology/."""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import NamedNode, Quad, RdfFormat, parse

from graph import constants as C
from graph.errors import Problem


def load_turtle(path: Path, graph: str) -> tuple[list[Quad], list[Problem]]:
    """Parse a Turtle file into quads of the named graph; a syntax error becomes a Problem."""
    g = NamedNode(graph)
    try:
        with path.open("rb") as fh:
            triples = list(parse(fh, format=RdfFormat.TURTLE, base_iri=C.BASE))
    except SyntaxError as exc:
        return [], [Problem(str(path), 0, 0, f"Turtle syntax: {exc}")]
    except OSError as exc:
        return [], [Problem(str(path), 0, 0, f"cannot read: {exc.strerror or exc}")]
    return [Quad(t.subject, t.predicate, t.object, g) for t in triples], []


def load_ontology(ontology_dir: Path) -> tuple[list[Quad], list[Problem]]:
    """The ontology's quads, in the ontology graph."""
    return load_turtle(ontology_dir / C.ONTOLOGY_FILE, C.ONTOLOGY_GRAPH)
