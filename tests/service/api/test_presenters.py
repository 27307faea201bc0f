"""Highlighting of the matched words: the one-scan path marks exactly what the whole-word pattern marks."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.presenters import highlight


def pattern_highlight(text: str, terms: list[str]) -> str:
    """The reference: one alternation of the terms, longest first, whole words only."""
    wanted = sorted(dict.fromkeys(t for t in terms if t), key=len, reverse=True)
    if not wanted:
        return html.escape(text, quote=False)
    pattern = re.compile(rf"(?<![\w-])(?:{'|'.join(map(re.escape, wanted))})(?![\w-])")
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [
            html.escape(text[last : match.start()], quote=False),
            f"<mark>{html.escape(match[0], quote=False)}</mark>",
        ]
        last = match.end()
    return "".join([*out, html.escape(text[last:], quote=False)])


ALPHABET = "abcé É-_'<&> .,1L"
WORDS = st.text(alphabet=ALPHABET, min_size=0, max_size=6)


@settings(max_examples=500)
@given(text=st.text(alphabet=ALPHABET, max_size=60), terms=st.lists(WORDS, max_size=5))
def test_highlight_marks_what_the_whole_word_pattern_marks(text: str, terms: list[str]) -> None:
    assert highlight(text, terms) == pattern_highlight(text, terms)


def test_highlight_of_hyphenated_and_nested_words() -> None:
    text = "L5214-16 : la communauté de communes exerce, pour la commune-centre et la commune..."
    marked = highlight(text, ["commune", "L5214-16", "communes"])
    assert marked == pattern_highlight(text, ["commune", "L5214-16", "communes"])
    assert marked.count("<mark>") == 3 and "<mark>commune</mark>-centre" not in marked
