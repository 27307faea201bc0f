"""What each ranking change of the answers issue brings: the hybrid metrics of both public gold sets with the
changes added one at a time.

    python -m evaluations.ablation [--index-sans-titres DATA_DIR]

Steps, on the published index: the fusion setting of the previous round (RRF k 5, regulatory penalty 0.5)
without the curated mechanisms; then the mechanisms a question names as evidence in the fusion
(`corpus/knowledge/mecanismes.toml`); then the defaults (fusion tuned again on both dev splits). With
`--index-sans-titres`, the first step is also run on that data dir's index, built before the headings'
subject line was added to the text the encoder reads (`indexer.text.headings`). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest.mock import patch

from evaluations.gold import load_gold
from evaluations.runner import open_retriever, run_split
from indexer.search.fusion import FusionParams
from indexer.search.retriever import Retriever
from indexer.settings import Settings

DATASETS = Path(__file__).resolve().parent / "datasets"
BEFORE = FusionParams(rrf_k=5.0, regulatory_penalty=0.5)
STEPS: tuple[tuple[str, FusionParams, bool], ...] = (
    ("réglage précédent, sans mécanismes", BEFORE, False),
    ("+ mécanismes comme preuves", BEFORE, True),
    ("+ fusion réglée à nouveau sur dev = défauts", FusionParams(), True),
)


@contextlib.contextmanager
def _mechanisms(used: bool) -> Iterator[None]:
    """Search with or without the curated mechanisms as evidence."""
    if used:
        yield
        return
    with patch("indexer.knowledge.answer.Answerer.mechanisms_named", return_value=[]):
        yield


def _rows(base: Retriever, steps: Sequence[tuple[str, FusionParams, bool]], prefix: str) -> None:
    for split in ("test", "dev"):
        for gold_name in ("qfq-dev", "qfq-formel"):
            gold = load_gold(DATASETS / gold_name, split)
            for label, params, used in steps:
                with _mechanisms(used):
                    report = run_split(Retriever(base.bundle, base.encoder, params), gold, progress=None)
                m = report.metrics
                print(
                    f"| {gold_name} | {split} | {prefix}{label} | {m['ndcg@10']:.4f} | {m['p@1']:.4f} | "
                    f"{m['recall@10']:.4f} |",
                    flush=True,
                )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one table line per gold set, split and step."""
    parser = argparse.ArgumentParser(prog="python -m evaluations.ablation", description=__doc__)
    parser.add_argument(
        "--index-sans-titres",
        type=Path,
        help="dossier de données d'un index construit sans les titres dans le texte encodé",
    )
    args = parser.parse_args(argv)
    print("| jeu | découpage | réglage | nDCG@10 | P@1 | Recall@10 |")
    print("|---|---|---|---|---|---|")
    if args.index_sans_titres is not None:
        with contextlib.redirect_stdout(sys.stderr):
            before = open_retriever(Settings(data_dir=args.index_sans_titres))
        _rows(before, STEPS[:1], f"index sans titres encodés ({before.build_id}), ")
    with contextlib.redirect_stdout(sys.stderr):
        base = open_retriever(Settings())
    _rows(base, STEPS, f"index {base.build_id}, ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
