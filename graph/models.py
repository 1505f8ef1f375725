"""The extraction format, defined once: typed records that curators write as YAML.

Every YAML file under extract/ is validated against these models; the JSON Schema that editors
use (schema/*.schema.json) is generated from them by ``dkg schema``. Relations and entity types are
closed lists taken from the ontology (graph.vocab), so a misspelt term fails at once.
"""

from __future__ import annotations

import calendar
import re
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graph.vocab import ENTITY_TYPES, RELATIONS

SLUG = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$"
# [0-9], not \d: \d also matches other scripts' digits ('２０２５'), which int() reads and xsd: refuses
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")

EntityType = Enum("EntityType", {t: t for t in ENTITY_TYPES}, type=str)  # type: ignore[misc]
Relation = Enum("Relation", {r: r for r in RELATIONS}, type=str)  # type: ignore[misc]

Id = Annotated[
    str,
    Field(
        pattern=SLUG,
        max_length=80,
        description="A stable id: lower-case ASCII letters, digits and hyphens. Becomes part of IRIs.",
    ),
]


class Model(BaseModel):
    """Base of every record: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


class Text(Model):
    """A text in Dutch and/or English."""

    nl: str | None = Field(None, min_length=1, description="The Dutch text.")
    en: str | None = Field(None, min_length=1, description="The English text.")

    @model_validator(mode="after")
    def _one(self) -> Text:
        if not (self.nl or self.en):
            raise ValueError("give at least one of 'nl' or 'en'")
        return self


class Label(Model):
    """A label in both languages: users read Dutch sources and often write in English."""

    nl: str = Field(min_length=1, description="The Dutch label, as the sources write it.")
    en: str = Field(min_length=1, description="The English label.")


def parse_date(value: str) -> tuple[int, int | None, int | None]:
    """Split 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' into parts, raising ValueError if it is no date."""
    m = _DATE.fullmatch(value)  # fullmatch: '$' would let a trailing newline through
    if not m:
        raise ValueError(f"{value!r} is not a date; write YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(m[1])
    month = int(m[2]) if m[2] else None
    day = int(m[3]) if m[3] else None
    if year == 0:
        raise ValueError(f"{value!r}: there is no year 0")
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"{value!r}: month {month} does not exist")
    if day is not None and month is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise ValueError(f"{value!r}: day {day} does not exist in {year}-{month:02d}")
    return year, month, day


VagueDate = Annotated[
    str,
    Field(
        description=(
            "A date with the precision the source gives: YYYY ('in 2026'), YYYY-MM ('end of "
            "March 2025', with qualifier 'end') or YYYY-MM-DD."
        ),
        examples=["2026", "2025-03", "2025-04-04"],
    ),
]


def _check_date(value: Any) -> Any:
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        parse_date(value)
    return value


class DateQualifier(StrEnum):
    """How a vague date is meant."""

    begin = "begin"
    mid = "mid"
    end = "end"
    before = "before"
    after = "after"
    around = "around"


# An http(s) address without what an IRI may not hold (RFC 3987): spaces, controls, <>"{}|\\^`
_URL = r'^https?://[^\s<>"{}|\\^`\x00-\x1f\x7f]+$'


