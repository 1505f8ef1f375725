"""The graph as a networkx MultiDiGraph, for analysis, exports and the interactive view.

Everything is read through graph.store.Backend SELECT queries, so the same code runs against the
embedded store and a SPARQL server. Nodes are entities (and source documents) with their labels in
nl and en, type and aliases; edges are claims between two entities, one edge per distinct
(subject, relation, object, standing, polarity, modality, via), carrying every source that says it
(document, locator, quote). An inferred edge's sources are those of its premises. Claims whose
object is a literal or an amount (a budget, a start date, a goal) are kept on their subject node as
`facts`, so the view can show them.

A Projection chooses which node types and which claims count for an analysis; the choice is always
printed beside the result, because centrality means little without knowing what was counted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
import networkx as nx

from graph import constants as C
from graph.errors import RunError
from graph.store import Backend, Term, endpoint_option
from graph.vocab import ENTITY_TYPES

STANDINGS = ("stated", "inferred", "analyst")
POLARITIES = ("affirmed", "negated")
MODALITIES = ("actual", "planned", "possible", "conditional")
LANGS = ("nl", "en")

ACTOR_TYPES = (
    "GovernmentBody",
    "Company",
    "Association",
    "Organisation",
    "Platform",
    "Person",
    "Country",
)
INTERVENTION_TYPES = ("Action", "Instrument", "Policy")
# Node types that describe the corpus rather than the world: left out of the default projection.
CORPUS_TYPES = ("Document", "SourceDocument", "ConceptScheme")
NODE_TYPES = (*ENTITY_TYPES, "SourceDocument")
COVERAGE_RELATIONS = ("addresses", "inActionLine", "primaryActionLine", "secondaryActionLine")

DOCUMENT_LINK = "https://zoek.officielebekendmakingen.nl/{kamerstuk}.html"
DOCUMENT_NUMBER_LINK = "https://www.tweedekamer.nl/kamerstukken/detail?id={number}"


# --- Reading the store ---------------------------------------------------------------------------

_ENTITIES = """
SELECT DISTINCT ?e ?type WHERE {
  { GRAPH dkgg:registry { ?e a ?type } FILTER(STRSTARTS(STR(?type), STR(dkg:))) }
  UNION { ?e a dkg:SourceDocument . BIND(dkg:SourceDocument AS ?type) }
}"""

_PROPERTIES = """
SELECT DISTINCT ?e ?p ?v WHERE {
  VALUES ?p { skos:prefLabel skos:altLabel dcterms:description skos:notation dkg:wikidata foaf:page
              dkg:kamerstuk dkg:documentNumber dcterms:date dkg:text }
  ?e ?p ?v .
  FILTER(STRSTARTS(STR(?e), STR(id:)))
}"""

# Each property is read by a sub-select of its own and the engine joins them by hashing: one
# lookup per claim and property took 41 s from RocksDB at 100,000 claims, this 8.8 s (3.2 s to
# 1.0 s at 10,000), with the same rows.
_CLAIMS = """
SELECT DISTINCT ?c ?s ?p ?o ?standing ?polarity ?modality ?source ?locator ?quote ?rationale ?via
       ?viaPrimary ?rule ?when ?value ?currency WHERE {
  { SELECT ?c WHERE { ?c a dkg:Claim } }
  { SELECT ?c ?s WHERE { ?c rdf:subject ?s } }
  { SELECT ?c ?p WHERE { ?c rdf:predicate ?p } }
  { SELECT ?c ?o WHERE { ?c rdf:object ?o } }
  { SELECT ?c ?standing WHERE { ?c dkg:standing ?standing } }
  { SELECT ?c ?polarity WHERE { ?c dkg:polarity ?polarity } }
  { SELECT ?c ?modality WHERE { ?c dkg:modality ?modality } }
  OPTIONAL { SELECT ?c ?source WHERE { ?c dkg:source ?source } }
  OPTIONAL { SELECT ?c ?locator WHERE { ?c dkg:locator ?locator } }
  OPTIONAL { SELECT ?c ?quote WHERE { ?c dkg:quote ?quote } }
  OPTIONAL { SELECT ?c ?rationale WHERE { ?c dkg:rationale ?rationale } }
  OPTIONAL { SELECT ?c ?via WHERE { ?c dkg:via ?via } }
  OPTIONAL { SELECT ?c ?viaPrimary WHERE { ?c dkg:viaPrimary ?viaPrimary } }
  OPTIONAL { SELECT ?c ?rule WHERE { ?c prov:wasGeneratedBy ?rule } }
  OPTIONAL { SELECT ?c ?when WHERE { ?c dkg:when ?when } }
  OPTIONAL { SELECT ?o ?value ?currency WHERE { ?o schema:value ?value ; schema:currency ?currency } }
}"""

_PREMISES = "SELECT DISTINCT ?c ?premise WHERE { ?c dkg:premise ?premise }"

_TERMS = """
SELECT DISTINCT ?t ?label WHERE {
  GRAPH dkgg:ontology { ?t rdfs:label ?label }
  FILTER(STRSTARTS(STR(?t), STR(dkg:)))
}"""


def _claim_key(claim_iri: str) -> str:
    return claim_iri[len(C.CLAIM) :] if claim_iri.startswith(C.CLAIM) else claim_iri


def _name(term: Term) -> str:
    """The local name of any IRI: skos:prefLabel -> 'prefLabel'."""
    return re.split(r"[#/]", term.value)[-1]


def _lower_local(term: Term | None) -> str:
    """dkg:Stated -> 'stated'."""
    return term.local.lower() if term else ""


def _literal_text(term: Term, value: Term | None, currency: Term | None) -> str:
    """A literal claim object as text: amounts as '€ 100000000' style 'EUR 100000000'."""
    if value is not None:
        try:
            number = format(Decimal(value.value), ",f").replace(",", " ")
        except InvalidOperation:
            number = value.value
        return f"{currency.value if currency else ''} {number}".strip()
    return term.value


@dataclass
class _Source:
    document: str
    locator: str
    quote: str

    def as_dict(self) -> dict[str, str]:
        return {"document": self.document, "locator": self.locator, "quote": self.quote}


@dataclass
class _Claim:
    key: str
    subject: str
    relation: str
    obj: Term
    standing: str
    polarity: str
    modality: str
    source: _Source | None
    rationale: str = ""
    via: str = ""
    via_primary: bool | None = None
    rule: str = ""
    when: str = ""
    premises: list[str] = field(default_factory=list)
    value: Term | None = None
    currency: Term | None = None


def _read_claims(backend: Backend) -> dict[str, _Claim]:
    claims: dict[str, _Claim] = {}
    for row in backend.select(_CLAIMS).rows:
        c, s, p, o = row["c"], row["s"], row["p"], row["o"]
        assert c is not None and s is not None and p is not None and o is not None
        key = _claim_key(c.value)
        if key in claims:
            continue  # a claim node has one value per property; repeats come from the union graph
        source = row["source"]
        quote = row["quote"]
        claims[key] = _Claim(
            key=key,
            subject=s.local,
            relation=p.local,
            obj=o,
            standing=_lower_local(row["standing"]),
            polarity=_lower_local(row["polarity"]),
            modality=_lower_local(row["modality"]),
            source=_Source(
                source.local,
                row["locator"].value if row["locator"] else "",
                quote.value if quote else "",
            )
            if source
            else None,
            rationale=row["rationale"].value if row["rationale"] else "",
            via=row["via"].local if row["via"] else "",
            via_primary=(row["viaPrimary"].value == "true") if row["viaPrimary"] else None,
            rule=row["rule"].local if row["rule"] else "",
            when=row["when"].value if row["when"] else "",
            value=row["value"],
            currency=row["currency"],
        )
    for row in backend.select(_PREMISES).rows:
        c, premise = row["c"], row["premise"]
        assert c is not None and premise is not None
        claim = claims.get(_claim_key(c.value))
        if claim is not None:
            claim.premises.append(_claim_key(premise.value))
    for claim in claims.values():
        claim.premises.sort()
    return claims


def _sources_of(
    claim: _Claim, claims: dict[str, _Claim], seen: frozenset[str] = frozenset()
) -> list[_Source]:
    """A claim's own source, or for a derived claim the sources of its premises."""
    if claim.source is not None:
        return [claim.source]
    found: list[_Source] = []
    for key in claim.premises:
        premise = claims.get(key)
        if premise is not None and key not in seen:
            found.extend(_sources_of(premise, claims, seen | {claim.key}))
    return found


