"""Scoring the knowledge's answers (`reponse`) against the expected ones of a gold set.

The gold set gives, per question, `metadata.reponse`: null (no answer expected) or the ids of the curated
entries a correct answer shows (`entrees`) and the levels named (`niveaux`). An answer shown is correct when
it shows every expected entry and every subject it shows contains one of them (no unrelated subject); an
answer shown where none is expected is wrong. Precision is the share of shown answers that are correct,
coverage the share of questions expecting an answer that get one (correct or not).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluations.gold import GoldSplit
from indexer.knowledge.answer import Answer


@dataclass(frozen=True)
class AnswerOutcome:
    """One question: what was expected, what was shown, and the verdict."""

    query_id: str
    question: str
    expected: tuple[str, ...] | None  # entry ids, None when no answer is expected
    shown: tuple[str, ...] | None  # entry ids of the answer, None when none was shown
    subjects: tuple[str, ...] = ()
    correct: bool = False


@dataclass
class AnswerReport:
    """Precision and coverage of the answers on one split, with every question's outcome."""

    outcomes: list[AnswerOutcome] = field(default_factory=list)

    @property
    def shown(self) -> int:
        return sum(o.shown is not None for o in self.outcomes)

    @property
    def expected(self) -> int:
        return sum(o.expected is not None for o in self.outcomes)

    @property
    def precision(self) -> float:
        return sum(o.correct for o in self.outcomes) / self.shown if self.shown else 0.0

    @property
    def coverage(self) -> float:
        answered = sum(o.expected is not None and o.shown is not None for o in self.outcomes)
        return answered / self.expected if self.expected else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "coverage": round(self.coverage, 4),
            "shown": self.shown,
            "correct": sum(o.correct for o in self.outcomes),
            "expected": self.expected,
            "questions": len(self.outcomes),
        }


def expected_entries(metadata: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The expected entry ids of a question's metadata, None when no answer is expected."""
    expected = metadata.get("reponse")
    if not expected:
        return None
    return tuple(expected["entrees"])


def judge(expected: tuple[str, ...] | None, answer: Answer | None) -> bool:
    """Whether the answer shown is right (False when nothing is shown)."""
    if answer is None or expected is None:
        return False
    shown = set(answer.entry_ids)
    if not set(expected) <= shown:
        return False
    wanted = set(expected)
    return all(
        wanted & (set(match.subject.competences) | set(match.subject.obligations))
        for match in answer.subjects
    )


def score_answers(gold: GoldSplit, answer: Callable[[str], Answer | None]) -> AnswerReport:
    """Ask every question of the split and judge the answers.

    Args:
        gold: the split (its queries carry `metadata.reponse`).
        answer: the answering function (`Answerer.answer` bound to a passage lookup, or without one).
    """
    report = AnswerReport()
    for query_id in sorted(gold.queries):
        query = gold.queries[query_id]
        expected = expected_entries(query.extra.get("metadata") or {})
        got = answer(query.text)
        report.outcomes.append(
            AnswerOutcome(
                query_id=query_id,
                question=query.text,
                expected=expected,
                shown=tuple(got.entry_ids) if got is not None else None,
                subjects=tuple(m.subject.id for m in got.subjects) if got is not None else (),
                correct=judge(expected, got),
            )
        )
    return report


def format_outcomes(report: AnswerReport, only_errors: bool = False) -> str:
    """A Markdown table of the questions (wrong answers, misses, or all), in French."""
    lines = ["| question | attendu | montré | verdict |", "|---|---|---|---|"]
    for o in report.outcomes:
        if o.expected is None and o.shown is None:
            verdict = "sans réponse (juste)"
        elif o.shown is None:
            verdict = "manquée"
        else:
            verdict = "juste" if o.correct else "FAUSSE"
        if only_errors and verdict in {"juste", "sans réponse (juste)"}:
            continue
        expected = ", ".join(o.expected) if o.expected else "—"
        shown = ", ".join(o.shown) if o.shown else "—"
        lines.append(f"| {o.query_id} {o.question} | {expected} | {shown} | {verdict} |")
    return "\n".join(lines)


def summary_line(name: str, reports: Sequence[tuple[str, AnswerReport]]) -> str:
    parts = [
        f"{split} : précision {r.precision:.3f} ({sum(o.correct for o in r.outcomes)}/{r.shown}), "
        f"couverture {r.coverage:.3f} ({sum(o.expected is not None and o.shown is not None for o in r.outcomes)}"
        f"/{r.expected})"
        for split, r in reports
    ]
    return f"{name} — " + " · ".join(parts)
