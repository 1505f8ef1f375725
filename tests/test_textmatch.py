"""What `dkg check` tells a curator about a quote it cannot find: where the text has it with other
capitals, or the closest passage, shown from the start of a word to the end of one."""

from __future__ import annotations

from graph.textmatch import SourceText

TEXT = "Vraag 1\nKunt u dat toelichten?\n\nAntwoord 1\nHet fonds heeft inmiddels een omvang van € 150 miljoen.\n"


def test_a_quote_with_other_capitals_is_found_as_written() -> None:
    source = SourceText(TEXT)
    assert source.find_all("het fonds heeft inmiddels") == []
    assert source.find_other_case("het fonds heeft  INMIDDELS") == (5, "Het fonds heeft inmiddels")
    assert source.find_other_case("het fonds heeft nu") is None


def test_the_closest_passage_starts_and_ends_on_whole_words() -> None:
    # the best window starts inside "Het" and is as long as the quote: shown from the word start
    score, line, passage = SourceText(TEXT).closest("het fonds heeft een omvang van € 150 miljoen")
    assert line == 5 and 0.5 < score < 1
    assert passage == "Het fonds heeft inmiddels een omvang van € 150"
