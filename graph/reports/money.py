"""Money: the amounts of instruments (and any other intervention) with their dates, and the totals
per action line and per bottleneck, never counting one euro twice.

- One instrument's amount stated in two documents is one amount (with both dates and sources).
- A fund's size changes over time: every amount is listed with the date it was stated; totals use
  each instrument's latest actual amount, once.
- Per action line and per bottleneck, an instrument counts once however many claims link it there,
  and a part is not counted beside a whole that has its own amount (dkg:partOf).
- Thresholds (the amount above which a rule applies) are money nobody spends: listed, never summed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from graph.errors import counted
from graph.reports import coverage
from graph.reports.base import Column, Report, Section, Source, unique_sources
from graph.reports.data import (
    Claim,
    When,
    claim_date,
    claims,
    document_dates,
    iri,
    labels,
    local,
    money,
    values,
)
from graph.store import Backend


@dataclass
class Amount:
    """One amount of one holder, however many claims state it."""

    holder: str
    value: float
    currency: str
    modality: str
    claims: list[Claim] = field(default_factory=list)
    dates: list[When] = field(default_factory=list)
    current: bool = False

    @property
    def sources(self) -> list[Source]:
        """The sources of every claim stating it."""
        return unique_sources([s for c in self.claims for s in c.sources])

    @property
    def latest(self) -> When | None:
        """The latest date it was stated."""
        return max(self.dates, key=lambda w: w.sort_key()) if self.dates else None


def when_key(w: When | None) -> tuple[date, int]:
    """Sort key of an optional date: undated first."""
    return w.sort_key() if w is not None else (date.min, 9)


def amounts(backend: Backend, relation: str = "budget") -> list[Amount]:
    """Every distinct (holder, value, currency, modality) of a money relation, with its dates."""
    if relation not in {"budget", "threshold"}:
        raise ValueError(relation)
    found = claims(backend, f"?claim rdf:predicate dkg:{relation} ; dkg:polarity dkg:Affirmed .")
    doc_dates = document_dates(backend)
    grouped: dict[tuple[str, float, str, str], Amount] = {}
    for c in found:
        if c.amount is None:
            continue
        value, currency = c.amount
        key = (c.subject, value, currency, c.modality)
        amount = grouped.setdefault(key, Amount(c.subject, value, currency, c.modality))
        amount.claims.append(c)
        when = claim_date(c, doc_dates)
        if when is not None and when not in amount.dates:
            amount.dates.append(when)
    result = sorted(grouped.values(), key=lambda a: (a.holder, when_key(a.latest), a.value))
    for a in result:
        a.dates.sort(key=lambda w: w.sort_key())
    by_holder: dict[str, list[Amount]] = defaultdict(list)
    for a in result:
        if a.modality == "actual":
            by_holder[a.holder].append(a)
    for group in by_holder.values():
        best = max(group, key=lambda a: (when_key(a.latest), a.value))
        best.current = True
    return result


def parents(backend: Backend, holders: list[str]) -> dict[str, set[str]]:
    """Everything each holder is (transitively) part of."""
    out: dict[str, set[str]] = defaultdict(set)
    if not holders:
        return out
    table = backend.select(
        "SELECT DISTINCT ?x ?whole WHERE { "
        + values("x", map(iri, sorted(holders)))
        + " ?x dkg:partOf+ ?whole }"
    )
    for row in table.rows:
        if row["x"] is not None and row["whole"] is not None:
            out[row["x"].value].add(row["whole"].value)
    return out


def once(
    holders: set[str], current: dict[str, Amount], part_of: dict[str, set[str]]
) -> list[Amount]:
    """The amounts to sum over a set of holders: each once, and no part beside its whole."""
    funded = {h for h in holders if h in current}
    return [current[h] for h in sorted(funded) if not (part_of.get(h, set()) & funded)]


def totals(items: list[Amount]) -> dict[str, float]:
    """Sum per currency."""
    out: dict[str, float] = defaultdict(float)
    for a in items:
        out[a.currency] += a.value
    return dict(sorted(out.items()))


def show_totals(sums: dict[str, float]) -> str:
    """Totals as text: 'EUR 135 million'."""
    return " + ".join(money(v, c) for c, v in sums.items()) if sums else ""


def report(backend: Backend, lang: str) -> Report:
    """The money report."""
    found = amounts(backend)
    current = {a.holder: a for a in found if a.current}
    part_of = parents(backend, sorted(current))
    cov = coverage.compute(backend, lang, focus=sorted(current))
    in_line = claims(
        backend,
        "?claim rdf:predicate dkg:inActionLine ; dkg:polarity dkg:Affirmed ; dkg:modality dkg:Actual .",
    )
    thresholds = amounts(backend, "threshold")
    names = labels(
        backend,
        [
            *current,
            *(a.holder for a in found),
            *(c.object.value for c in in_line),
            *(t.holder for t in thresholds),
        ],
        lang,
    )
    name = lambda x: names.get(x) or cov.labels.get(x) or local(x)  # noqa: E731

    per_instrument = []
    for a in sorted(found, key=lambda a: (name(a.holder).lower(), a.holder, when_key(a.latest))):
        status = "current" if a.current else "planned" if a.modality != "actual" else "earlier"
        per_instrument.append(
            {
                "id": local(a.holder),
                "instrument": name(a.holder),
                "value": a.value,
                "currency": a.currency,
                "amount": money(a.value, a.currency),
                "dates": [w.show() for w in a.dates],
                "status": status,
                "note": "; ".join(sorted({c.note for c in a.claims if c.note})) or None,
                "sources": a.sources,
            }
        )

    lines: dict[str, list[Claim]] = defaultdict(list)
    for c in in_line:
        lines[c.object.value].append(c)
    per_line = []
    for line in sorted(lines, key=lambda x: (cov.line_code(x), x)):
        members = {c.subject for c in lines[line]}
        chosen = once(members, current, part_of)
        if not chosen:
            continue
        why = [c for c in lines[line] if c.subject in {a.holder for a in chosen}]
        per_line.append(
            {
                "id": local(line),
                "code": cov.line_code(line),
                "action_line": name(line),
                "instruments": [f"{name(a.holder)}: {money(a.value, a.currency)}" for a in chosen],
                "totals": totals(chosen),
                "total": show_totals(totals(chosen)),
                "sources": unique_sources(
                    [s for c in why for s in c.sources] + [s for a in chosen for s in a.sources]
                ),
            }
        )

    per_bottleneck = []
    for b in cov.bottlenecks:
        cells = {c.intervention: c for c in cov.row(b)}
        chosen = once(set(cells), current, part_of)
        if not chosen:
            continue
        per_bottleneck.append(
            {
                "id": local(b),
                "code": cov.code(b),
                "bottleneck": name(b),
                "instruments": [
                    f"{name(a.holder)}: {money(a.value, a.currency)} ({cells[a.holder].standing})"
                    for a in chosen
                ],
                "totals": totals(chosen),
                "total": show_totals(totals(chosen)),
                "sources": unique_sources(
                    [s for a in chosen for s in cells[a.holder].sources + a.sources]
                ),
            }
        )

    rules = [
        {
            "id": local(t.holder),
            "rule": name(t.holder),
            "value": t.value,
            "currency": t.currency,
            "amount": money(t.value, t.currency),
            "dates": [w.show() for w in t.dates],
            "sources": t.sources,
        }
        for t in thresholds
    ]
    overall = once(set(current), current, part_of)
    total_text = show_totals(totals(overall))
    sections = [
        Section(
            "instruments",
            "Amounts per instrument",
            [
                Column("id", "id", table=False),
                Column("instrument", "instrument"),
                Column("amount", "amount"),
                Column("value", "value", table=False),
                Column("currency", "currency", table=False),
                Column("dates", "stated for"),
                Column("status", "status"),
                Column("note", "note"),
            ],
            per_instrument,
            note="'stated for': the claim's own date, else the date of the document stating it. "
            "Totals use each instrument's current amount, once.",
        ),
        Section(
            "action_lines",
            "Per action line",
            [
                Column("id", "id", table=False),
                Column("code", "line"),
                Column("action_line", "action line"),
                Column("instruments", "instruments", show=lambda v: "\n".join(v)),
                Column("total", "total"),
            ],
            per_line,
        ),
        Section(
            "bottlenecks",
            "Per bottleneck (instruments that address it, by any standing)",
            [
                Column("id", "id", table=False),
                Column("code", "code"),
                Column("bottleneck", "bottleneck"),
                Column("instruments", "instruments (standing)", show=lambda v: "\n".join(v)),
                Column("total", "total"),
            ],
            per_bottleneck,
            note="An instrument reaching a bottleneck through several claims or action lines counts once; "
            "one instrument can serve several bottlenecks, so these rows do not add up.",
        ),
        Section(
            "thresholds",
            "Thresholds (the amount above which a rule applies; not money spent, never summed)",
            [
                Column("id", "id", table=False),
                Column("rule", "rule"),
                Column("amount", "amount"),
                Column("dates", "stated for"),
            ],
            rules,
        ),
    ]
    notes = [
        f"Total of current amounts: {total_text or 'none'} ({counted(len(overall), 'instrument')}, each counted once)."
    ]
    rep = Report(
        "money", "Money: amounts per instrument, action line and bottleneck", sections, notes=notes
    )
    data = rep.as_json()
    data["total"] = totals(overall)
    rep.data = data
    return rep
