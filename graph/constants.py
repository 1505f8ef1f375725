"""Paths, namespaces and limits in one place; importing this module has no side effects."""

from __future__ import annotations

import os
from pathlib import Path

# --- Namespaces -------------------------------------------------------------------------------
# Stable, readable IRIs: one base, one sub-namespace per kind of node. Entity ids from the registry
# become <ID/entity-id>, claims <CLAIM/document-id/claim-id>, named graphs <GRAPH/document-id>.
BASE = "https://w3id.org/dkg/"
ONTOLOGY = BASE + "ontology#"
ID = BASE + "id/"
CLAIM = BASE + "claim/"
GRAPH = BASE + "graph/"
SHAPES = BASE + "shapes#"
RULE = BASE + "rule/"

REGISTRY_GRAPH = GRAPH + "registry"
ONTOLOGY_GRAPH = GRAPH + "ontology"
INFERRED_GRAPH = GRAPH + "inferred"

PREFIXES: dict[str, str] = {
    "dkg": ONTOLOGY,
    "id": ID,
    "claim": CLAIM,
    "dkgg": GRAPH,
    "rule": RULE,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "schema": "https://schema.org/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "sh": "http://www.w3.org/ns/shacl#",
}


def sparql_prefixes() -> str:
    """Return the PREFIX header predeclared for every query."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


# --- Paths ------------------------------------------------------------------------------------
EXTRACT_DIRNAME = "extract"
ONTOLOGY_DIRNAME = "ontology"
EXAMPLES_DIRNAME = "examples"
BUILD_DIRNAME = "build"

REGISTRY_FILENAME = "entities.yaml"
DOCUMENTS_DIRNAME = "documents"
SOURCES_DIRNAME = "sources"
SCHEMA_DIRNAME = "extract/schema"
RULES_DIRNAME = "rules"

ONTOLOGY_FILE = "dkg.ttl"
SHAPES_FILE = "shapes.ttl"

# Files a build writes inside its snapshot folder.
OUT_TRIG = "dkg.trig"
OUT_TURTLE = "dkg.ttl"
OUT_NQUADS = "dkg.nq"
OUT_JSONLD = "dkg.jsonld"
OUT_STORE = "store"
OUT_MANIFEST = "manifest.json"
CURRENT_LINK = "current"
# Beside them, not an output (nor in the manifest): what the rules read of it (graph.rebuild).
RULES_SLICE = "rules-slice.cache"

# --- Limits -----------------------------------------------------------------------------------
# A curated extraction file is a few hundred kilobytes; anything far larger is a mistake or an
# attack (the 100k-claim benchmark corpus spreads 39 MB over thousands of files).
MAX_YAML_BYTES = 8 * 1024 * 1024
MAX_YAML_DEPTH = 32
MAX_SOURCE_BYTES = 32 * 1024 * 1024


def project_root(start: Path | None = None) -> Path:
    """Find the project folder: $DKG_HOME, else the nearest parent holding extract/ and ontology/."""
    env = os.environ.get("DKG_HOME")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / EXTRACT_DIRNAME).is_dir() and (folder / ONTOLOGY_DIRNAME).is_dir():
            return folder
    return here
