"""Write SPARQL SELECT results in the standard formats (JSON, XML, CSV, TSV) from pyoxigraph terms.

The endpoint writes them itself, instead of pyoxigraph's serializer, so that it can stop reading a
result at the row cap and refuse it before anything is sent.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from pyoxigraph import BlankNode, Literal, NamedNode

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
Row = Sequence[object | None]


def _json_term(t: object) -> dict[str, str]:
    if isinstance(t, NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, Literal):
        out = {"type": "literal", "value": t.value}
        if t.language:
            out["xml:lang"] = t.language
        elif t.datatype and t.datatype.value != XSD_STRING:
            out["datatype"] = t.datatype.value
        return out
    return {"type": "literal", "value": str(t)}


def to_json(variables: list[str], rows: list[Row]) -> bytes:
    """SPARQL 1.1 Query Results JSON."""
    bindings = [
        {v: _json_term(t) for v, t in zip(variables, row, strict=True) if t is not None}
        for row in rows
    ]
    doc = {"head": {"vars": variables}, "results": {"bindings": bindings}}
    return json.dumps(doc, ensure_ascii=False).encode()


def ask_json(value: bool) -> bytes:
    """An ASK result as JSON."""
    return json.dumps({"head": {}, "boolean": value}).encode()


def _xml_term(t: object) -> str:
    if isinstance(t, NamedNode):
        return f"<uri>{escape(t.value)}</uri>"
    if isinstance(t, BlankNode):
        return f"<bnode>{escape(t.value)}</bnode>"
    if isinstance(t, Literal):
        if t.language:
            return f"<literal xml:lang={quoteattr(t.language)}>{escape(t.value)}</literal>"
        if t.datatype and t.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(t.datatype.value)}>{escape(t.value)}</literal>"
        return f"<literal>{escape(t.value)}</literal>"
    return f"<literal>{escape(str(t))}</literal>"


def to_xml(variables: list[str], rows: list[Row]) -> bytes:
    """SPARQL Query Results XML."""
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
    out += [f"<variable name={quoteattr(v)}/>" for v in variables]
    out.append("</head>\n<results>")
    for row in rows:
        out.append("<result>")
        for v, t in zip(variables, row, strict=True):
            if t is not None:
                out.append(f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>")
        out.append("</result>")
    out.append("</results>\n</sparql>\n")
    return "\n".join(out).encode()


def ask_xml(value: bool) -> bytes:
    """An ASK result as XML."""
    return (
        '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
        f"<head/><boolean>{'true' if value else 'false'}</boolean></sparql>\n"
    ).encode()


def _plain(t: object | None) -> str:
    if t is None:
        return ""
    if isinstance(t, BlankNode):
        return f"_:{t.value}"
    return str(getattr(t, "value", t))


def to_csv(variables: list[str], rows: list[Row]) -> bytes:
    """SPARQL 1.1 Query Results CSV: plain values."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(variables)
    for row in rows:
        w.writerow([_plain(t) for t in row])
    return buf.getvalue().encode()


def to_tsv(variables: list[str], rows: list[Row]) -> bytes:
    """SPARQL 1.1 Query Results TSV: terms in Turtle syntax."""
    lines = ["\t".join(f"?{v}" for v in variables)]
    for row in rows:
        lines.append("\t".join("" if t is None else str(t).replace("\t", "\\t") for t in row))
    return ("\n".join(lines) + "\n").encode()


WRITERS = {"json": to_json, "xml": to_xml, "csv": to_csv, "tsv": to_tsv}
