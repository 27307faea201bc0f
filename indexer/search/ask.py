"""A question asked: the curated knowledge's answer (when it has a confident one) and the ranked passages,
the articles the answer cites serving as evidence in the fusion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from indexer.knowledge.answer import Answer, Answerer, MechanismMatch
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever, SearchResult
from indexer.text.formalities import strip_formalities


@dataclass
class Reply:
    """The passages found and the knowledge's answer (None when it has none)."""

    result: SearchResult
    answer: Answer | None
    mechanisms: list[MechanismMatch] = field(default_factory=list)  # how a competence moves, when named


def answer_evidence(
    answer: Answer | None, mechanisms: Sequence[MechanismMatch] = ()
) -> list[tuple[str, str]]:
    """(document, article) of every legal basis of the answer's entries, in the answer's order, then of the
    mechanisms named."""
    bases = []
    if answer is not None:
        bases = [b for c in answer.competences for b in c.basis] + [
            b for o in answer.obligations for b in o.basis
        ]
    bases += [b for m in mechanisms for b in m.mechanism.basis]
    return list(dict.fromkeys((b.doc_key, b.article) for b in bases))


class Asker:
    """Answers questions with one retriever and, when given, the knowledge's answerer."""

    def __init__(self, retriever: Retriever, answerer: Answerer | None) -> None:
        self.retriever = retriever
        self.answerer = answerer

    def ask(
        self,
        query: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: str = "hybrid",
        offset: int = 0,
        group_by_article: bool = False,
    ) -> Reply:
        """Search like `Retriever.search`, with the knowledge's answer computed first.

        Raises:
            QfqError: as `Retriever.search` (empty question, unknown mode, bad filters).
        """
        answer = None
        mechanisms: list[MechanismMatch] = []
        if self.answerer and query.strip():
            question = strip_formalities(query)
            answer = self.answerer.answer(question, self.retriever)
            mechanisms = self.answerer.mechanisms_named(question)
        result = self.retriever.search(
            query, k, filters, mode, offset, group_by_article, evidence=answer_evidence(answer, mechanisms)
        )
        return Reply(result, answer, mechanisms)
