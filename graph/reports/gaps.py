"""Gaps: where nothing is done, or nothing concrete.

- bottlenecks that no action, instrument or policy addresses (no claim of any standing);
- bottlenecks reached only by inference or an analyst's judgement: no source names a concrete
  measure for them in so many words;
- actions and instruments with no money attached (no amount on them or on a part of them);
- promises whose date has passed by --as-of, and that no later document reports as done.
"""

from __future__ import annotations

from datetime import date

from graph.reports import commitments, coverage
from graph.reports.base import Column, Report, Section, unique_sources
from graph.reports.data import claims, kind_of, labels, local, object_text, types
from graph.store import Backend


def unfunded(backend: Backend) -> list[str]:
    """Actions and instruments with no affirmed amount on them or on any part of them.

    MINUS rather than FILTER NOT EXISTS: pyoxigraph evaluates the latter row by row.
    """
    table = backend.select(
        "SELECT DISTINCT ?i WHERE { VALUES ?type { dkg:Action dkg:Instrument } ?i a ?type ."
        " MINUS { ?i dkg:budget ?amount }"
        " MINUS { ?part dkg:partOf+ ?i . ?part dkg:budget ?partAmount } }"
    )
    return sorted(r["i"].value for r in table.rows if r["i"] is not None)


def report(backend: Backend, as_of: date, lang: str) -> Report:
    """The gaps report."""
    cov = coverage.compute(backend, lang)
    name = cov.labels.get

    pending = claims(
        backend,
        "?claim rdf:predicate dkg:addresses ; dkg:polarity dkg:Affirmed ; dkg:modality ?m ."
        " FILTER(?m != dkg:Actual)",
    )
    pending_names = labels(backend, [c.subject for c in pending], lang)
    nothing = []
    only_inferred = []
    for b in cov.bottlenecks:
        cells = cov.row(b)
        lines = cov.lines.get(b, [])
        line_text = [f"{cov.line_code(m.line)}{'' if m.primary else ' (also)'}" for m in lines]
        if not cells:
            future = [c for c in pending if c.object_id == b]
            nothing.append(
                {
                    "code": cov.code(b),
                    "bottleneck": local(b),
                    "label": name(b, local(b)),
                    "action_lines": line_text,
                    "not_yet": sorted(
                        f"{pending_names.get(c.subject, local(c.subject))} ({c.modality})"
                        for c in future
                    ),
                    "sources": unique_sources(
                        [s for m in lines for s in m.sources]
                        + [s for c in future for s in c.sources]
                    ),
                }
            )
        elif all(c.standing != "stated" for c in cells):
            reached = [
                f"{name(c.intervention, local(c.intervention))} ({c.standing}"
                + (f" via {cov.line_code(c.via)})" if c.via else ")")
                for c in cells
            ]
            only_inferred.append(
                {
                    "code": cov.code(b),
                    "bottleneck": local(b),
                    "label": name(b, local(b)),
                    "reached_by": reached,
                    "sources": unique_sources([s for c in cells for s in c.sources]),
                }
            )

    idle = unfunded(backend)
    funders = claims(
        backend,
        "?claim rdf:predicate dkg:funds ; dkg:polarity dkg:Affirmed .",
    )
    kinds = {i: kind_of(t) for i, t in types(backend, idle).items()}
    names = labels(backend, [*idle, *(f.subject for f in funders)], lang)
    no_money = []
    for i in sorted(idle, key=lambda i: (kinds.get(i, ""), names.get(i, "").lower(), i)):
        funded = [f for f in funders if f.object_id == i]
        no_money.append(
            {
                "id": local(i),
                "label": names.get(i, local(i)),
                "type": kinds.get(i, ""),
                "in_matrix": any(k[1] == i for k in cov.cells),
                "funded_by": sorted({names.get(f.subject, local(f.subject)) for f in funded}),
                "sources": unique_sources([s for f in funded for s in f.sources]),
            }
        )

    promised = commitments.compute(backend, as_of)
    pnames = labels(
        backend,
        [
            x
            for m in promised
            for x in (m.claim.subject, m.claim.predicate, m.claim.object_id or "")
        ],
        lang,
    )
    overdue = []
    for m in promised:
        c = m.claim
        if m.status != "overdue" or c.when is None:
            continue
        overdue.append(
            {
                "by": pnames.get(c.subject, local(c.subject)),
                "what": f"{pnames.get(c.predicate, c.relation)} {object_text(c, pnames)}",
                "due": c.when.show(),
                "ended": c.when.end.isoformat(),
                "claim": c.iri,
                "sources": c.sources,
            }
        )

    sections = [
        Section(
            "no_action",
            "Bottlenecks no action addresses",
            [
                Column("code", "code"),
                Column("bottleneck", "id", table=False),
                Column("label", "bottleneck"),
                Column("action_lines", "action lines"),
                Column("not_yet", "only planned or conditional", show=lambda v: "\n".join(v)),
            ],
            nothing,
            note="No claim of any standing says an intervention addresses these now; "
            "some are addressed by a plan or under a condition.",
        ),
        Section(
            "only_inferred",
            "Bottlenecks reached only by inference or an analyst's judgement",
            [
                Column("code", "code"),
                Column("bottleneck", "id", table=False),
                Column("label", "bottleneck"),
                Column("reached_by", "reached by", show=lambda v: "\n".join(v)),
            ],
            only_inferred,
            note="No source names a concrete measure for these; they are reached through an action line or a curator's reading.",
        ),
        Section(
            "no_money",
            "Actions and instruments with no money attached",
            [
                Column("id", "id", table=False),
                Column("label", "intervention"),
                Column("type", "type"),
                Column("in_matrix", "addresses a bottleneck"),
                Column("funded_by", "funded by (amount unknown)"),
            ],
            no_money,
            note="No amount is stated for these, nor for any part of them.",
        ),
        Section(
            "promises_passed",
            f"Promises whose date has passed (as of {as_of.isoformat()})",
            [
                Column("by", "by"),
                Column("what", "promise"),
                Column("due", "by when"),
                Column("ended", "period ended"),
                Column("claim", "claim", table=False),
            ],
            overdue,
            note="A promise for a year has passed only after its 31 December; one that a later document reports as done is not listed.",
        ),
    ]
    rep = Report("gaps", "Gaps: where nothing (concrete) is done", sections)
    data = rep.as_json()
    data["as_of"] = as_of.isoformat()
    rep.data = data
    return rep
