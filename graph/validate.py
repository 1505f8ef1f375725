"""Validate the compiled graph against ontology/shapes.ttl (pySHACL) and locate each violation
at the file and line of the claim or entity it concerns."""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import Quad, RdfFormat, serialize

from graph import constants as C
from graph.errors import Problem


def validate(
    quads: list[Quad], shapes_path: Path, locate: dict[str, tuple[str, int]]
) -> list[Problem]:
    """Return one Problem per SHACL violation; locate maps node IRIs to (file, line)."""
    import rdflib
    from pyshacl import validate as shacl

    data = rdflib.Graph()
    triples = [Quad(q.subject, q.predicate, q.object) for q in quads]
    data.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES), format="nt")
    shapes = rdflib.Graph()
    try:
        shapes.parse(shapes_path, format="turtle")
    except Exception as exc:  # rdflib raises many kinds of syntax errors
        return [Problem(str(shapes_path), 0, 0, f"shapes do not parse: {exc}")]
    conforms, report, _ = shacl(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True
    )
    if conforms:
        return []
    if not isinstance(report, rdflib.Graph):  # pySHACL could not use the shapes themselves
        return [Problem(str(shapes_path), 0, 0, f"the shapes cannot be used: {report}")]
    sh = rdflib.Namespace(C.PREFIXES["sh"])
    problems = []
    for result in report.subjects(rdflib.RDF.type, sh.ValidationResult):
        focus = str(report.value(result, sh.focusNode))
        message = str(report.value(result, sh.resultMessage) or "violates a shape")
        for prefix in (C.ID, C.CLAIM, C.PREFIXES["dkg"]):
            message = message.replace(prefix, "")
        file, line = locate.get(focus, ("(compiled graph)", 0))
        short = focus
        for prefix in (C.ID, C.CLAIM):
            short = short.removeprefix(prefix)
        problems.append(Problem(file, line, 0, f"{short}: {message}"))
    return sorted(set(problems))