def _document_links(props: dict[str, list[Term]]) -> list[str]:
    links = [t.value for t in props.get("page", [])]
    links += [DOCUMENT_LINK.format(kamerstuk=t.value) for t in props.get("kamerstuk", [])]
    links += [DOCUMENT_NUMBER_LINK.format(number=t.value) for t in props.get("documentNumber", [])]
    return sorted(set(links), key=links.index)


def _by_lang(terms: list[Term]) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in sorted(terms, key=lambda t: (t.lang or "", t.value)):
        out.setdefault(t.lang or "", t.value)
    return out


def load_graph(backend: Backend) -> nx.MultiDiGraph:
    """Read entities and claims through the backend into a MultiDiGraph (sorted, deterministic)."""
    types: dict[str, str] = {}
    for row in backend.select(_ENTITIES).rows:
        e, t = row["e"], row["type"]
        assert e is not None and t is not None
        if not e.value.startswith(C.ID) or t.local not in NODE_TYPES:
            continue
        # The registry's own type wins over "SourceDocument", which only says a text was extracted.
        if t.local != "SourceDocument" or e.local not in types:
            types[e.local] = t.local

    props: dict[str, dict[str, list[Term]]] = defaultdict(lambda: defaultdict(list))
    for row in backend.select(_PROPERTIES).rows:
        e, p, v = row["e"], row["p"], row["v"]
        assert e is not None and p is not None and v is not None
        if e.local in types:
            props[e.local][_name(p)].append(v)

    terms: dict[str, dict[str, str]] = defaultdict(dict)
    for row in backend.select(_TERMS).rows:
        t, label = row["t"], row["label"]
        assert t is not None and label is not None
        if label.lang in LANGS:
            terms[t.local][label.lang] = label.value

    g = nx.MultiDiGraph()
    documents: dict[str, dict[str, Any]] = {}
    for ident in sorted(types):
        own = props[ident]
        names = _by_lang(own.get("prefLabel", []))
        description = _by_lang(own.get("description", []))
        attrs: dict[str, Any] = {
            "id": ident,
            "type": types[ident],
            "label_nl": names.get("nl") or names.get("en") or names.get("") or ident,
            "label_en": names.get("en") or names.get("nl") or names.get("") or ident,
            "aliases": sorted({t.value for t in own.get("altLabel", [])}),
            "description_nl": description.get("nl") or description.get("en", ""),
            "description_en": description.get("en") or description.get("nl", ""),
            "notation": min((t.value for t in own.get("notation", [])), default=""),
            "links": _document_links(own) + [t.value for t in own.get("wikidata", [])],
            "facts": [],
        }
        g.add_node(ident, **attrs)
        if types[ident] == "SourceDocument" or own.get("text"):
            documents[ident] = {
                "id": ident,
                "label_nl": attrs["label_nl"],
                "label_en": attrs["label_en"],
                "date": min((t.value for t in own.get("date", [])), default=""),
                "text": min((t.value for t in own.get("text", [])), default=""),
                "links": attrs["links"],
            }
    g.graph["documents"] = documents
    g.graph["terms"] = dict(sorted(terms.items()))

    claims = _read_claims(backend)
    edges: dict[tuple[str, str, str, str, str, str, str], dict[str, Any]] = {}
    for key in sorted(claims):
        claim = claims[key]
        if claim.subject not in g:
            continue
        sources = [s.as_dict() for s in _sources_of(claim, claims)]
        if claim.obj.kind == "iri" and claim.obj.value.startswith(C.ID) and claim.obj.local in g:
            ekey = (
                claim.subject,
                claim.obj.local,
                claim.relation,
                claim.standing,
                claim.polarity,
                claim.modality,
                claim.via,
            )
            edge = edges.setdefault(
                ekey,
                {
                    "relation": claim.relation,
                    "standing": claim.standing,
                    "polarity": claim.polarity,
                    "modality": claim.modality,
                    "via": claim.via,
                    "via_primary": claim.via_primary,
                    "claims": [],
                    "sources": [],
                    "rationale": [],
                    "premises": [],
                    "when": "",
                },
            )
            edge["claims"].append(key)
            edge["sources"].extend(s for s in sources if s not in edge["sources"])
            if claim.rationale and claim.rationale not in edge["rationale"]:
                edge["rationale"].append(claim.rationale)
            edge["premises"].extend(p for p in claim.premises if p not in edge["premises"])
            edge["when"] = edge["when"] or claim.when
        else:
            g.nodes[claim.subject]["facts"].append(
                {
                    "claim": key,
                    "relation": claim.relation,
                    "value": _literal_text(claim.obj, claim.value, claim.currency),
                    "standing": claim.standing,
                    "polarity": claim.polarity,
                    "modality": claim.modality,
                    "when": claim.when,
                    "sources": sources,
                }
            )
    for (subj, obj, *_rest), attrs in sorted(edges.items()):
        g.add_edge(subj, obj, key=attrs["claims"][0], **attrs)
    return g


