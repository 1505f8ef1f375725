"""Find verbatim quotes in source texts, tolerant only of layout: whitespace, typographic quotes
and footnote markers. Keeps a map back to the original text so a match has a line number."""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from dataclasses import dataclass

CLOSEST_PROBE = 240  # characters of a quote used to find the passage most like it

_FOOTNOTE_REF = re.compile(r"\[footnoteRef:\d+\]")
_REF = _FOOTNOTE_REF.pattern
# A gap that is not a single space: a run of two or more spaces and markers, a marker, another
# whitespace character; or any run at either end of the text.
_GAP = re.compile(
    rf"(?=[\s\[])(?:\A(?:\s|{_REF})+|(?:\s|{_REF})+\Z|(?:\s|{_REF}){{2,}}|{_REF}|[^\S ])"
)
_REFS_ONLY = re.compile(rf"(?:{_REF})+")
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ",
    }
)  # fmt: skip
_PLAIN = [(chr(k), str(v)) for k, v in _TRANSLATE.items()]


def _plain(text: str) -> str:
    """Typographic quotes and unusual spaces made plain, character for character.

    str.replace per character, because str.translate with a table looks up every character of a
    long text in Python and took longer than all the rest of reading a source.
    """
    for typographic, plain in _PLAIN:
        text = text.replace(typographic, plain)
    return text


def normalise(text: str) -> str:
    """Normalise a quote the way source texts are normalised for matching."""
    text = _plain(unicodedata.normalize("NFC", text))
    text = _FOOTNOTE_REF.sub("", text)
    return " ".join(text.split())


@dataclass
class Span:
    """A match: character offsets into the original text and the lines they cover (1-based)."""

    start: int
    end: int
    first_line: int
    last_line: int


class SourceText:
    """A source document's text, normalised once, searchable for quotes."""

    def __init__(self, text: str):
        self.text = unicodedata.normalize("NFC", text)
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        # The flat text collapses every gap (whitespace and footnote markers) between two kept
        # characters to one space, or to nothing for a gap of markers only, and drops gaps at the
        # ends. A lone space maps to itself, so only the other gaps are visited (by regex, not
        # character by character: this was the slowest part of `dkg check` at scale); each one
        # starts a new stretch of (flat offset, original offset) where the two advance together.
        cleaned = _plain(self.text)
        n = len(cleaned)
        flat_at = [0]
        orig_at = [0]
        removed = 0

        def gap(m: re.Match[str]) -> str:
            nonlocal removed
            start, end = m.span()
            spaced = start > 0 and end < n and not _REFS_ONLY.fullmatch(m[0])
            f = start - removed
            if spaced:
                flat_at.append(f)
                orig_at.append(end - 1)  # the space stands for the last character of the gap
                f += 1
            flat_at.append(f)
            orig_at.append(end)
            removed += (end - start) - spaced
            return " " if spaced else ""

        self.flat = _GAP.sub(gap, cleaned)
        self._flat_at = flat_at
        self._orig_at = orig_at

    def _origin(self, f: int) -> int:
        k = bisect.bisect_right(self._flat_at, f) - 1
        return self._orig_at[k] + (f - self._flat_at[k])

    @property
    def lines(self) -> list[str]:
        """The original lines."""
        return self.text.split("\n")

    def line_of(self, offset: int) -> int:
        """Return the 1-based line of an offset in the original text."""
        return bisect.bisect_right(self._line_starts, offset)

    def _span(self, fstart: int, fend: int) -> Span:
        start, end = self._origin(fstart), self._origin(fend - 1) + 1
        return Span(start, end, self.line_of(start), self.line_of(end - 1))

    def find_all(self, quote: str) -> list[Span]:
        """Return every place the quote occurs."""
        needle = normalise(quote)
        if not needle:
            return []
        spans, at = [], self.flat.find(needle)
        while at >= 0:
            spans.append(self._span(at, at + len(needle)))
            at = self.flat.find(needle, at + 1)
        return spans

    def find_other_case(self, quote: str) -> tuple[int, str] | None:
        """(line, passage as written in the text) of the first place the quote occurs with other
        capitals only; None if it does not (or the text changes length in lower case)."""
        needle = normalise(quote).lower()
        lower = self.flat.lower()
        if not needle or len(lower) != len(self.flat):
            return None
        at = lower.find(needle)
        if at < 0:
            return None
        return self._span(at, at + len(needle)).first_line, self.flat[at : at + len(needle)]

    def closest(self, quote: str) -> tuple[float, int, str]:
        """Return (similarity, line, passage) of the passage most like the quote."""
        needle = normalise(quote)
        full = len(needle)
        # difflib is quadratic: a long quote is placed by its opening words (a 2,000-character
        # quote took minutes), and the passage shown is as long as the whole quote
        needle = needle[:CLOSEST_PROBE]
        n = len(needle)
        if not n or not self.flat:
            return 0.0, 0, ""
        step = max(1, n // 4)
        best = (0.0, 0)
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(needle)
        for at in range(0, max(1, len(self.flat) - n + step), step):
            matcher.set_seq1(self.flat[at : at + n])
            if matcher.real_quick_ratio() <= best[0] or matcher.quick_ratio() <= best[0]:
                continue
            r = matcher.ratio()
            if r > best[0]:
                best = (r, at)
        # refine around the best window, one character at a time
        lo, hi = max(0, best[1] - step), min(len(self.flat) - 1, best[1] + step)
        for at in range(lo, hi + 1):
            matcher.set_seq1(self.flat[at : at + n])
            r = matcher.ratio()
            if r > best[0]:
                best = (r, at)
        at = best[1]
        start = at
        while start > 0 and start > at - 20 and not self.flat[start - 1].isspace():
            start -= 1  # begin at the first word's start, likewise
        end = at + full
        while end < len(self.flat) and end < at + full + 20 and not self.flat[end].isspace():
            end += 1  # finish the last word, so the passage reads as text
        passage = self.flat[start:end]
        return best[0], self._span(at, min(at + full, len(self.flat))).first_line, passage
