"""Scoring of the knowledge's answers: the judge on hand-made cases, and the pinned precision/coverage."""

from __future__ import annotations

import pytest
from helpers.paths import REPO

from evaluations.answers import AnswerOutcome, AnswerReport, judge, score_answers
from evaluations.gold import load_gold
from evaluations.pinned import compare_answers, load_expected
from indexer.knowledge.answer import Answer, SubjectMatch, curated_answerer
from indexer.knowledge.model import Subject


class _Shown(Answer):
    """An answer whose shown entries are given directly."""

    def __init__(self, entries: list[str], *subjects: Subject) -> None:
        super().__init__("?", [SubjectMatch(s, s.phrases[0], frozenset()) for s in subjects], [], [], [], [])
        self._entries = entries

    @property
    def entry_ids(self) -> list[str]:
        return self._entries


WASTE = Subject("dechets", "Déchets", ("déchets",), competences=("cc-dechets", "ca-dechets"))
WATER = Subject("eau", "Eau", ("eau",), competences=("cc-eau",))


def test_judge_wants_every_expected_entry_and_no_unrelated_subject() -> None:
    assert judge(("cc-dechets",), _Shown(["cc-dechets", "ca-dechets"], WASTE))
    assert not judge(("cc-dechets", "cc-eau"), _Shown(["cc-dechets"], WASTE))  # an expected entry missing
    assert not judge(("cc-dechets",), _Shown(["cc-dechets", "cc-eau"], WASTE, WATER))  # an unrelated subject
    assert not judge(None, _Shown(["cc-dechets"], WASTE))  # an answer where none is expected
    assert not judge(("cc-dechets",), None)


def test_precision_counts_shown_answers_and_coverage_expected_ones() -> None:
    report = AnswerReport(
        [
            AnswerOutcome("q1", "?", ("a",), ("a",), correct=True),
            AnswerOutcome("q2", "?", ("a",), ("b",), correct=False),
            AnswerOutcome("q3", "?", ("a",), None),
            AnswerOutcome("q4", "?", None, ("c",)),
            AnswerOutcome("q5", "?", None, None),
        ]
    )
    assert report.precision == pytest.approx(1 / 3)
    assert report.coverage == pytest.approx(2 / 3)
    assert report.to_json()["shown"] == 3 and report.to_json()["expected"] == 3


def test_pinned_answer_scores_hold() -> None:
    expected = load_expected(REPO / "evaluations" / "expected.yaml")
    answerer = curated_answerer()
    assert answerer is not None and expected.answers
    for split in expected.answers:
        report = score_answers(load_gold(expected.gold, split), answerer.answer)
        measured = {"precision": report.precision, "coverage": report.coverage}
        failed = [c.line() for c in compare_answers(expected, split, measured) if not c.ok]
        assert not failed, failed


def test_every_pinned_file_loads_and_pins_both_splits_in_every_mode() -> None:
    from evaluations.pinned import EXPECTED_FILES

    pinned = [load_expected(path) for path in EXPECTED_FILES]
    assert [p.gold.name for p in pinned] == ["qfq-dev", "qfq-formel"]
    assert len({p.model for p in pinned}) == 1  # measured on the same build
    for expected in pinned:
        assert expected.gold.is_dir()
        assert set(expected.scores) == {"dev", "test"}
        for modes in expected.scores.values():
            assert set(modes) == {"hybrid", "dense", "lexical"}
