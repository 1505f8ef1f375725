"""An entity's dossier: what it is, every claim about it (as subject or object) grouped by relation,
every claim a source document makes (when it is one), and its place in the coverage matrix.

The entity is found by id, label, alias or code (B, 2), case-insensitively; the text the user typed reaches the
query only as a literal in a VALUES block. An unknown name gets a "did you mean".
"""

from __future__ import annotations

from graph import constants as C
from graph.errors import QueryError
from graph.reports import coverage
from graph.reports.base import Column, Report, Section, Source
from graph.reports.data import (
    Claim,
    claims,
    iri,
    kind_of,
    labels,
    local,
    natural,
    notations,
    object_text,
    qualifiers,
    types,
    values,
)
from graph.store import Backend, Term

_MATCH = """
SELECT DISTINCT ?x ?rank WHERE {
  %s
  { ?x dcterms:identifier ?name BIND(0 AS ?rank) }
  UNION { ?x skos:prefLabel ?name BIND(1 AS ?rank) }
  UNION { ?x dcterms:title ?name BIND(1 AS ?rank) }
  UNION { ?x skos:altLabel ?name BIND(2 AS ?rank) }
  UNION { ?x skos:notation ?name BIND(3 AS ?rank) }
  FILTER(STRSTARTS(STR(?x), "%s"))
  FILTER(LCASE(STR(?name)) = ?needle)
}
"""

_NAMES = """
SELECT DISTINCT ?name WHERE {
  { ?x dcterms:identifier ?name } UNION { ?x skos:prefLabel ?name } UNION { ?x skos:altLabel ?name }
  FILTER(STRSTARTS(STR(?x), "%s"))
  FILTER NOT EXISTS { ?x a dkg:Claim }
}
"""


def resolve(backend: Backend, target: str) -> str:
    """Find the entity an id, label, alias or code (a bottleneck's B, an action line's 2) names,
    case-insensitive, in that order; QueryError if none or several."""
    needle = " ".join(target.split()).lower()
    if not needle:
        raise QueryError("give an entity id, label, alias or code")
    table = backend.select(_MATCH % (values("needle", [Term("literal", needle)]), C.ID))
    hits: dict[str, int] = {}
    for row in table.rows:
        x, rank = row["x"], row["rank"]
        if x is not None and rank is not None and "/" not in x.value[len(C.ID) :]:
            hits[x.value] = min(int(rank.value), hits.get(x.value, 9))
    if hits:
        best = min(hits.values())
        found = sorted(x for x, r in hits.items() if r == best)
        if len(found) == 1:
            return found[0]
        raise QueryError(
            f"{target!r} names several entities: {', '.join(local(x) for x in found)}; give the id"
        )
    from graph.load import did_you_mean

    pool = sorted(
        {r["name"].value for r in backend.select(_NAMES % C.ID).rows if r["name"] is not None}
    )
    raise QueryError(f"unknown entity {target!r}{did_you_mean(target, pool)}")


_DESCRIBE = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type": "type",
    "http://www.w3.org/2004/02/skos/core#prefLabel": "label",
    "http://www.w3.org/2004/02/skos/core#altLabel": "alias",
    "http://purl.org/dc/terms/title": "title",
    "http://purl.org/dc/terms/description": "description",
    "http://www.w3.org/2004/02/skos/core#inScheme": "scheme",
    "http://www.w3.org/2004/02/skos/core#notation": "notation",
    C.ONTOLOGY + "kamerstuk": "Kamerstuk",
    C.ONTOLOGY + "documentNumber": "document number",
    C.ONTOLOGY + "wikidata": "Wikidata",
    "http://xmlns.com/foaf/0.1/page": "web page",
    C.ONTOLOGY + "eventDate": "date",
    "http://purl.org/dc/terms/date": "date",
    C.ONTOLOGY + "documentKind": "document kind",
    C.ONTOLOGY + "answeredBy": "answered by",
    C.ONTOLOGY + "onBehalfOf": "on behalf of",
    C.ONTOLOGY + "text": "source text",
    "http://www.w3.org/2000/01/rdf-schema#comment": "note",
}
_ORDER = list(dict.fromkeys(_DESCRIBE.values()))


