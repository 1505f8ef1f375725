"""The SPARQL the reports share: claims with their qualifiers, their sources (through the premises
of inferred claims), labels in a language, and dates with their precision.

Every query goes through a graph.store.Backend. Values from outside (entity IRIs, claim IRIs) enter
a query only as terms of a VALUES block, written by Term.n3(). Queries select and de-duplicate the
claims first and look up labels and sources afterwards, in chunks, so they stay cheap on a large
graph; DISTINCT everywhere, since the default graph is the union of the named graphs and a triple
held in two of them would otherwise come back twice.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from graph import constants as C
from graph.reports.base import Source, unique_sources
from graph.store import Backend, Term

CHUNK = 400
DKG = C.ONTOLOGY
XSD = C.PREFIXES["xsd"]
STANDING_RANK = {"stated": 0, "inferred": 1, "analyst": 2}


def iri(value: str) -> Term:
    """An IRI term."""
    return Term("iri", value)


def entity(entity_id: str) -> str:
    """The IRI of an entity id."""
    return C.ID + entity_id


def values(var: str, terms: Iterable[Term]) -> str:
    """A VALUES block binding ?var to terms, each written safely by Term.n3()."""
    return f"VALUES ?{var} {{ {' '.join(t.n3() for t in terms)} }}"


def chunks(items: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    """Split IRIs into lists of at most size, in sorted order (deterministic queries)."""
    items = sorted(set(items))
    for i in range(0, len(items), size):
        yield items[i : i + size]


@functools.lru_cache(maxsize=1 << 16)
def local(value: str | None) -> str:
    """The id of a dkg IRI (entity, ontology term), else the IRI."""
    if value is None:
        return ""
    return Term("iri", value).local


def natural(text: str) -> tuple[object, ...]:
    """A sort key that puts a2 before a10."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text))


# --- Labels ---------------------------------------------------------------------------------------


def labels(backend: Backend, iris: Iterable[str], lang: str) -> dict[str, str]:
    """Labels of entities and ontology terms in lang (else the other language, else the id)."""
    return labels_in(backend, iris, [lang])[lang]


def labels_in(backend: Backend, iris: Iterable[str], langs: list[str]) -> dict[str, dict[str, str]]:
    """labels() in each of several languages, from one pass over the labels."""
    found: dict[str, list[tuple[int, str | None, str]]] = defaultdict(list)
    pool = [i for i in set(iris) if i]
    for part in chunks(pool):
        table = backend.select(
            "SELECT DISTINCT ?x ?label ?kind WHERE { "
            + values("x", map(iri, part))
            + " { ?x skos:prefLabel ?label BIND(0 AS ?kind) } UNION { ?x rdfs:label ?label BIND(1 AS ?kind) } }"
        )
        for row in table.rows:
            x, label, kind = row["x"], row["label"], row["kind"]
            if x is not None and label is not None and kind is not None:
                found[x.value].append((int(kind.value), label.lang, label.value))
    out: dict[str, dict[str, str]] = {}
    for lang in langs:
        named = out[lang] = {}
        for name in pool:
            # prefLabel before rdfs:label; then this language, another one, none; then the least
            ranked = [
                ((k, 0 if tag == lang else 1 if tag else 2), text)
                for k, tag, text in found.get(name, ())
            ]
            named[name] = min(ranked)[1] if ranked else local(name)
    return out


# --- Dates ----------------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
QUALIFIER_WORDS = {
    "Begin": "beginning of",
    "Mid": "mid",
    "End": "end of",
    "Before": "by",
    "After": "after",
    "Around": "around",
}


@dataclass(frozen=True)
class When:
    """A date with the precision the source gives it (year, month or day) and how it is meant."""

    text: str
    precision: str
    qualifier: str | None = None

    @property
    def parts(self) -> tuple[int, int | None, int | None]:
        """Year, month and day (None where not given)."""
        m = _DATE.match(self.text)
        assert m is not None
        return int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None

    @property
    def start(self) -> date:
        """The first day of the period."""
        y, m, d = self.parts
        return date(y, m or 1, d or 1)

    @property
    def end(self) -> date:
        """The last day of the period: 2026 ends on 2026-12-31, 2025-03 on 2025-03-31."""
        y, m, d = self.parts
        if d is not None and m is not None:
            return date(y, m, d)
        if m is not None:
            return date(y, m, calendar.monthrange(y, m)[1])
        return date(y, 12, 31)

    def sort_key(self) -> tuple[date, int]:
        """Order by start, finer precision first."""
        return self.start, {"day": 0, "month": 1, "year": 2}[self.precision]

    def show(self) -> str:
        """The date as written, with its qualifier: 'end of 2025-03'."""
        if self.qualifier:
            return f"{QUALIFIER_WORDS.get(self.qualifier, self.qualifier.lower())} {self.text}"
        return self.text

    def passed(self, as_of: date) -> bool:
        """Whether the whole period is over on as_of (a year has passed only after 31 December)."""
        return self.end < as_of


