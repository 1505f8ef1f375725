"""Generate a realistic synthetic corpus in the extract/ format, for benchmarks.

    python benchmarks/generate.py 100000 /tmp/corpus-100k

writes /tmp/corpus-100k/{extract,ontology}/: an entity registry, one extraction file per source
document (about 50 claims each, as in the real answers to parliamentary questions) and its source
text, in which every quote occurs verbatim in the section the claim cites. The claims use every
kind of object (entity, text, date, amount), negated and planned claims, analyst claims, the
bottleneck-to-action-line mappings that the inference rule joins, and domain/range-correct
subjects and objects, so the synthetic corpus passes `dkg check` like the real one. Seeded:
the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORDS = (
    "defensie", "industrie", "financiering", "opschaling", "mkb", "toeleveringsketen", "innovatie", "kapitaal",
    "bank", "garantie", "regeling", "fonds", "investering", "productie", "capaciteit", "samenwerking",
    "kennis", "onderzoek", "ontwikkeling", "export", "markt", "risico", "zekerheid", "contract",
    "aanbesteding", "leverancier", "netwerk", "strategie", "uitvoering", "overleg", "dialoog", "informatie",
    "platform", "regio", "bedrijf", "startup", "scale-up", "technologie", "materieel", "voorraad",
    "munitie", "onderhoud", "personeel", "opleiding", "vergunning", "beleid",
)  # fmt: skip
TOPICS = (
    "de Europese defensiesamenwerking", "het Defensie Industrie Strategie", "de NAVO-norm",
    "de Voorjaarsnota", "het Nationaal Groeifonds", "de regionale ontwikkelingsmaatschappijen",
    "het Invest-NL mandaat", "de exportcontrole", "de dual-use regelgeving", "de kennisinstellingen",
)  # fmt: skip
MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip

ACTORS = (
    "GovernmentBody",
    "Company",
    "Association",
    "Organisation",
    "Platform",
    "Person",
    "Country",
)
INTERVENTIONS = ("Action", "Instrument", "Policy")


@dataclass
class Registry:
    """The entities of the synthetic world, by kind."""

    entities: list[dict] = field(default_factory=list)
    by_type: dict[str, list[dict]] = field(default_factory=dict)
    line_of: dict[str, dict] = field(default_factory=dict)  # intervention -> its action line
    mapping: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # bottleneck -> lines

    def add(self, ent: dict) -> dict:
        self.entities.append(ent)
        self.by_type.setdefault(ent["type"], []).append(ent)
        return ent

    def pick(self, rnd: random.Random, *types: str) -> dict:
        pool = [e for t in types for e in self.by_type.get(t, [])]
        return rnd.choice(pool)


def _name(rnd: random.Random, n: int) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def make_registry(rnd: random.Random, n_entities: int) -> Registry:
    """Bottlenecks A-H, action lines 1-4, their schemes, and actors and interventions."""
    reg = Registry()
    reg.add({"id": "idea-knelpunten", "type": "ConceptScheme",
             "label": {"nl": "knelpunten van IDEA", "en": "IDEA's bottlenecks"}})  # fmt: skip
    reg.add(
        {
            "id": "actielijnen-2025",
            "type": "ConceptScheme",
            "label": {"nl": "actielijnen", "en": "action lines"},
        }
    )
    for letter in "ABCDEFGH":
        reg.add({"id": f"knelpunt-{letter.lower()}", "type": "Bottleneck",
                 "label": {"nl": f"knelpunt {letter}: {_name(rnd, 3)}", "en": f"bottleneck {letter}"},
                 "in_scheme": "idea-knelpunten", "notation": letter})  # fmt: skip
    for n in range(1, 5):
        reg.add({"id": f"actielijn-{n}", "type": "ActionLine",
                 "label": {"nl": f"actielijn {n}: {_name(rnd, 3)}", "en": f"action line {n}"},
                 "in_scheme": "actielijnen-2025", "notation": str(n)})  # fmt: skip
    kinds = [*ACTORS, *INTERVENTIONS, *INTERVENTIONS, "Project", "Topic", "Event"]
    for k in range(n_entities):
        kind = kinds[k % len(kinds)]
        words = _name(rnd, rnd.randint(2, 4))
        ent: dict = {"id": f"{kind.lower()}-{k}", "type": kind,
                     "label": {"nl": f"{words} {k}", "en": f"{kind.lower()} {k}"}}  # fmt: skip
        if rnd.random() < 0.3:
            ent["aliases"] = [f"{words.split()[0].upper()}{k}"]
        if rnd.random() < 0.3:
            ent["description"] = {
                "nl": f"Een {kind.lower()} voor {_name(rnd, 5)}.",
                "en": f"A {kind.lower()}.",
            }
        if kind == "Topic":
            ent["in_scheme"] = "idea-knelpunten"
        if kind == "Event":
            ent["date"] = f"202{rnd.randint(3, 6)}-{rnd.randint(1, 12):02d}"
        reg.add(ent)
    lines = reg.by_type["ActionLine"]
    for ent in reg.entities:
        if ent["type"] in INTERVENTIONS:
            reg.line_of[ent["id"]] = rnd.choice(lines)
    for i, b in enumerate(reg.by_type["Bottleneck"]):
        primary = lines[i % 4]["id"]
        second = [("secondaryActionLine", lines[(i + 1) % 4]["id"])] if i % 2 else []
        reg.mapping[b["id"]] = [("primaryActionLine", primary), *second]
    return reg


def _label(e: dict) -> str:
    return str(e["label"]["nl"])


def make_claim(rnd: random.Random, reg: Registry, n: int) -> tuple[dict, str]:
    """One claim and the sentence of the source text that it quotes."""
    filler = f"in het kader van {rnd.choice(TOPICS)} en {_name(rnd, 3)}"
    roll = rnd.random()
    if roll < 0.08:
        # Which action line an intervention falls under is one fact, restated by many documents.
        s = reg.pick(rnd, *INTERVENTIONS)
        o = reg.line_of[s["id"]]
        claim = {"subject": s["id"], "relation": "inActionLine", "object": o["id"]}
        text = f"{_label(s)} valt onder {_label(o)}, {filler}."
    elif roll < 0.082:
        # The bottleneck-to-action-line mapping of the letter of 12 March, restated now and then.
        s = reg.pick(rnd, "Bottleneck")
        rel, line = rnd.choice(reg.mapping[s["id"]])
        claim = {"subject": s["id"], "relation": rel, "object": line}
        text = f"Het {_label(s)} wordt gekoppeld aan {line} {filler}."
    elif roll < 0.30:
        s, o = reg.pick(rnd, *INTERVENTIONS), reg.pick(rnd, "Bottleneck")
        claim = {"subject": s["id"], "relation": "addresses", "object": o["id"]}
        text = f"Met {_label(s)} wordt het {_label(o)} aangepakt {filler}."
    elif roll < 0.50:
        s, o = reg.pick(rnd, *ACTORS), reg.pick(rnd, *INTERVENTIONS, "Platform", "Project")
        rel = rnd.choice(["participatesIn", "leads", "funds", "establishes", "consults"])
        claim = {"subject": s["id"], "relation": rel, "object": o["id"]}
        verb = {"participatesIn": "neemt deel aan", "leads": "leidt", "funds": "financiert",
                "establishes": "richt op", "consults": "overlegt met"}[rel]  # fmt: skip
        text = f"{_label(s)} {verb} {_label(o)} {filler}."
        if rnd.random() < 0.1:
            claim["polarity"] = "negated"
            text = f"{_label(s)} heeft besloten in deze fase niet aan te sluiten bij {_label(o)} {filler}."
        elif rnd.random() < 0.15:
            year = rnd.randint(2025, 2028)
            claim["modality"] = "planned"
            claim["when"] = str(year)
            text = f"{_label(s)} zal in {year} {verb} {_label(o)} {filler}."
    elif roll < 0.62:
        s = reg.pick(rnd, "Instrument", "Action", "Project")
        value = rnd.randint(1, 900)
        claim = {
            "subject": s["id"],
            "relation": "budget",
            "amount": {"value": value * 1_000_000, "currency": "EUR"},
        }
        text = f"{_label(s)} heeft inmiddels een omvang van € {value} miljoen {filler}."
    elif roll < 0.70:
        s = reg.pick(rnd, *INTERVENTIONS, "Project")
        year, month = rnd.randint(2019, 2026), rnd.randint(1, 12)
        claim = {"subject": s["id"], "relation": "startDate", "date": f"{year}-{month:02d}"}
        text = f"In {MONTHS[month - 1]} {year} is {_label(s)} van start gegaan {filler}."
    elif roll < 0.82:
        s = reg.pick(rnd, *INTERVENTIONS, "Project")
        goal = f"het versterken van {_name(rnd, 4)}"
        claim = {"subject": s["id"], "relation": "goal", "text": goal}
        text = f"Het doel van {_label(s)} is {goal} {filler}."
    elif roll < 0.92:
        s, o = reg.pick(rnd, *ACTORS), reg.pick(rnd, *ACTORS)
        claim = {"subject": s["id"], "relation": "cooperatesWith", "object": o["id"]}
        text = f"{_label(s)} werkt nauw samen met {_label(o)} {filler}."
    else:
        s, o = reg.pick(rnd, *INTERVENTIONS), reg.pick(rnd, "Bottleneck")
        claim = {"subject": s["id"], "relation": "addresses", "object": o["id"], "standing": "analyst",
                 "rationale": f"A measure for {_name(rnd, 3)} works against this bottleneck."}  # fmt: skip
        text = f"Daarnaast zet {_label(s)} in op {_name(rnd, 4)} {filler}."
    claim = {"id": f"c{n}-{claim['relation'].lower()}", **claim}
    return claim, text


def _yaml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flow(d: dict) -> str:
    parts = []
    for k, v in d.items():
        if isinstance(v, dict):
            parts.append(f"{k}: {_flow(v)}")
        elif isinstance(v, list):
            parts.append(
                f"{k}: [{', '.join(_yaml_str(str(x)) if isinstance(x, str) else str(x) for x in v)}]"
            )
        elif isinstance(v, str):
            parts.append(f"{k}: {_yaml_str(v)}")
        else:
            parts.append(f"{k}: {v}")
    return "{" + ", ".join(parts) + "}"


def write_document(
    rnd: random.Random, reg: Registry, extract: Path, doc_no: int, n_claims: int
) -> None:
    """One extraction file and its source text: questions, answers with quoted and unquoted text."""
    doc_id = f"antwoorden-{doc_no:05d}"
    lines: list[str] = []
    sections: list[dict] = []
    claims: list[tuple[dict, str]] = []
    minister = reg.pick(rnd, "Person")
    lines.append(f"Antwoord van {_label(minister)}, mede namens {_name(rnd, 2)} (ontvangen 2025)")
    sections.append({"id": "intro", "kind": "preamble", "lines": "1"})
    q = 0
    made = 0
    while made < n_claims:
        q += 1
        lines.append("")
        lines.append(
            f"{q}. Kunt u aangeven hoe het staat met {_name(rnd, 6)} en {rnd.choice(TOPICS)}?"
        )
        sections.append(
            {"id": f"q{q}", "kind": "question", "questions": [q], "lines": str(len(lines))}
        )
        lines.append("")
        first = len(lines) + 1
        for _ in range(rnd.randint(2, 5)):
            sentences = []
            for _ in range(rnd.randint(2, 4)):
                if made < n_claims and rnd.random() < 0.75:
                    claim, sentence = make_claim(rnd, reg, made)
                    claim["locator"] = f"a{q}"
                    claim["quote"] = sentence
                    claims.append((claim, sentence))
                    made += 1
                else:
                    sentence = f"Het kabinet blijft {_name(rnd, 5)} volgen, met aandacht voor {rnd.choice(TOPICS)}."
                sentences.append(sentence)
            lines.append(" ".join(sentences))
        sections.append(
            {"id": f"a{q}", "kind": "answer", "questions": [q], "lines": f"{first}-{len(lines)}"}
        )
    lines.append("")
    lines.append(
        f"[1] Kamerstukken II 2024/25, {rnd.randint(30000, 36999)}, nr. {rnd.randint(1, 200)}."
    )
    sections.append({"id": "fn1", "kind": "footnote", "lines": str(len(lines))})
    (extract / "sources" / f"{doc_id}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = [
        "# yaml-language-server: $schema=../schema/extraction.schema.json",
        "document:",
        f"  id: {doc_id}",
        f"  title: {{nl: Antwoorden op Kamervragen {doc_no}, en: Answers to parliamentary questions {doc_no}}}",
        "  kind: answers",
        f'  date: "2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"',
        f"  answered_by: [{minister['id']}]",
        f"  text: sources/{doc_id}.txt",
        "  sections:",
        *[f"    - {_flow(s)}" for s in sections],
        "claims:",
    ]
    for claim, _ in claims:
        out.append(f"  - id: {claim['id']}")
        for k, v in claim.items():
            if k == "id":
                continue
            if isinstance(v, dict):
                out.append(f"    {k}: {_flow(v)}")
            elif k in {"quote", "rationale", "text"}:
                out.append(f"    {k}: {_yaml_str(v)}")
            else:
                out.append(f"    {k}: {v}" if not str(v)[:1].isdigit() else f'    {k}: "{v}"')
    (extract / "documents" / f"{doc_id}.yaml").write_text("\n".join(out) + "\n", encoding="utf-8")


def write_registry(reg: Registry, extract: Path) -> None:
    """extract/entities.yaml."""
    out = ["# yaml-language-server: $schema=schema/entities.schema.json", "entities:"]
    for ent in reg.entities:
        out.append(f"  - id: {ent['id']}")
        for k, v in ent.items():
            if k == "id":
                continue
            if isinstance(v, dict):
                out.append(f"    {k}: {_flow(v)}")
            elif isinstance(v, list):
                out.append(f"    {k}: [{', '.join(_yaml_str(x) for x in v)}]")
            else:
                out.append(f"    {k}: {_yaml_str(str(v))}")
    (extract / "entities.yaml").write_text("\n".join(out) + "\n", encoding="utf-8")


def generate(dest: Path, claims: int, seed: int = 1, per_document: int = 50) -> Path:
    """Write a corpus of about `claims` claims into dest (extract/ and a copy of ontology/)."""
    rnd = random.Random(seed)
    if dest.exists():
        shutil.rmtree(dest)
    extract = dest / "extract"
    (extract / "documents").mkdir(parents=True)
    (extract / "sources").mkdir()
    reg = make_registry(rnd, max(60, claims // 20))
    write_registry(reg, extract)
    n_docs = max(1, round(claims / per_document))
    base, extra = divmod(claims, n_docs)
    for d in range(n_docs):
        write_document(rnd, reg, extract, d + 1, base + (1 if d < extra else 0))
    return with_ontology(dest)


def with_ontology(dest: Path) -> Path:
    """Give a corpus a copy of this project's ontology/ (the ontology, the shapes, the rules) in
    place of the one it has: a corpus kept from an earlier run would otherwise be built with the
    rules and shapes of the day it was made."""
    shutil.rmtree(dest / "ontology", ignore_errors=True)
    shutil.copytree(ROOT / "ontology", dest / "ontology")
    return dest


def edit_one(dest: Path, n: int = 1) -> Path:
    """Edit one extraction file as a curator would (add a planned claim); return its path."""
    files = sorted((dest / "extract" / "documents").glob("*.yaml"))
    path = files[len(files) // 2]
    text = path.read_text(encoding="utf-8")
    first = text.index("\n  - id: ") + 1
    end = text.find("\n  - id: ", first)
    block = text[first : end + 1]
    lines = block.splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + f"-edit{n}\n"
    lines = [ln for ln in lines if not ln.lstrip().startswith(("polarity:", "modality:", "when:"))]
    lines.insert(1, '    modality: planned\n    when: "2027"\n')
    path.write_text(text + "".join(lines), encoding="utf-8")
    return path


def move_to_another_line(dest: Path, n: int = 1) -> Path:
    """Edit one extraction file so that a rule reads the edit: move an intervention to the next
    action line (the n-th affirmed, actual action line claim of the file, counted round); return
    its path."""
    files = sorted((dest / "extract" / "documents").glob("*.yaml"))
    path = files[len(files) // 2]
    text = path.read_text(encoding="utf-8")
    marker = "relation: inActionLine\n    object: actielijn-"

    def read_by_the_rule(at: int) -> bool:  # the action-line rule reads affirmed, actual claims
        start = text.rfind("\n  - id: ", 0, at)
        end = text.find("\n  - id: ", at)
        block = text[start : end if end >= 0 else len(text)]
        return "polarity:" not in block and "modality:" not in block

    spots = [
        i + len(marker)
        for i in range(len(text))
        if text.startswith(marker, i) and read_by_the_rule(i)
    ]
    at = spots[n % len(spots)]
    line = int(text[at]) % 4 + 1
    path.write_text(text[:at] + str(line) + text[at + 1 :], encoding="utf-8")
    return path


def add_entity(dest: Path, n: int = 1) -> Path:
    """Edit the registry as a curator does before curating a new document: add an organisation
    (the n-th), which no document names yet; return its path."""
    path = dest / "extract" / "entities.yaml"
    entry = (
        f'  - id: new-organisation-{n}\n    type: "Organisation"\n'
        f'    label: {{nl: "nieuwe organisatie {n}", en: "new organisation {n}"}}\n'
    )
    path.write_text(path.read_text(encoding="utf-8") + entry, encoding="utf-8")
    return path


def relabel_entity(dest: Path, n: int = 1) -> Path:
    """Edit the registry: give the first organisation another English label (the n-th); return
    its path."""
    path = dest / "extract" / "entities.yaml"
    text = path.read_text(encoding="utf-8")
    at = text.index('    type: "Organisation"\n')
    start = text.index(' en: "', at) + len(' en: "')
    end = text.index('"', start)
    label = text[start:end].split(" (")[0]
    path.write_text(text[:start] + f"{label} ({n})" + text[end:], encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("claims", type=int, help="Number of claims, e.g. 1000, 10000, 100000.")
    parser.add_argument("dest", type=Path, help="Folder to write (replaced if it exists).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generate(args.dest, args.claims, args.seed)
    size = sum(p.stat().st_size for p in (args.dest / "extract").rglob("*") if p.is_file())
    print(f"wrote {args.dest}: {args.claims} claims, {size / 1e6:.1f} MB under extract/")


if __name__ == "__main__":
    main()