def _identity(backend: Backend, x: str, lang: str) -> list[dict[str, object]]:
    """What the registry (or the document's own description) says the entity is."""
    preds = " ".join(f"<{p}>" for p in _DESCRIBE)
    table = backend.select(
        "SELECT DISTINCT ?p ?o WHERE { "
        + values("x", [iri(x)])
        + f" ?x ?p ?o . VALUES ?p {{ {preds} }} }}"
    )
    iris = [r["o"].value for r in table.rows if r["o"] is not None and r["o"].kind == "iri"]
    names = labels(backend, iris, lang)
    fields: dict[str, list[str]] = {}
    for row in table.rows:
        p, o = row["p"], row["o"]
        if p is None or o is None:
            continue
        field = _DESCRIBE[p.value]
        if (
            o.kind == "literal"
            and o.lang
            and o.lang != lang
            and field in {"label", "title", "description"}
        ):
            field += f" ({o.lang})"
        if field == "type" and not o.value.startswith(C.ONTOLOGY):
            continue
        if field == "Wikidata" or field == "web page":
            text = o.value
        else:
            text = names.get(o.value, local(o.value)) if o.kind == "iri" else o.value
        fields.setdefault(field, []).append(text)
    rows: list[dict[str, object]] = [{"field": "id", "value": local(x)}]
    for field in sorted(fields, key=lambda f: (_ORDER.index(f.split(" (")[0]), f)):
        rows.append({"field": field, "value": ", ".join(sorted(fields[field]))})
    return rows


def _claim_row(c: Claim, x: str, names: dict[str, str], codes: dict[str, str]) -> dict[str, object]:
    outgoing = c.subject == x
    relation = names.get(c.predicate, c.relation)
    other = object_text(c, names) if outgoing else names.get(c.subject, local(c.subject))
    return {
        "relation": relation if outgoing else f"{relation} (it)",
        "relation_id": c.relation,
        "direction": "out" if outgoing else "in",
        "other": other,
        "other_id": (local(c.object_id) if c.object_id else None) if outgoing else local(c.subject),
        "qualifiers": qualifiers(c),
        "standing": c.standing,
        "via": local(c.via) if c.via else None,
        "via_line": codes.get(c.via, local(c.via)) if c.via else None,
        "claim": c.iri,
        "sources": c.sources,
    }


CLAIM_COLUMNS = [
    Column("relation", "relation"),
    Column("relation_id", "relation id", table=False),
    Column("direction", "direction", table=False),
    Column("other", "with"),
    Column("other_id", "with (id)", table=False),
    Column("qualifiers", "qualifiers"),
    Column("standing", "standing"),
    Column("via", "via", table=False),
    Column("via_line", "via line", csv=False),
    Column("claim", "claim", table=False),
]


def _coverage_rows(
    backend: Backend, x: str, kinds: set[str], lang: str, members: list[str]
) -> tuple[list[dict[str, object]], str]:
    # Only the cells this entity is in: its own, or (an action line) those of its members.
    cov = coverage.compute(backend, lang, focus=members if "ActionLine" in kinds else [x])
    rows: list[dict[str, object]] = []
    if "Bottleneck" in kinds:
        for m in cov.lines.get(x, []):
            rows.append(
                {
                    "bottleneck": cov.code(x),
                    "intervention": f"({'primary' if m.primary else 'also'} action line {cov.line_code(m.line)})",
                    "standing": "stated",
                    "via": local(m.line),
                    "via_line": cov.line_code(m.line),
                    "sources": m.sources,
                }
            )
        cells = cov.row(x)
        title = f"Its row in the coverage matrix (code {cov.code(x)})"
    elif "ActionLine" in kinds:
        cells = [c for b in cov.bottlenecks for c in cov.row(b) if c.via == x]
        for b, ms in cov.lines.items():
            for m in ms:
                if m.line == x:
                    rows.append(
                        {
                            "bottleneck": f"{cov.code(b)} {cov.labels.get(b, local(b))}",
                            "intervention": "",
                            "standing": "stated",
                            "via": "primary" if m.primary else "also touches",
                            "via_line": "primary" if m.primary else "also touches",
                            "sources": m.sources,
                        }
                    )
        title = "Bottlenecks mapped to it, and what it makes address them"
    else:
        cells = cov.column(x)
        title = "The bottlenecks it addresses"
    for c in cells:
        rows.append(
            {
                "bottleneck": f"{cov.code(c.bottleneck)} {cov.labels.get(c.bottleneck, local(c.bottleneck))}",
                "intervention": cov.labels.get(c.intervention, local(c.intervention)),
                "standing": c.standing,
                "via": local(c.via) if c.via else None,
                "via_line": cov.line_code(c.via) if c.via else None,
                "sources": c.sources,
            }
        )
    return rows, title


