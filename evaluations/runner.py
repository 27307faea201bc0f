"""Runs a gold split through the in-process search (`Asker`: the knowledge's answer as evidence, then the
`Retriever`) and scores it; writes the committed result tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evaluations.gold import GoldSplit
from evaluations.metrics import METRICS, dedup_to_units, evaluate
from indexer.embedding.base import Encoder, SplitEncoder
from indexer.errors import QfqError
from indexer.knowledge.answer import Answerer, curated_answerer
from indexer.search.ask import Asker
from indexer.search.fusion import FusionParams
from indexer.search.retriever import MODES, Retriever
from indexer.settings import Settings

FETCH_FACTOR = 5  # passages fetched per result kept, so that k distinct articles or documents remain
MIN_FETCH = 50

Progress = Callable[[int, int], None]


class CachingEncoder(SplitEncoder):
    """Wraps an encoder and remembers query vectors, so several modes or fusion settings encode once."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner, inner)
        self.inner = inner
        self._queries: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            vectors = np.asarray(self.inner.encode_queries(missing), dtype=np.float32)
            self._queries.update(zip(missing, vectors, strict=True))
        return np.stack([self._queries[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


@dataclass
class Report:
    """Scores of one gold split in one mode, with what produced them."""

    gold: str
    split: str
    mode: str
    k: int
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    run: dict[str, dict[str, float]]
    bundle: dict[str, Any]
    fusion: dict[str, Any]
    seconds: float
    questions: dict[str, str] = field(default_factory=dict)
    first_relevant: dict[str, int | None] = field(default_factory=dict)

    @property
    def queries(self) -> int:
        return len(self.per_query)

    def to_json(self) -> dict[str, Any]:
        """The object `python -m evaluations run --json` prints."""
        data: dict[str, Any] = {name: round(self.metrics[name], 4) for name in METRICS}
        data["queries"] = self.queries
        data["mode"] = self.mode
        data["bundle"] = self.bundle
        return data


def _query_encoder(retriever: Retriever) -> str:
    encoder = getattr(retriever.encoder, "inner", retriever.encoder)  # under the caching wrapper
    queries = getattr(encoder, "queries", encoder)  # SplitEncoder: the question encoder
    return str(getattr(queries, "model_id", ""))


def bundle_summary(retriever: Retriever) -> dict[str, Any]:
    """What the results were measured on: build id, model, passage and document counts, subset."""
    manifest = retriever.manifest
    counts = manifest.get("counts") or {}
    model = manifest.get("model") or {}
    corpus = manifest.get("corpus") or {}
    return {
        "build_id": retriever.build_id,
        "built_at": manifest.get("built_at"),
        "model": model.get("id"),
        "backend": model.get("backend"),
        "query_encoder": _query_encoder(retriever),
        "dimension": model.get("dimension"),
        "passages": counts.get("passages"),
        "articles": counts.get("articles"),
        "documents": counts.get("documents"),
        "only": corpus.get("only"),
    }


def open_retriever(settings: Settings, fusion: FusionParams | None = None) -> Retriever:
    """The published bundle with a query-caching encoder (see `CachingEncoder`).

    Raises:
        BundleError: no usable bundle for the settings' model.
        ModelError: the model cannot be loaded.
    """
    from indexer.embedding.factory import load_encoder

    return Retriever.open(settings, encoder=CachingEncoder(load_encoder(settings)), fusion=fusion)


def _stderr_progress(done: int, total: int) -> None:
    if done == total or done % 25 == 0:
        print(f"  {done}/{total} questions", file=sys.stderr, flush=True)


def run_split(
    retriever: Retriever,
    gold: GoldSplit,
    mode: str = "hybrid",
    k: int = 10,
    progress: Progress | None = _stderr_progress,
    answerer: Answerer | None = None,
) -> Report:
    """Ask every question of a gold split as the service does and score the answers.

    Each query's results are deduplicated to the granularity of its judgements (article or document, see
    `evaluations.metrics.dedup_to_units`) and cut at `k` units; the run keeps the best passage of each
    unit with score 1/rank, so the order is the retriever's own (named articles first).

    Args:
        retriever: an opened retriever.
        gold: the gold split.
        mode: "hybrid", "dense" or "lexical".
        k: results kept per query after deduplication.
        progress: called with (done, total) after each query.
        answerer: the knowledge's answerer whose legal bases weigh in the fusion (default: the curated
            knowledge, as the service).

    Returns:
        The report (means, per-query metrics, run, bundle summary).

    Raises:
        QfqError: unknown mode (`mode_invalide`), or a query's filters rejected by the bundle.
    """
    if mode not in MODES:
        raise QfqError(
            f"Mode d'évaluation inconnu : {mode!r} (valeurs possibles : {', '.join(MODES)}).",
            code="mode_invalide",
        )
    k = max(1, int(k))
    fetch = max(MIN_FETCH, FETCH_FACTOR * k)
    started = time.perf_counter()
    run: dict[str, dict[str, float]] = {}
    asker = Asker(retriever, answerer if answerer is not None else curated_answerer())
    total = len(gold.queries)
    for done, (query_id, query) in enumerate(gold.queries.items(), start=1):
        judged = gold.qrels.get(query_id, {})
        try:
            result = asker.ask(query.text, k=fetch, filters=query.filters, mode=mode).result
        except QfqError as exc:
            raise QfqError(
                f"Question {query_id} : {exc.message}", code=exc.code, details=exc.details
            ) from exc
        passage_ids = [hit.passage.id for hit in result.hits]
        leaders: dict[str, str] = {}
        for passage_id in passage_ids:
            unit = dedup_to_units([passage_id], judged)[0]
            leaders.setdefault(unit, passage_id)
        kept = list(leaders.values())[:k]
        run[query_id] = {pid: 1.0 / rank for rank, pid in enumerate(kept, start=1)}
        if progress is not None:
            progress(done, total)
    metrics, per_query = evaluate(run, gold.qrels)
    first_relevant = {}
    for query_id, judged in gold.qrels.items():
        units = dedup_to_units(list(run.get(query_id, {})), judged)
        first_relevant[query_id] = next(
            (rank for rank, unit in enumerate(units, start=1) if judged.get(unit, 0) > 0), None
        )
    return Report(
        gold=gold.name,
        split=gold.split,
        mode=mode,
        k=k,
        metrics=metrics,
        per_query=per_query,
        run=run,
        bundle=bundle_summary(retriever),
        fusion=asdict(retriever.fusion),
        seconds=time.perf_counter() - started,
        questions={qid: q.text for qid, q in gold.queries.items()},
        first_relevant=first_relevant,
    )


def format_table(reports: Sequence[Report]) -> str:
    """A plain-text table of the five metrics, one line per report."""
    head = f"{'jeu':<10} {'découpage':<9} {'mode':<8} " + " ".join(f"{m:>9}" for m in METRICS) + "  questions"
    lines = [head, "-" * len(head)]
    for r in reports:
        values = " ".join(f"{r.metrics[m]:>9.4f}" for m in METRICS)
        lines.append(f"{r.gold:<10} {r.split:<9} {r.mode:<8} {values}  {r.queries:>9}")
    return "\n".join(lines)


def results_markdown(report: Report, command: str = "") -> str:
    """The committed Markdown table of one report: bundle summary, metrics, then each question's outcome."""
    b = report.bundle
    only = ", ".join(b.get("only") or []) or "corpus entier"
    lines = [
        f"# {report.gold} — découpage {report.split} — mode {report.mode}",
        "",
        f"Mesuré le {datetime.now(UTC).strftime('%Y-%m-%d')} en {report.seconds:.1f} s"
        + (f" par `{command}`." if command else "."),
        "",
        "## Index",
        "",
        "| build | modèle | moteur | questions encodées par | dimension | passages | articles | documents | sous-ensemble |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {b.get('build_id')} | {b.get('model')} | {b.get('backend')} | {b.get('query_encoder')} | {b.get('dimension')} | "
        f"{b.get('passages')} | {b.get('articles')} | {b.get('documents')} | {only} |",
        "",
        "Fusion : " + ", ".join(f"{key} = {value}" for key, value in report.fusion.items()) + ".",
        "",
        "## Scores",
        "",
        "| " + " | ".join(METRICS) + " | questions | k |",
        "|" + "---|" * (len(METRICS) + 2),
        "| "
        + " | ".join(f"{report.metrics[m]:.4f}" for m in METRICS)
        + f" | {report.queries} | {report.k} |",
        "",
        "## Par question",
        "",
        "Rang du premier résultat pertinent après déduplication (— : aucun dans les k premiers).",
        "",
        "| question | nDCG@10 | rang | 1er résultat | texte |",
        "|---|---|---|---|---|",
    ]
    for query_id, values in report.per_query.items():
        rank = report.first_relevant.get(query_id)
        top = next(iter(report.run.get(query_id, {})), "")
        text = report.questions.get(query_id, "").replace("|", "\\|")
        lines.append(
            f"| {query_id} | {values['ndcg@10']:.3f} | {rank if rank else '—'} | {top or '—'} | {text} |"
        )
    return "\n".join(lines) + "\n"


def write_results(report: Report, folder: Path, command: str = "") -> Path:
    """Write `results_markdown` to `<folder>/<gold>-<split>-<mode>.md` and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.gold}-{report.split}-{report.mode}.md"
    path.write_text(results_markdown(report, command), encoding="utf-8")
    return path