def when_of(term: Term | None, qualifier: str | None = None) -> When | None:
    """Read a date literal (xsd:gYear, xsd:gYearMonth, xsd:date) keeping its precision."""
    if term is None or term.kind != "literal":
        return None
    text = term.value.strip()
    m = _DATE.match(text)
    if not m:
        return None
    precision = "day" if m[3] else "month" if m[2] else "year"
    return When(text, precision, qualifier)


def is_date(term: Term | None) -> bool:
    """Whether a term is a date literal of any precision."""
    return (
        term is not None
        and term.kind == "literal"
        and term.datatype in {XSD + "date", XSD + "gYear", XSD + "gYearMonth"}
    )


# --- Claims ---------------------------------------------------------------------------------------


@dataclass
class Claim:
    """A claim node as the reports need it."""

    iri: str
    subject: str
    predicate: str
    object: Term
    standing: str
    polarity: str
    modality: str
    when: When | None = None
    date_qualifier: str | None = None
    via: str | None = None
    via_primary: bool | None = None
    amount: tuple[float, str] | None = None
    note: str | None = None
    sources: list[Source] = field(default_factory=list)

    @property
    def relation(self) -> str:
        """The relation's local name (addresses, leads, ...)."""
        return local(self.predicate)

    @property
    def affirmed(self) -> bool:
        """The claim says the relation holds."""
        return self.polarity == "affirmed"

    @property
    def object_id(self) -> str | None:
        """The object's IRI when it is an entity."""
        return self.object.value if self.object.kind == "iri" and self.amount is None else None

    @property
    def object_date(self) -> When | None:
        """The object as a date, when it is one."""
        return when_of(self.object, self.date_qualifier) if is_date(self.object) else None


BASIC_FIELDS = """
  ?claim rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
         dkg:standing ?standing ; dkg:polarity ?polarity ; dkg:modality ?modality .
  OPTIONAL { ?claim dkg:via ?via }
  OPTIONAL { ?claim dkg:viaPrimary ?viaPrimary }
"""

CLAIM_FIELDS = """
  ?claim rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
         dkg:standing ?standing ; dkg:polarity ?polarity ; dkg:modality ?modality .
  OPTIONAL { ?claim dkg:when ?when }
  OPTIONAL { ?claim dkg:whenQualifier ?wq }
  OPTIONAL { ?claim dkg:dateQualifier ?dq }
  OPTIONAL { ?claim dkg:via ?via }
  OPTIONAL { ?claim dkg:viaPrimary ?viaPrimary }
  OPTIONAL { ?o schema:value ?value ; schema:currency ?currency }
  OPTIONAL { ?claim rdfs:comment ?note }
"""


def _lower_local(term: Term | None) -> str | None:
    return local(term.value).lower() if term is not None else None


def claims(
    backend: Backend, where: str, with_sources: bool = True, full: bool = True
) -> list[Claim]:
    """Claims selected by a WHERE pattern binding ?claim (fixed text, parameters as VALUES).

    full=False leaves out dates, amounts and notes, for the large sets of 'addresses' claims.
    """
    query = (
        "SELECT DISTINCT ?claim ?s ?p ?o ?standing ?polarity ?modality ?when ?wq ?dq ?via ?viaPrimary "
        "?value ?currency ?note WHERE { { SELECT DISTINCT ?claim WHERE { ?claim a dkg:Claim . "
        + where
        + " } } "
        + (CLAIM_FIELDS if full else BASIC_FIELDS)
        + "}"
    )
    found: dict[str, Claim] = {}
    for row in backend.select(query).rows:
        c, s, p, o = row["claim"], row["s"], row["p"], row["o"]
        if c is None or s is None or p is None or o is None or c.value in found:
            continue
        value, currency = row.get("value"), row.get("currency")
        vp = row["viaPrimary"]
        found[c.value] = Claim(
            iri=c.value,
            subject=s.value,
            predicate=p.value,
            object=o,
            standing=_lower_local(row["standing"]) or "stated",
            polarity=_lower_local(row["polarity"]) or "affirmed",
            modality=_lower_local(row["modality"]) or "actual",
            when=when_of(row.get("when"), local(wq.value) if (wq := row.get("wq")) else None),
            date_qualifier=local(dq.value) if (dq := row.get("dq")) else None,
            via=row["via"].value if row["via"] else None,
            via_primary=(vp.value == "true") if vp is not None else None,
            amount=(float(value.value), currency.value)
            if value is not None and currency is not None
            else None,
            note=note.value if (note := row.get("note")) is not None else None,
        )
    result = sorted(found.values(), key=lambda c: c.iri)
    if with_sources:
        attach_sources(backend, result)
    return result


def claim_sources(backend: Backend, claim_iris: Iterable[str]) -> dict[str, list[Source]]:
    """Each claim's sources: its own document and locator, or those of the premises it rests on."""
    out: dict[str, list[Source]] = defaultdict(list)
    for part in chunks(claim_iris):
        table = backend.select(
            "SELECT DISTINCT ?claim ?doc ?loc ?quote WHERE { "
            + values("claim", map(iri, part))
            + " ?claim dkg:premise* ?p . ?p dkg:source ?doc ; dkg:locator ?loc ."
            " OPTIONAL { ?p dkg:quote ?quote } }"
        )
        for row in table.rows:
            c, doc, loc, quote = row["claim"], row["doc"], row["loc"], row["quote"]
            if c is None or doc is None or loc is None:
                continue
            out[c.value].append(Source(local(doc.value), loc.value, quote.value if quote else None))
    return {k: unique_sources(v) for k, v in out.items()}


