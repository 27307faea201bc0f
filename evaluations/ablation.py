"""What each ranking change of the answers issue brings: the hybrid metrics of both public gold sets with the
changes added one at a time, on the published index.

    python -m evaluations.ablation

Steps: the fusion setting before the issue (RRF k 5, dense 1, lexical 0.5, regulatory penalty 0.7, no
evidence) with the questions searched as typed; then the courtesy forms of written questions removed
(`indexer.text.formalities`); then the fusion tuned on both dev splits without the knowledge's evidence; then
the defaults (evidence weight included). Prints a Markdown table.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

from evaluations.gold import load_gold
from evaluations.runner import open_retriever, run_split
from indexer.search.fusion import FusionParams
from indexer.search.retriever import Retriever
from indexer.settings import Settings

DATASETS = Path(__file__).resolve().parent / "datasets"
BEFORE = FusionParams(dense_weight=1.0, lexical_weight=0.5, regulatory_penalty=0.7, evidence_weight=0.0)
STEPS: tuple[tuple[str, FusionParams, bool], ...] = (
    ("avant (réglage de d23d318, questions telles quelles)", BEFORE, False),
    ("+ retrait des formules des questions écrites", BEFORE, True),
    ("+ fusion réglée sur les deux jeux (sans preuves)", replace(FusionParams(), evidence_weight=0.0), True),
    ("+ preuves des réponses (poids 1) = défauts", FusionParams(), True),
)


@contextlib.contextmanager
def _formalities(strip: bool) -> Iterator[None]:
    """Search with or without the removal of written questions' forms (both places that apply it)."""
    if strip:
        yield
        return
    with (
        patch("indexer.search.retriever.strip_formalities", _as_typed),
        patch("indexer.search.ask.strip_formalities", _as_typed),
    ):
        yield


def _as_typed(question: str) -> str:
    return question


def main() -> int:
    """Entry point: one table line per gold set, split and step."""
    with contextlib.redirect_stdout(sys.stderr):
        base = open_retriever(Settings())
    print(f"Index {base.build_id} · recherche hybride")
    print("| jeu | découpage | réglage | nDCG@10 | P@1 | Recall@10 |")
    print("|---|---|---|---|---|---|")
    for split in ("test", "dev"):
        for gold_name in ("qfq-dev", "qfq-formel"):
            gold = load_gold(DATASETS / gold_name, split)
            for label, params, strip in STEPS:
                with _formalities(strip):
                    report = run_split(Retriever(base.bundle, base.encoder, params), gold, progress=None)
                m = report.metrics
                print(
                    f"| {gold_name} | {split} | {label} | {m['ndcg@10']:.4f} | {m['p@1']:.4f} | "
                    f"{m['recall@10']:.4f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