# --- Projections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Which nodes and which claims count for an analysis."""

    name: str
    description: str
    node_types: tuple[str, ...] = NODE_TYPES
    relations: tuple[str, ...] | None = None  # None: every relation
    standings: tuple[str, ...] = STANDINGS
    polarities: tuple[str, ...] = ("affirmed",)
    modalities: tuple[str, ...] = ("actual",)

    def with_(self, **changes: Any) -> Projection:
        """A copy with some fields changed (None leaves a field as it is)."""
        from dataclasses import replace

        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> str:
        """One line saying what counts."""
        relations = ", ".join(self.relations) if self.relations else "all relations"
        return (
            f"projection '{self.name}': nodes {', '.join(self.node_types)}; edges {relations}; "
            f"standing {'/'.join(self.standings)}; polarity {'/'.join(self.polarities)}; "
            f"modality {'/'.join(self.modalities)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """The projection as plain data (for JSON output)."""
        return {
            "name": self.name,
            "node_types": list(self.node_types),
            "relations": list(self.relations) if self.relations else None,
            "standings": list(self.standings),
            "polarities": list(self.polarities),
            "modalities": list(self.modalities),
        }


_WORLD = tuple(t for t in NODE_TYPES if t not in CORPUS_TYPES)
PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        Projection(
            "network",
            "actors, interventions, bottlenecks, action lines, projects, topics and events; "
            "documents and concept schemes left out",
            node_types=_WORLD,
        ),
        Projection(
            "actors",
            "actors, interventions and projects only: who works with whom and through what",
            node_types=(*ACTOR_TYPES, *INTERVENTION_TYPES, "Project"),
        ),
        Projection(
            "coverage",
            "interventions, bottlenecks and action lines, linked by addresses / inActionLine / "
            "primary and secondary action line",
            node_types=(*INTERVENTION_TYPES, "Bottleneck", "ActionLine"),
            relations=COVERAGE_RELATIONS,
        ),
        Projection(
            "all", "every entity and source document, every relation", node_types=NODE_TYPES
        ),
    )
}


def project(g: nx.MultiDiGraph, projection: Projection) -> nx.MultiDiGraph:
    """The subgraph of the chosen node types and the claims that count (isolated nodes kept)."""
    types = set(projection.node_types)
    keep = [n for n, t in g.nodes(data="type") if t in types]
    sub = nx.MultiDiGraph()
    sub.graph.update(g.graph)
    sub.add_nodes_from((n, g.nodes[n]) for n in keep)
    for u, v, k, d in g.edges(keys=True, data=True):
        if (
            u in sub
            and v in sub
            and (projection.relations is None or d["relation"] in projection.relations)
            and d["standing"] in projection.standings
            and d["polarity"] in projection.polarities
            and d["modality"] in projection.modalities
        ):
            sub.add_edge(u, v, key=k, **d)
    return sub


def simple(g: nx.MultiDiGraph) -> nx.Graph:
    """Collapse to an undirected simple graph: one link per pair, weight = number of edges."""
    s = nx.Graph()
    s.add_nodes_from(sorted(g.nodes))
    for u, v in sorted((min(a, b), max(a, b)) for a, b in g.edges() if a != b):
        if s.has_edge(u, v):
            s[u][v]["weight"] += 1
        else:
            s.add_edge(u, v, weight=1)
    return s


def label(g: nx.Graph, node: str, lang: str = "nl") -> str:
    """The node's label in a language."""
    return str(g.nodes[node].get(f"label_{lang}") or node)


def term_label(g: nx.Graph, name: str, lang: str = "nl") -> str:
    """The label of an ontology term (relation, class, standing) in a language."""
    return str(g.graph.get("terms", {}).get(name, {}).get(lang) or name)


def resolve(g: nx.Graph, text: str) -> str:
    """Find a node by id, label, alias or code (a bottleneck's B, an action line's 2), case-
    insensitive, in that order; RunError with suggestions if none."""
    import difflib

    if text in g:
        return text
    wanted = text.casefold()
    for n, d in sorted(g.nodes(data=True)):
        names = [d.get("label_nl", ""), d.get("label_en", ""), *d.get("aliases", [])]
        if any(name.casefold() == wanted for name in names):
            return str(n)
    for n, d in sorted(g.nodes(data=True)):
        if d.get("notation") and d["notation"].casefold() == wanted:
            return str(n)
    close = difflib.get_close_matches(text, sorted(g.nodes), n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise RunError(f"no entity {text!r} in the graph{hint}")


# --- CLI plumbing shared by analyze, export and render -------------------------------------------


def build_option(func: Any) -> Any:
    """The --build option: which build folder to read (default: the project's build/)."""
    func = endpoint_option(func)
    return click.option(
        "--build",
        "build_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Build folder to read (default: build/ in the project, or $DKG_BUILD).",
    )(func)


def graph_for(ctx: click.Context, build_dir: Path | None) -> nx.MultiDiGraph:
    """Open the current build chosen on the command line and load it as a graph."""
    from graph.cli import root_of
    from graph.query import backend_for
    from graph.store import open_backend

    backend = open_backend(root_of(ctx), build_dir) if build_dir else backend_for(ctx)
    return load_graph(backend)


def projection_options(func: Any) -> Any:
    """Options that choose and adjust a projection."""
    opts = [
        click.option(
            "--projection",
            "projection_name",
            type=click.Choice(sorted(PROJECTIONS)),
            default="network",
            show_default=True,
            help="Which node types and relations count.",
        ),
        click.option(
            "--types", default=None, help="Comma-separated node types, overriding the projection's."
        ),
        click.option(
            "--relations",
            default=None,
            help="Comma-separated relations, overriding the projection's.",
        ),
        click.option(
            "--standing",
            "standings",
            default=None,
            help="Comma-separated standings that count (default: stated,inferred,analyst).",
        ),
        click.option(
            "--modal/--actual-only",
            default=False,
            help="Also count planned, possible and conditional claims (default: only actual ones).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _split(value: str | None, allowed: tuple[str, ...], what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(
        sorted(
            {v.strip() for v in value.split(",") if v.strip()}, key=lambda v: (v not in allowed, v)
        )
    )
    unknown = [v for v in items if v not in allowed]
    if unknown:
        raise click.BadParameter(
            f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    return items


def projection_from(
    projection_name: str,
    types: str | None,
    relations: str | None,
    standings: str | None,
    modal: bool,
) -> Projection:
    """Build the Projection chosen by projection_options."""
    from graph.vocab import RELATIONS

    base = PROJECTIONS[projection_name]
    rel_names = tuple(sorted(r for r, kind in RELATIONS.items() if kind == "object"))
    changed = base.with_(
        node_types=_split(types, NODE_TYPES, "node type"),
        relations=_split(relations, rel_names, "relation"),
        standings=_split(standings, STANDINGS, "standing"),
        modalities=MODALITIES if modal else None,
    )
    if changed != base:
        changed = changed.with_(name=f"{base.name} (adjusted)")
    return changed


def default_build_dir(ctx: click.Context, build_dir: Path | None) -> Path:
    """The build folder chosen on the command line, else the project's default."""
    from graph.cli import root_of
    from graph.layout import default_out

    return build_dir or default_out(root_of(ctx))
