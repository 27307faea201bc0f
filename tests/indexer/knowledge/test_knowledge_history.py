"""Every curated entry is dated by a law the version histories of its legal bases know.

For each competence and obligation, the law named by `loi` must appear in the history of at least one cited
article: a lexlib history (`codes/<key>.amendments.jsonl`, read with `indexer.knowledge.impact.history_events`),
the `lienModifications` of the Légifrance tree of the CRPA (`piste_events`), or the article is itself an
article of that law (`document` of `laws.toml`). The Ansvar codes (énergie, urbanisme, CPCE) carry no history:
an entry resting on them, or on a text absent from the corpus, says why in `hors_historique`.
The same holds for each dated change that cites its own articles.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from indexer.knowledge.impact import history_events, piste_events
from indexer.knowledge.load import load_knowledge
from indexer.knowledge.model import Knowledge, Law, LegalBasis
from indexer.models import Document


class Histories:
    """The version histories of the corpus, read once, asked whether a law changed an article."""

    def __init__(self, corpus_dir: Path, documents: dict[str, Document]) -> None:
        self.lines: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.trees: dict[str, dict[str, Any]] = {}
        self._piste: dict[tuple[str, str], set[str]] = {}
        for doc in documents.values():
            if doc.format == "lexlib-markdown" and doc.amendments:
                per_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for raw in (corpus_dir / doc.amendments).read_text(encoding="utf-8").splitlines():
                    if raw.strip():
                        line = json.loads(raw)
                        per_article[str(line["article"])].append(line)
                self.lines[doc.key] = per_article
            elif doc.format == "legi-piste-json":
                self.trees[doc.key] = json.loads((corpus_dir / doc.path).read_text(encoding="utf-8"))

    def has_history(self, basis: LegalBasis, law: Law) -> bool:
        return basis.doc_key in self.lines or basis.doc_key in self.trees or basis.doc_key == law.document

    def names(self, law: Law, basis: LegalBasis) -> bool:
        """True when the law is the article's own text or appears in the article's version history."""
        if law.document and basis.doc_key == law.document:
            return True
        if basis.doc_key in self.lines:
            return bool(history_events(self.lines[basis.doc_key].get(basis.article, []), law))
        if basis.doc_key in self.trees:
            key = (basis.doc_key, law.key)
            if key not in self._piste:
                self._piste[key] = set(piste_events(self.trees[basis.doc_key], law))
            return basis.article in self._piste[key]
        return False


@pytest.fixture(scope="module")
def knowledge(corpus_documents: dict[str, Document]) -> Knowledge:
    return load_knowledge(documents=corpus_documents)


@pytest.fixture(scope="module")
def histories(corpus_dir: Path, corpus_documents: dict[str, Document]) -> Histories:
    return Histories(corpus_dir, corpus_documents)


def _entries(knowledge: Knowledge) -> list[Any]:
    return [*knowledge.competences, *knowledge.obligations]


def test_the_law_of_each_entry_is_in_the_history_of_a_cited_article(
    knowledge: Knowledge, histories: Histories
) -> None:
    problems = []
    for entry in _entries(knowledge):
        law = knowledge.laws[entry.law]
        found = any(histories.names(law, basis) for basis in entry.basis)
        if not found and not entry.out_of_history:
            cited = ", ".join(basis.ref for basis in entry.basis)
            problems.append(f"{entry.id} : {law.key} ({law.number}) absente de l'historique de {cited}")
    assert not problems, problems


def test_an_exemption_is_only_claimed_when_needed_and_says_why(
    knowledge: Knowledge, histories: Histories
) -> None:
    for entry in _entries(knowledge):
        if not entry.out_of_history:
            continue
        law = knowledge.laws[entry.law]
        assert len(entry.out_of_history) >= 30, entry.id  # a reason, not a flag
        assert not any(histories.names(law, basis) for basis in entry.basis), (
            f"{entry.id} : {law.key} figure dans l'historique d'un article cité, l'exemption est inutile"
        )


def test_each_change_citing_articles_is_in_their_history(knowledge: Knowledge, histories: Histories) -> None:
    problems = []
    for competence in knowledge.competences:
        for change in competence.changes:
            law = knowledge.laws[change.law]
            bases = [b for b in change.basis if histories.has_history(b, law)]
            if bases and not any(histories.names(law, basis) for basis in bases):
                cited = ", ".join(b.ref for b in bases)
                problems.append(
                    f"{competence.id}, {change.date} : {law.key} absente de l'historique de {cited}"
                )
    assert not problems, problems


def test_entry_dates_are_not_before_their_law(knowledge: Knowledge) -> None:
    for entry in _entries(knowledge):
        assert entry.since >= knowledge.laws[entry.law].date, entry.id


def test_the_reader_finds_what_the_issue_named(knowledge: Knowledge, histories: Histories) -> None:
    """Spot checks against the histories: Lamy on L. 5214-16, ALUR on L. 5211-9-2, Montagne II on L. 1425-2."""
    basis = {
        "l5214-16": LegalBasis("cgct", "L5214-16"),
        "l5211-9-2": LegalBasis("cgct", "L5211-9-2"),
        "l1425-2": LegalBasis("cgct", "L1425-2"),
        "l4251-1": LegalBasis("cgct", "L4251-1"),
    }
    laws = knowledge.laws
    assert histories.names(laws["loi-2014-173"], basis["l5214-16"])
    assert histories.names(laws["loi-2014-366"], basis["l5211-9-2"])
    assert histories.names(laws["loi-2016-1888"], basis["l1425-2"])
    assert histories.names(laws["republique-numerique"], basis["l1425-2"])
    assert not histories.names(laws["notre"], basis["l4251-1"])  # the NOTRe version is not in the corpus