def attach_sources(backend: Backend, found: list[Claim]) -> None:
    """Fill in the sources of claims."""
    sources = claim_sources(backend, (c.iri for c in found))
    for c in found:
        c.sources = sources.get(c.iri, [])


def types(backend: Backend, iris: Iterable[str]) -> dict[str, set[str]]:
    """The dkg classes of entities, by local name."""
    out: dict[str, set[str]] = defaultdict(set)
    for part in chunks(iris):
        table = backend.select(
            "SELECT DISTINCT ?x ?t WHERE { " + values("x", map(iri, part)) + " ?x a ?t ."
            f' FILTER(STRSTARTS(STR(?t), "{DKG}")) }}'
        )
        for row in table.rows:
            if row["x"] is not None and row["t"] is not None:
                out[row["x"].value].add(local(row["t"].value))
    return out


INTERVENTION_TYPES = ("Instrument", "Action", "Policy")


def notations(backend: Backend, iris: Iterable[str]) -> dict[str, str]:
    """The code (skos:notation) of each entity that has one: a bottleneck's letter, an action
    line's number."""
    wanted = sorted(set(iris))
    if not wanted:
        return {}
    rows = backend.select(
        "SELECT DISTINCT ?x ?n WHERE { " + values("x", map(iri, wanted)) + " ?x skos:notation ?n }"
    ).rows
    return {r["x"].value: r["n"].value for r in rows if r["x"] is not None and r["n"] is not None}


def kind_of(type_names: set[str]) -> str:
    """The most telling class of an entity, for a 'type' column."""
    for t in (
        *INTERVENTION_TYPES,
        "Bottleneck",
        "ActionLine",
        "SourceDocument",
        "Document",
        "Event",
    ):
        if t in type_names:
            return t
    specific = sorted(t for t in type_names if t not in {"Actor", "Intervention", "Claim"})
    return specific[0] if specific else (sorted(type_names)[0] if type_names else "")


def money(value: float, currency: str) -> str:
    """An amount as people read it: 'EUR 100 million', 'EUR 500,000'."""
    if value >= 1_000_000_000 and value % 10_000_000 == 0:
        return f"{currency} {value / 1e9:g} billion"
    if value >= 1_000_000 and value % 10_000 == 0:
        return f"{currency} {value / 1e6:g} million"
    if value == int(value):
        return f"{currency} {int(value):,}"
    return f"{currency} {value:,.2f}"


def object_text(c: Claim, names: dict[str, str]) -> str:
    """A claim's object as a reader sees it: a label, an amount, a date or the text."""
    if c.amount is not None:
        return money(*c.amount)
    if c.object.kind == "iri":
        return names.get(c.object.value, local(c.object.value))
    d = c.object_date
    if d is not None:
        return d.show()
    return c.object.value


def qualifiers(c: Claim, with_when: bool = True) -> str:
    """What makes a claim more than a plain fact: 'not', 'planned', 'when 2026'."""
    parts = []
    if not c.affirmed:
        parts.append("not")
    if c.modality != "actual":
        parts.append(c.modality)
    if with_when and c.when is not None:
        parts.append(f"when {c.when.show()}")
    return ", ".join(parts)


def statement(c: Claim, names: dict[str, str]) -> str:
    """A claim in words: 'Ministry of Finance does NOT: takes part in financing table'."""
    subject = names.get(c.subject, local(c.subject))
    relation = names.get(c.predicate, c.relation)
    neg = "NOT " if not c.affirmed else ""
    return f"{subject} — {neg}{relation} — {object_text(c, names)}"


def names_for(
    backend: Backend, found: Iterable[Claim], lang: str, extra: Iterable[str] = ()
) -> dict[str, str]:
    """Labels of every subject, relation and entity object of some claims."""
    pool: set[str] = set(extra)
    for c in found:
        pool.add(c.subject)
        pool.add(c.predicate)
        if c.object_id:
            pool.add(c.object_id)
        if c.via:
            pool.add(c.via)
    return labels(backend, pool, lang)


def document_dates(backend: Backend) -> dict[str, When]:
    """Each source document's date, by document id."""
    out = {}
    for row in backend.select(
        "SELECT DISTINCT ?doc ?date WHERE { ?doc a dkg:SourceDocument ; dcterms:date ?date }"
    ).rows:
        w = when_of(row["date"])
        if row["doc"] is not None and w is not None:
            out[local(row["doc"].value)] = w
    return out


def claim_date(c: Claim, doc_dates: dict[str, When]) -> When | None:
    """When a claim holds: its own 'when', else the date of the document that states it."""
    if c.when is not None:
        return c.when
    dates = [doc_dates[s.document] for s in c.sources if s.document in doc_dates]
    return min(dates, key=lambda w: w.sort_key()) if dates else None
