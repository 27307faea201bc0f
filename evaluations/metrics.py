"""Ranking metrics on graded judgements, and the deduplication of results to the judgements' granularity.

Judgements (qrels) name either an article (`doc_key/article`: any passage of that article counts) or a whole
document (`doc_key`: any passage of that document counts). A ranked list of passage ids is first turned into
a list of such units, keeping the first occurrence of each, and the metrics score that list. Gains are linear
in the grade (2 primary, 1 related), as in BEIR and trec_eval's `ndcg_cut`. Every function is pure: inputs
are never modified.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
"""Judgements: query id -> corpus id (`doc_key/article` or `doc_key`) -> grade (0 not relevant)."""

Run = Mapping[str, Mapping[str, float]]
"""Results: query id -> passage id -> score (higher first)."""

METRICS = ("ndcg@10", "recall@5", "recall@10", "mrr@10", "p@1")
_PART_SUFFIX = re.compile(r"#\d+$")


def article_of(passage_id: str) -> str:
    """`doc/article` of a passage id (`doc/article` or `doc/article#n`)."""
    return _PART_SUFFIX.sub("", passage_id)


def document_of(passage_id: str) -> str:
    """`doc_key` of a passage, article or document id."""
    return passage_id.split("/", 1)[0]


def ranked_ids(scores: Mapping[str, float]) -> list[str]:
    """Ids of one query's run, best first (ties broken by id so the order is reproducible)."""
    return sorted(scores, key=lambda pid: (-scores[pid], pid))


def unit_of(passage_id: str, judged: Mapping[str, int]) -> str:
    """The unit a passage counts as: its article id when judged, else its document key when the document is
    judged as a whole, else its article id."""
    article = article_of(passage_id)
    if article not in judged and document_of(passage_id) in judged:
        return document_of(passage_id)
    return article


def dedup_to_units(ranking: Sequence[str], judged: Mapping[str, int]) -> list[str]:
    """Map ranked passage ids to the units the judgements use, keeping each unit's first occurrence.

    A passage becomes its article id when that article is judged, else its document key when the document
    is judged as a whole, else its article id (an unjudged unit, counted once like the others).

    Args:
        ranking: passage ids, best first.
        judged: the query's judgements (corpus id -> grade).

    Returns:
        Units (article ids or document keys), best first, without repeats.
    """
    units: list[str] = []
    seen: set[str] = set()
    for passage_id in ranking:
        unit = unit_of(passage_id, judged)
        if unit not in seen:
            seen.add(unit)
            units.append(unit)
    return units


def _relevant(judged: Mapping[str, int]) -> dict[str, int]:
    return {unit: grade for unit, grade in judged.items() if grade > 0}


def dcg_at_k(grades: Sequence[int], k: int) -> float:
    """Discounted cumulative gain of grades in rank order: sum of grade / log2(rank + 1) over the top k."""
    return sum(grade / math.log2(rank + 1) for rank, grade in enumerate(grades[:k], start=1))


def ndcg_at_k(units: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Normalised DCG at k with graded gains; 0.0 when nothing is relevant.

    Args:
        units: deduplicated ranked units (see `dedup_to_units`).
        judged: the query's judgements.
        k: cut-off.
    """
    relevant = _relevant(judged)
    ideal = dcg_at_k(sorted(relevant.values(), reverse=True), k)
    if ideal == 0:
        return 0.0
    return dcg_at_k([relevant.get(unit, 0) for unit in units], k) / ideal


def recall_at_k(units: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Share of the relevant units (grade > 0) found in the top k; 0.0 when nothing is relevant."""
    relevant = _relevant(judged)
    if not relevant:
        return 0.0
    return len(relevant.keys() & set(units[:k])) / len(relevant)


def mrr_at_k(units: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant unit in the top k, 0.0 if none."""
    relevant = _relevant(judged)
    for rank, unit in enumerate(units[:k], start=1):
        if unit in relevant:
            return 1.0 / rank
    return 0.0


def precision_at_1(units: Sequence[str], judged: Mapping[str, int]) -> float:
    """1.0 when the first unit is relevant, else 0.0."""
    return 1.0 if units and judged.get(units[0], 0) > 0 else 0.0


def query_metrics(ranking: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    """The five reported metrics for one query.

    Args:
        ranking: passage ids, best first.
        judged: the query's judgements.

    Returns:
        `ndcg@10`, `recall@5`, `recall@10`, `mrr@10`, `p@1`.
    """
    units = dedup_to_units(ranking, judged)
    return {
        "ndcg@10": ndcg_at_k(units, judged, 10),
        "recall@5": recall_at_k(units, judged, 5),
        "recall@10": recall_at_k(units, judged, 10),
        "mrr@10": mrr_at_k(units, judged, 10),
        "p@1": precision_at_1(units, judged),
    }


def evaluate(run: Run, qrels: Qrels) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean metrics over the judged queries that have at least one relevant unit.

    A judged query missing from the run counts as an empty result (all metrics 0).

    Args:
        run: results per query.
        qrels: judgements per query.

    Returns:
        (means keyed by metric name, metrics per query id); the number of queries scored is the length
        of the second.
    """
    per_query: dict[str, dict[str, float]] = {}
    for query_id in sorted(qrels):
        judged = qrels[query_id]
        if not _relevant(judged):
            continue
        per_query[query_id] = query_metrics(ranked_ids(run.get(query_id, {})), judged)
    count = len(per_query)
    means = {
        name: (sum(values[name] for values in per_query.values()) / count if count else 0.0)
        for name in METRICS
    }
    return means, per_query
