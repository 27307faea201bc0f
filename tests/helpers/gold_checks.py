"""Checks shared by the gold-set tests: every judged article exists in the corpus and is in force."""

from __future__ import annotations

from pathlib import Path

from evaluations.gold import load_qrels
from evaluations.metrics import article_of
from indexer.corpus.parsers import parse_document
from indexer.corpus.passages import pick_in_force
from indexer.models import Document, Status


def judged_articles(gold: Path, splits: tuple[str, ...] = ("dev", "test")) -> dict[str, set[str]]:
    """Document key -> article numbers judged in the splits (whole-document judgements left out)."""
    wanted: dict[str, set[str]] = {}
    for name in splits:
        for judged in load_qrels(gold, name).values():
            for cid in judged:
                if "/" in cid:
                    doc_key, article = article_of(cid).split("/", 1)
                    wanted.setdefault(doc_key, set()).add(article)
    return wanted


def articles_not_in_force(
    wanted: dict[str, set[str]], corpus_dir: Path, documents: dict[str, Document]
) -> list[str]:
    """`doc/article : reason` for each judged article absent, not in force, or empty in the indexed version."""
    problems = []
    for doc_key, articles in sorted(wanted.items()):
        found = {a.number: a for a in pick_in_force(parse_document(documents[doc_key], corpus_dir))}
        for number in sorted(articles):
            article = found.get(number)
            if article is None:
                problems.append(f"{doc_key}/{number} : introuvable")
            elif article.status != Status.EN_VIGUEUR:
                problems.append(f"{doc_key}/{number} : {article.status}")
            elif not article.text.strip():
                problems.append(f"{doc_key}/{number} : texte vide")
    return problems