class Identifiers(Model):
    """External identifiers, given only where certain."""

    wikidata: str | None = Field(
        None, pattern=r"^Q[1-9][0-9]*$", description="Wikidata item id, only if certain."
    )
    kamerstuk: list[str] = Field(
        default_factory=list,
        description="Kamerstuk numbers, written kst-DOSSIER[-SUFFIX]-NUMBER, e.g. kst-31125-133, kst-36725-XIII-2.",
    )
    document_number: str | None = Field(
        None,
        pattern=r"^[0-9]{4}D[0-9]+$",
        description="Tweede Kamer document number, e.g. 2025D15102.",
    )
    url: str | None = Field(None, pattern=_URL, description="Official web address.")

    @field_validator("kamerstuk")
    @classmethod
    def _kst(cls, value: list[str]) -> list[str]:
        for k in value:
            if not re.fullmatch(r"kst-[0-9]+(-[A-Z0-9]+)*-[0-9]+", k):
                raise ValueError(f"{k!r} is not a Kamerstuk number like kst-31125-133")
        return value

    @field_validator("url")
    @classmethod
    def _iri(cls, value: str | None) -> str | None:
        # The address becomes an IRI (foaf:page): let the RDF library that will hold it judge it,
        # so that a malformed one is a located data error here, never a crash in the compiler.
        from pyoxigraph import NamedNode

        if value is not None:
            try:
                NamedNode(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a valid web address ({exc})") from None
        return value


class Entity(Model):
    """One actor, instrument, bottleneck, action line, document, event... named once."""

    id: Id
    type: EntityType = Field(description="The kind of thing, a class of the dkg ontology.")
    label: Label = Field(description="Its name in Dutch and English.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Other names and abbreviations the sources use, for search.",
    )
    description: Text | None = Field(None, description="One or two sentences saying what it is.")
    identifiers: Identifiers = Field(
        default_factory=Identifiers, description="External identifiers."
    )
    in_scheme: Id | None = Field(
        None,
        description="For a Bottleneck or ActionLine: the id of the ConceptScheme it belongs to.",
    )
    notation: str | None = Field(
        None,
        description="Its code inside the scheme: 'A'..'H' for IDEA's knelpunten, '1'..'4' for actielijnen.",
    )
    date: VagueDate | None = Field(
        None, description="For a Document or Event: when it was published or held."
    )

    _date = field_validator("date", mode="before")(_check_date)


class Registry(Model):
    """extract/entities.yaml: every entity the extractions refer to."""

    entities: list[Entity] = Field(description="The entities, each with a unique id.")


class Amount(Model):
    """An amount of money."""

    # strict: a bool (yes) or a string ("100 miljoen") is no amount; finite: no .inf
    value: float = Field(
        ge=0,
        strict=True,
        allow_inf_nan=False,
        description="The amount, in units of the currency (100 million is 100000000).",
    )
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")


class Standing(StrEnum):
    """How sure a claim is: the source says it, a declared rule derived it, or a curator judges it."""

    stated = "stated"
    inferred = "inferred"
    analyst = "analyst"


class Polarity(StrEnum):
    """Whether the claim affirms or denies the relation ('Financien does not take part')."""

    affirmed = "affirmed"
    negated = "negated"


class Modality(StrEnum):
    """Whether the relation holds, is planned or promised, or only possible or conditional."""

    actual = "actual"
    planned = "planned"
    possible = "possible"
    conditional = "conditional"


class SectionKind(StrEnum):
    """What part of a document a section is."""

    preamble = "preamble"
    question = "question"
    answer = "answer"
    footnote = "footnote"


class Section(Model):
    """A located part of the source text: a question, an answer, a footnote."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9+.-]*$",
        description="The locator claims cite: q4 (question 4), a4+5 (joint answer to 4 and 5), fn3, intro.",
    )
    kind: SectionKind = Field(description="What this part of the document is.")
    questions: list[int] = Field(
        default_factory=list,
        description="The question numbers it belongs to; joint answers list several.",
    )
    lines: str = Field(
        pattern=r"^[0-9]+(-[0-9]+)?$",
        description="Line range in the source text, 1-based and inclusive: '12' or '12-18'.",
    )

    def line_range(self) -> tuple[int, int]:
        """Return (first, last) line."""
        a, _, b = self.lines.partition("-")
        return int(a), int(b or a)


class DocumentMeta(Model):
    """What a source document is and where its text is."""

    id: Id = Field(description="The document id; equals the extraction file's name.")
    title: Label = Field(description="Its title in Dutch and English.")
    kind: Literal["answers", "letter", "motion", "report", "strategy", "webpage", "other"] = Field(
        description="Answers to parliamentary questions, a Kamerbrief, a motion, a report..."
    )
    date: VagueDate = Field(
        description="When it was sent, received or published, with its precision."
    )
    date_note: str | None = Field(
        None, description="What the date is (received, sent, published) and how known."
    )
    answered_by: list[Id] = Field(
        default_factory=list, description="Entity ids of the answering minister(s)."
    )
    on_behalf_of: list[Id] = Field(
        default_factory=list, description="Entity ids of whom they answer for too."
    )
    identifiers: Identifiers = Field(
        default_factory=Identifiers, description="Official identifiers."
    )
    text: str = Field(
        description="Path of the source text, relative to extract/: sources/<id>.txt."
    )
    seed: str | None = Field(
        None, description="The file name the text was received under, for traceability."
    )
    language: Literal["nl", "en"] = Field(
        "nl", description="Language of the source text and its quotes."
    )
    sections: list[Section] = Field(
        description="The questions, answers and footnotes, by line range."
    )

    _date = field_validator("date", mode="before")(_check_date)


class Claim(Model):
    """One statement a source makes (or a rule or analyst derives): subject, relation, object."""

    id: Id = Field(
        description="Unique inside the document; the claim's IRI is claim/<document>/<id>."
    )
    subject: Id = Field(description="The entity the claim is about.")
    relation: Relation = Field(description="A property of the dkg ontology.")
    object: Id | None = Field(
        None, description="The entity it relates to (give one of object/text/date/amount)."
    )
    text: str | None = Field(
        None, min_length=1, description="A literal text object, in the document's language."
    )
    date: VagueDate | None = Field(None, description="A date object, with its precision.")
    amount: Amount | None = Field(None, description="An amount of money object.")
    polarity: Polarity = Field(
        Polarity.affirmed, description="'negated' for 'does not', 'not yet', 'no'."
    )
    modality: Modality = Field(
        Modality.actual, description="'planned' for promises and intentions."
    )
    when: VagueDate | None = Field(None, description="When the claim holds or is due ('in 2026').")
    when_qualifier: DateQualifier | None = Field(
        None, description="How 'when' is meant: end, before..."
    )
    date_qualifier: DateQualifier | None = Field(
        None, description="How a date object is meant: end..."
    )
    locator: str = Field(
        description="The id of the section of the document the quote is from (q7, a4+5, fn3)."
    )
    quote: str | None = Field(
        None, min_length=1, description="The verbatim words of the source that support the claim."
    )
    standing: Standing = Field(
        Standing.stated, description="stated, inferred (with rule) or analyst (with rationale)."
    )
    rationale: str | None = Field(
        None, min_length=1, description="For standing 'analyst': the curator's reasoning."
    )
    rule: Id | None = Field(
        None,
        description="For standing 'inferred': the id of the declared rule (ontology/rules/<id>.rq).",
    )
    note: str | None = Field(None, description="A curator's remark; not part of the claim.")

    _dates = field_validator("date", "when", mode="before")(_check_date)

    @model_validator(mode="after")
    def _shape(self) -> Claim:
        given = [k for k in ("object", "text", "date", "amount") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'object', 'text', 'date' or 'amount'"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.standing == Standing.analyst and not self.rationale:
            raise ValueError("a claim with standing 'analyst' needs a 'rationale'")
        if self.standing == Standing.inferred and not self.rule:
            raise ValueError("a claim with standing 'inferred' needs the 'rule' it came from")
        if self.standing != Standing.inferred and not self.quote:
            raise ValueError("a claim needs the verbatim 'quote' it rests on")
        return self

    @property
    def object_kind(self) -> str:
        """Which of object/text/date/amount this claim has."""
        for k in ("object", "text", "date", "amount"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated claim without object")


class Extraction(Model):
    """extract/documents/<id>.yaml: one source document and every claim taken from it."""

    document: DocumentMeta = Field(description="What the source document is.")
    claims: list[Claim] = Field(description="The claims, in the order of the document.")
