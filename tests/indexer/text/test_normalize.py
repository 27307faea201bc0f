"""French analysis: folding, stop words, stemming on accented words, and one stemmer per thread."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from indexer.text.normalize import analyze, fold, stem, words


def test_fold_strips_accents_and_ligatures() -> None:
    assert fold("Établissement Œuvre à l’État") == "etablissement oeuvre a l'etat"


def test_words_drop_elisions_and_keep_article_numbers() -> None:
    assert words("L'eau de l’agglo, article L5214-16") == ["eau", "de", "agglo", "article", "l5214-16"]


def test_stems_come_from_the_accented_word() -> None:
    # Snowball's French rules look for « -ité », « -ée »…: stemming the folded word would miss them.
    assert stem("sécurité") == "secur" != stem("securite")
    assert stem("communautés") == stem("communauté")
    assert stem("collectivités") != stem("collecte")  # a merge the French rules would make
    assert analyze("les déchets ménagers") == analyze("Les DÉCHETS ménagers") == ["dechet", "menager"]
    assert analyze("L5214-16 du CGCT") == ["l5214-16", "cgct"]
    assert analyze("Qu’est-ce que c’est ?") == []


def test_hyphenated_words_are_stemmed_part_by_part() -> None:
    assert analyze("Provence-Alpes-Côte") == [stem("provence"), stem("alpes"), stem("côte")]


def _vocabulary(corpus_dir: Path) -> list[str]:
    text = " ".join(
        path.read_text(encoding="utf-8") for path in sorted((corpus_dir / "lois").glob("*.json"))[:3]
    )
    found = sorted({w.lower() for w in text.split() if w.isalpha() and len(w) > 3})
    assert len(found) > 2000
    return found


def test_many_threads_stem_exactly_as_one(corpus_dir: Path) -> None:
    """Stemmers keep state between calls: threads sharing one got about 3 % of stems wrong."""
    vocabulary = _vocabulary(corpus_dir)
    uncached = stem.__wrapped__  # the cache would hide the stemmer itself
    expected = {word: uncached(word) for word in vocabulary}
    results: list[dict[str, str]] = []
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        order = vocabulary[:]
        random.Random(seed).shuffle(order)
        try:
            results.append({word: uncached(word) for _ in range(3) for word in order})
        except BaseException as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8 and all(result == expected for result in results)


@pytest.mark.parametrize("text", ["", "   ", "!!!"])
def test_nothing_to_analyse(text: str) -> None:
    assert analyze(text) == []
