"""Metrics on hand-computed toy cases: graded nDCG, recall, MRR, P@1, deduplication, no input mutation."""

from __future__ import annotations

import copy
import math

import pytest

from evaluations.metrics import (
    article_of,
    dcg_at_k,
    dedup_to_units,
    document_of,
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    precision_at_1,
    query_metrics,
    ranked_ids,
    recall_at_k,
)

# One query judged at both granularities: two articles (grades 2 and 1) and a whole guide (grade 1).
JUDGED = {"cgct/L1": 2, "cgct/L2": 1, "reen": 1, "cgct/L3": 0}
RANKING = ["cgct/L9", "cgct/L1#2", "cgct/L1#1", "reen/35", "reen/4", "cgct/L2", "cgct/L3"]


def test_ids_give_their_article_and_document() -> None:
    assert article_of("cgct/L5214-16#3") == "cgct/L5214-16"
    assert article_of("cgct/L5214-16") == "cgct/L5214-16"
    assert article_of("cgct/R*331-45") == "cgct/R*331-45"
    assert article_of("numerique-responsable/objectifs#1") == "numerique-responsable/objectifs"
    assert document_of("cgct/L5214-16#3") == "cgct"
    assert document_of("reen") == "reen"


def test_dedup_keeps_first_passage_of_each_article_or_document() -> None:
    # L1#1 repeats article L1; reen/4 repeats the judged document "reen"; L9 is an unjudged article.
    assert dedup_to_units(RANKING, JUDGED) == ["cgct/L9", "cgct/L1", "reen", "cgct/L2", "cgct/L3"]


def test_dedup_to_document_granularity() -> None:
    judged = {"rgesn-2024": 2}
    ranking = ["rgesn-2024/page-3#1", "rgesn-2024/page-9#1", "cgct/L1#1", "cgct/L1#2", "rgesn-2024/page-4"]
    assert dedup_to_units(ranking, judged) == ["rgesn-2024", "cgct/L1"]


def test_dedup_prefers_the_article_when_both_granularities_are_judged() -> None:
    judged = {"cgct": 1, "cgct/L1": 2}
    assert dedup_to_units(["cgct/L1#1", "cgct/L2", "cgct/L1#2", "cgct/L5"], judged) == ["cgct/L1", "cgct"]


def test_graded_ndcg_by_hand() -> None:
    units = dedup_to_units(RANKING, JUDGED)  # grades in rank order: 0, 2, 1, 1, 0
    dcg = 2 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)  # = 2.19254
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # = 3.13093
    assert ndcg_at_k(units, JUDGED, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(units, JUDGED, 10) == pytest.approx(0.70028, abs=1e-5)
    # Cut at 2: only "cgct/L1" (grade 2, rank 2) counts; ideal keeps grades 2 and 1.
    assert ndcg_at_k(units, JUDGED, 2) == pytest.approx((2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_ndcg_is_one_for_the_ideal_order_and_uses_grades() -> None:
    judged = {"a/1": 2, "a/2": 1}
    assert ndcg_at_k(["a/1", "a/2"], judged, 10) == pytest.approx(1.0)
    # Swapping a primary and a related answer costs something: grades are not binary.
    swapped = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at_k(["a/2", "a/1"], judged, 10) == pytest.approx(swapped)
    assert swapped < 1.0


def test_dcg_by_hand() -> None:
    assert dcg_at_k([3, 2, 0, 1], 10) == pytest.approx(3 + 2 / math.log2(3) + 1 / math.log2(5))
    assert dcg_at_k([3, 2, 0, 1], 1) == pytest.approx(3.0)


def test_recall_mrr_and_precision_by_hand() -> None:
    units = dedup_to_units(RANKING, JUDGED)
    assert recall_at_k(units, JUDGED, 2) == pytest.approx(1 / 3)  # L1 of {L1, L2, reen}
    assert recall_at_k(units, JUDGED, 3) == pytest.approx(2 / 3)
    assert recall_at_k(units, JUDGED, 5) == pytest.approx(1.0)
    assert mrr_at_k(units, JUDGED, 10) == pytest.approx(0.5)
    assert mrr_at_k(units, JUDGED, 1) == 0.0
    assert precision_at_1(units, JUDGED) == 0.0
    assert precision_at_1(["cgct/L2"], JUDGED) == 1.0
    # A unit judged 0 is not relevant.
    assert precision_at_1(["cgct/L3"], JUDGED) == 0.0


def test_empty_results_and_nothing_relevant_score_zero() -> None:
    assert query_metrics([], JUDGED) == {
        "ndcg@10": 0.0,
        "recall@5": 0.0,
        "recall@10": 0.0,
        "mrr@10": 0.0,
        "p@1": 0.0,
    }
    assert ndcg_at_k(["x/1"], {"x/1": 0}, 10) == 0.0
    assert recall_at_k(["x/1"], {}, 10) == 0.0


def test_ranked_ids_sort_by_score_then_id() -> None:
    assert ranked_ids({"b": 0.5, "a": 0.5, "c": 1.0}) == ["c", "a", "b"]


def test_evaluate_averages_judged_queries_and_skips_unanswerable_ones() -> None:
    qrels = {"q1": {"d/1": 2}, "q2": {"d/2": 1}, "q3": {"d/3": 0}}
    run = {"q1": {"d/1#1": 1.0, "d/9": 0.5}}  # q2 has no results, q3 has nothing relevant
    means, per_query = evaluate(run, qrels)
    assert sorted(per_query) == ["q1", "q2"]
    assert per_query["q1"]["p@1"] == 1.0 and per_query["q2"]["p@1"] == 0.0
    assert means["p@1"] == pytest.approx(0.5)
    assert means["ndcg@10"] == pytest.approx(0.5)
    assert means["recall@10"] == pytest.approx(0.5)


def test_metrics_never_mutate_their_inputs() -> None:
    ranking, judged = list(RANKING), dict(JUDGED)
    qrels = {"q": dict(JUDGED)}
    run = {"q": {pid: 1 / rank for rank, pid in enumerate(RANKING, start=1)}}
    before = copy.deepcopy((ranking, judged, qrels, run))
    units = dedup_to_units(ranking, judged)
    ndcg_at_k(units, judged, 10)
    recall_at_k(units, judged, 5)
    mrr_at_k(units, judged, 10)
    precision_at_1(units, judged)
    query_metrics(ranking, judged)
    evaluate(run, qrels)
    ranked_ids(run["q"])
    assert (ranking, judged, qrels, run) == before
