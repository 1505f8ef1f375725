"""A graph's TriG and JSON-LD spliced after an edit are the bytes make_chunk writes whole."""

from __future__ import annotations

import random

import pytest

from graph import constants as C
from graph.cache import make_chunk
from graph.splice import spliced

G = C.INFERRED_GRAPH
ID = "https://w3id.org/dkg/id/"
OBJECTS = [
    f"<{C.PREFIXES['dkg']}Claim>",
    f"<{ID}bottleneck-a>",
    '"plain"',
    '"with \\"quotes\\", commas, {braces} and [brackets]"@nl',
    '"line\\nbreak\\tand tab"',
    '"7"^^<http://www.w3.org/2001/XMLSchema#integer>',
    "<http://example.org/not-prefixed#x>",
]
PREDICATES = [
    f"<{C.PREFIXES['rdf']}type>",
    f"<{C.PREFIXES['dkg']}addresses>",
    f"<{C.PREFIXES['dkg']}premise>",
    "<http://example.org/p>",
]


def line(subject: str, predicate: str, obj: str) -> bytes:
    return f"{subject} {predicate} {obj} <{G}> .\n".encode()


def corpus(rng: random.Random, subjects: list[str]) -> set[bytes]:
    return {
        line(s, rng.choice(PREDICATES), rng.choice(OBJECTS))
        for s in subjects
        for _ in range(rng.randint(1, 4))
    }


def subjects(n: int) -> list[str]:
    # names that sort in between one another, and one that another's name starts with
    return [f"<{ID}s{i:03d}>" for i in range(0, n, 2)] + [f"<{ID}s002x>", "<http://example.org/z>"]


def check(before: set[bytes], after: set[bytes]) -> None:
    old = make_chunk(G, b"".join(before))
    whole = make_chunk(G, b"".join(after))
    made = spliced(old, whole.nq, before - after, after - before)
    assert made is not None
    assert (made.nq, made.trig, made.jsonld, made.quads) == (
        whole.nq,
        whole.trig,
        whole.jsonld,
        whole.quads,
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_edits_splice_to_what_make_chunk_writes(seed: int) -> None:
    rng = random.Random(seed)
    names = subjects(40)
    before = corpus(rng, names)
    after = set(before)
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["drop line", "drop subject", "add line", "new subject"])
        present = sorted({x.split(b" ", 1)[0].decode() for x in after})
        if kind == "drop line" and len(after) > 1:
            after.discard(rng.choice(sorted(after)))
        elif kind == "drop subject" and len(present) > 1:
            gone = rng.choice(present).encode() + b" "
            after = {x for x in after if not x.startswith(gone)}
        elif kind == "add line":
            after.add(line(rng.choice(present), rng.choice(PREDICATES), rng.choice(OBJECTS)))
        else:
            fresh = rng.choice(
                [f"<{ID}s{rng.randrange(0, 40, 2) + 1:03d}>", f"<{ID}a>", f"<{ID}zz>"]
            )
            after.add(line(fresh, rng.choice(PREDICATES), rng.choice(OBJECTS)))
    check(before, after)


@pytest.mark.parametrize(
    "edit",
    ["first", "last", "new first", "new last", "new before a dropped last", "drop all but one"],
)
def test_edits_at_the_ends(edit: str) -> None:
    names = [f"<{ID}b>", f"<{ID}d>", f"<{ID}f>"]
    before = {line(s, PREDICATES[1], OBJECTS[3]) for s in names}
    drop = {
        "first": {names[0]},
        "last": {names[-1]},
        "new before a dropped last": {names[-1]},
        "drop all but one": set(names[1:]),
    }.get(edit, set())
    add = {
        "new first": f"<{ID}a>",
        "new last": f"<{ID}g>",
        "new before a dropped last": f"<{ID}e>",
    }.get(edit)
    after = {x for x in before if x.split(b" ", 1)[0].decode() not in drop}
    if add:
        after.add(line(add, PREDICATES[0], OBJECTS[0]))
    check(before, after)


def test_without_the_other_formats_or_with_nothing_left_it_is_made_whole() -> None:
    before = {line(f"<{ID}a>", PREDICATES[0], OBJECTS[0])}
    old = make_chunk(G, b"".join(before), every_format=False)
    assert spliced(old, old.nq, set(), set()) is None
    assert spliced(make_chunk(G, b"".join(before)), b"", before, set()) is None


@pytest.mark.parametrize("seed", range(20))
def test_lines_taken_out_and_put_in_in_one_pass_keep_the_lines_sorted(seed: int) -> None:
    """graph.rebuild._edited: what sorting the lines again gives, at both ends and where a line
    goes in just before one that goes out."""
    from graph.rebuild import _edited

    rng = random.Random(seed)
    names = subjects(30)
    before = corpus(rng, names)
    after = {x for x in before if rng.random() > 0.2} | corpus(rng, rng.sample(names, 5))
    if seed % 2:  # the first and the last lines go, and lines before them come
        ends = sorted(before)
        after = (after - {ends[0], ends[-1]}) | {b"<a:> <a:> <a:> .\n", b"<z:> <z:> <z:> .\n"}
    old = b"".join(sorted(before))
    made = _edited(old, before - after, after - before)
    assert made == b"".join(sorted(after))