def report(backend: Backend, target: str, lang: str) -> Report:
    """The dossier of one entity or document."""
    x = resolve(backend, target)
    kinds = types(backend, [x]).get(x, set())
    name = labels(backend, [x], lang)[x]
    about = claims(
        backend, values("x", [iri(x)]) + " { ?claim rdf:subject ?x } UNION { ?claim rdf:object ?x }"
    )
    is_document = "SourceDocument" in kinds
    made = claims(backend, values("x", [iri(x)]) + " ?claim dkg:source ?x .") if is_document else []
    names = labels(
        backend,
        {
            y
            for c in [*about, *made]
            for y in (c.subject, c.predicate, c.object_id or "", c.via or "")
        },
        lang,
    )
    codes = notations(backend, {c.via for c in about if c.via})
    about_rows = sorted(
        (_claim_row(c, x, names, codes) for c in about),
        key=lambda r: (
            r["direction"],
            str(r["relation"]).lower(),
            str(r["other"]).lower(),
            str(r["claim"]),
        ),
    )
    sections = [
        Section(
            "entity",
            f"{name} ({kind_of(kinds) or 'entity'})",
            [Column("field", "field"), Column("value", "")],
            _identity(backend, x, lang),
            cites=False,
        ),
        Section(
            "claims",
            "Claims about it, by relation",
            CLAIM_COLUMNS,
            about_rows,
            note="'(it)': the entity is the object of the claim, 'with' its subject.",
        ),
    ]
    if is_document:
        made_rows = []
        for c in sorted(
            made, key=lambda c: (natural(c.sources[0].locator if c.sources else ""), c.iri)
        ):
            made_rows.append(
                {
                    "locator": next((s.locator for s in c.sources if s.document == local(x)), ""),
                    "subject": names.get(c.subject, local(c.subject)),
                    "relation": names.get(c.predicate, c.relation),
                    "object": object_text(c, names),
                    "qualifiers": qualifiers(c),
                    "standing": c.standing,
                    "claim": c.iri,
                    "sources": [s for s in c.sources if s.document == local(x)]
                    or [Source(local(x), "")],
                }
            )
        sections.append(
            Section(
                "made",
                f"Every claim it makes ({len(made_rows)})",
                [
                    Column("locator", "at"),
                    Column("subject", "subject"),
                    Column("relation", "relation"),
                    Column("object", "object"),
                    Column("qualifiers", "qualifiers"),
                    Column("standing", "standing"),
                    Column("claim", "claim", table=False),
                ],
                made_rows,
            )
        )
    if kinds & {"Bottleneck", "ActionLine", "Intervention", "Action", "Instrument", "Policy"}:
        members = sorted(
            {c.subject for c in about if c.relation == "inActionLine" and c.object_id == x}
        )
        rows, title = _coverage_rows(backend, x, kinds, lang, members)
        sections.append(
            Section(
                "coverage",
                title,
                [
                    Column("bottleneck", "bottleneck", table="Bottleneck" not in kinds),
                    Column(
                        "intervention",
                        "intervention",
                        table="ActionLine" in kinds or "Bottleneck" in kinds,
                    ),
                    Column("standing", "standing"),
                    Column("via", "via", table=False),
                    Column("via_line", "via line", csv=False),
                ],
                rows,
            )
        )
    rep = Report("show", f"Dossier: {name} ({local(x)})", sections)
    data = rep.as_json()
    data["id"] = local(x)
    data["label"] = name
    data["types"] = sorted(kinds)
    rep.data = data
    return rep
