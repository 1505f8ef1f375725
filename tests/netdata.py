"""A small corpus with a known network shape, for the analysis, export and render tests.

The actors form a chain whose middle is known (the actors projection is the path
ez - secfund - defensie - financieringstafel - defport), a negated claim links Financiën to the
table, a planned claim links EZ to the Kamer, one analyst claim and the action-line rule add
addresses-edges, and knelpunt-c is addressed by nothing. `payload=True` puts script-injection
payloads into labels, aliases, descriptions, quotes and a text claim, to test the HTML view.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

PAYLOADS = (
    '<img src=x onerror="alert(1);window.__pwned=1">',
    "</script><script>alert(1);window.__pwned=1</script>",
    '"><svg onload="alert(1);window.__pwned=1">',
)


def _entity(ident: str, type_: str, nl: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": type_, "label": {"nl": nl, "en": en}, **extra}


def entities(payload: bool = False) -> list[dict[str, Any]]:
    """The registry."""
    p0, p1, p2 = PAYLOADS
    ez_label = f"Ministerie van EZ {p0}" if payload else "Ministerie van Economische Zaken"
    return [
        _entity(
            "ez",
            "GovernmentBody",
            ez_label,
            "Ministry of Economic Affairs",
            aliases=["EZK", *([p1] if payload else [])],
            description={
                "nl": f"Het ministerie {p2}" if payload else "Het ministerie van EZK.",
                "en": "The ministry.",
            },
        ),
        _entity(
            "defensie",
            "GovernmentBody",
            "Ministerie van Defensie",
            "Ministry of Defence",
            aliases=["MinDef"],
        ),
        _entity("financien", "GovernmentBody", "Ministerie van Financiën", "Ministry of Finance"),
        _entity("defport", "Platform", f"Defport {p1}" if payload else "Defport", "Defport"),
        _entity("tweede-kamer", "GovernmentBody", "Tweede Kamer", "House of Representatives"),
        _entity(
            "secfund", "Instrument", "SecFund", "SecFund", aliases=["Secfund", "Security Fund"]
        ),
        _entity(
            "ttt", "Action", "Technology Transfer Team", "Technology Transfer Team", aliases=["TTT"]
        ),
        _entity("financieringstafel", "Action", "financieringstafel", "financing table"),
        _entity("idea-knelpunten", "ConceptScheme", "knelpunten van IDEA", "IDEA's bottlenecks"),
        _entity(
            "knelpunt-a",
            "Bottleneck",
            "toegang tot kapitaal",
            "access to capital",
            in_scheme="idea-knelpunten",
            notation="A",
        ),
        _entity(
            "knelpunt-b",
            "Bottleneck",
            "voorfinanciering",
            "pre-financing",
            in_scheme="idea-knelpunten",
            notation="B",
        ),
        _entity(
            "knelpunt-c",
            "Bottleneck",
            "certificering",
            "certification",
            in_scheme="idea-knelpunten",
            notation="C",
        ),
        _entity("actielijnen-2025", "ConceptScheme", "actielijnen", "action lines"),
        _entity(
            "actielijn-1",
            "ActionLine",
            "Samenwerken",
            "Working together",
            in_scheme="actielijnen-2025",
            notation="1",
        ),
        _entity(
            "actielijn-2",
            "ActionLine",
            "Private financiering",
            "Private finance",
            in_scheme="actielijnen-2025",
            notation="2",
        ),
    ]


def claims(payload: bool = False) -> list[dict[str, Any]]:
    """The claims of the one document, each with a quote that the source text will contain."""
    p0, p1, _p2 = PAYLOADS
    c = [
        {
            "id": "ez-funds-secfund",
            "subject": "ez",
            "relation": "funds",
            "object": "secfund",
            "quote": f"EZ financiert het SecFund {p0}."
            if payload
            else "EZ financiert het SecFund.",
        },
        {
            "id": "defensie-funds-secfund",
            "subject": "defensie",
            "relation": "funds",
            "object": "secfund",
            "quote": "Defensie financiert het SecFund mede.",
        },
        {
            "id": "defensie-leads-tafel",
            "subject": "defensie",
            "relation": "leads",
            "object": "financieringstafel",
            "quote": "Defensie zit de financieringstafel voor.",
        },
        {
            "id": "defport-at-tafel",
            "subject": "defport",
            "relation": "participatesIn",
            "object": "financieringstafel",
            "quote": f"Defport neemt deel aan de tafel {p1}."
            if payload
            else "Defport neemt deel aan de tafel.",
        },
        {
            "id": "financien-not-at-tafel",
            "subject": "financien",
            "relation": "participatesIn",
            "object": "financieringstafel",
            "polarity": "negated",
            "quote": "Financiën sluit in deze fase nog niet aan.",
        },
        {
            "id": "ez-informs-kamer",
            "subject": "ez",
            "relation": "informs",
            "object": "tweede-kamer",
            "modality": "planned",
            "when": "2026",
            "quote": "De Kamer wordt in 2026 geïnformeerd.",
        },
        {
            "id": "secfund-in-2",
            "subject": "secfund",
            "relation": "inActionLine",
            "object": "actielijn-2",
            "quote": "Het SecFund valt onder actielijn 2.",
        },
        {
            "id": "tafel-in-1",
            "subject": "financieringstafel",
            "relation": "inActionLine",
            "object": "actielijn-1",
            "quote": "De financieringstafel valt onder actielijn 1.",
        },
        {
            "id": "b-primary-2",
            "subject": "knelpunt-b",
            "relation": "primaryActionLine",
            "object": "actielijn-2",
            "quote": "Knelpunt B hoort bij actielijn 2.",
        },
        {
            "id": "a-primary-1",
            "subject": "knelpunt-a",
            "relation": "primaryActionLine",
            "object": "actielijn-1",
            "quote": "Knelpunt A hoort bij actielijn 1.",
        },
        {
            "id": "a-secondary-2",
            "subject": "knelpunt-a",
            "relation": "secondaryActionLine",
            "object": "actielijn-2",
            "quote": "Knelpunt A raakt ook aan actielijn 2.",
        },
        {
            "id": "ttt-addresses-a",
            "subject": "ttt",
            "relation": "addresses",
            "object": "knelpunt-a",
            "standing": "analyst",
            "rationale": "Transfer brings capital." + (f" {p0}" if payload else ""),
            "quote": "Het TTT helpt bedrijven aan kapitaal.",
        },
        {
            "id": "secfund-budget",
            "subject": "secfund",
            "relation": "budget",
            "amount": {"value": 100000000, "currency": "EUR"},
            "quote": "Het fonds is 100 miljoen euro groot.",
        },
    ]
    if payload:
        c.append(
            {
                "id": "ez-goal",
                "subject": "ez",
                "relation": "goal",
                "text": f"Een doel {p1}",
                "quote": f"Het doel is {p1} helder.",
            }
        )
    return c


def write_project(dest: Path, payload: bool = False) -> Path:
    """Write ontology/ and extract/ for the network corpus under dest; return dest."""
    shutil.copytree(ROOT / "ontology", dest / "ontology")
    extract = dest / "extract"
    (extract / "documents").mkdir(parents=True)
    (extract / "sources").mkdir()
    found = claims(payload)
    lines = ["Antwoord:", *[c["quote"] for c in found]]
    (extract / "sources" / "netdoc.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (extract / "entities.yaml").write_text(
        yaml.safe_dump({"entities": entities(payload)}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    doc = {
        "document": {
            "id": "netdoc",
            "title": {"nl": "Antwoorden over het netwerk", "en": "Answers about the network"},
            "kind": "answers",
            "date": "2025-06-10",
            "text": "sources/netdoc.txt",
            "identifiers": {"kamerstuk": ["kst-31125-133"]},
            "sections": [
                {"id": "a1", "kind": "answer", "questions": [1], "lines": f"1-{len(lines)}"}
            ],
        },
        "claims": [{**c, "locator": "a1"} for c in found],
    }
    (extract / "documents" / "netdoc.yaml").write_text(
        yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return dest


def build_project(dest: Path, payload: bool = False) -> tuple[Path, Path]:
    """Write and build the corpus; return (project root, build folder)."""
    from graph.build import build

    root = write_project(dest / "project", payload)
    out = dest / "build"
    build(root, out)
    return root, out
