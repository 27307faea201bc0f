"""Splitting long articles at structural boundaries, never mid-sentence."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from indexer.corpus.segment import sentences_of, split_article, structural_level


def words(text: str) -> int:
    return len(text.split())


def test_short_article_is_one_part() -> None:
    parts = split_article("Un court article.", 50, words)
    assert len(parts) == 1 and parts[0].text == "Un court article."


def test_structural_levels() -> None:
    assert structural_level("I. ― La communauté de communes exerce") == 1
    assert structural_level("II. - La communauté peut") == 1
    assert structural_level("1° Aménagement de l'espace ;") == 2
    assert structural_level("2° bis En matière de politique de la ville") == 2
    assert structural_level("a) Les communes ;") == 3
    assert structural_level("La région élabore un schéma.") == 0


def test_long_article_is_cut_at_the_roman_numeral_and_parts_carry_labels() -> None:
    first = "I. ― La communauté exerce les compétences suivantes :"
    items = [f"{n}° Compétence numéro {n} " + "mot " * 30 + "fin." for n in range(1, 6)]
    second = "II. ― La communauté peut aussi exercer " + "mot " * 30 + "fin."
    text = "\n\n".join([first, *items, second])
    parts = split_article(text, 120, words)
    assert len(parts) > 1
    assert all(words(part.text) <= 120 for part in parts)
    assert any(part.text.startswith("II.") for part in parts), "a part starts at the II. boundary"
    continued = [part for part in parts if part.text.startswith(("2°", "3°", "4°", "5°"))]
    assert continued and all(part.section_label.startswith("I. ―") for part in continued)
    assert "\n\n".join(part.text for part in parts) == text


def test_over_long_paragraph_is_cut_at_sentence_ends() -> None:
    sentences = [f"Phrase {n} " + "mot " * 20 + "fin." for n in range(10)]
    paragraph = " ".join(sentences)
    parts = split_article(paragraph, 60, words)
    assert len(parts) > 1
    for part in parts:
        assert part.text.endswith("fin.")
        assert part.text.startswith("Phrase")


@settings(max_examples=60, deadline=None)
@example(paragraph_words=[["la"] * 19 + ["I.", "la"]], budget=20)  # found by hypothesis: one sentence
@given(
    st.lists(
        st.lists(
            st.sampled_from(["la", "commune", "exerce", "compétence", "région", "1°", "I."]),
            min_size=1,
            max_size=40,
        ),
        min_size=1,
        max_size=25,
    ),
    st.integers(min_value=20, max_value=200),
)
def test_splitting_loses_no_text_and_respects_the_budget(paragraph_words, budget) -> None:
    paragraphs = [" ".join(ws) + "." for ws in paragraph_words]
    text = "\n\n".join(paragraphs)
    parts = split_article(text, budget, words)
    rebuilt = " ".join(" ".join(part.text.split()) for part in parts)
    assert rebuilt == " ".join(text.split())
    for part in parts:
        # Only a single sentence longer than the budget may exceed it ("... I. la." is one sentence: a
        # lower-case word after a full stop does not start a new one).
        assert words(part.text) <= budget or len(sentences_of(part.text)) == 1
