"""Grid search of the hybrid fusion parameters on the DEV split of a gold set (never on test).

    python -m evaluations.tune_fusion --gold evaluations/datasets/qfq-dev

Prints one line per setting, best nDCG@10 first; the chosen values then become the `FusionParams` defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from evaluations.gold import load_gold
from evaluations.metrics import METRICS
from evaluations.runner import Report, open_retriever, run_split
from indexer.errors import QfqError
from indexer.retriever import FusionParams, Retriever
from indexer.settings import Settings

TUNING_SPLIT = "dev"
RRF_K = (5.0, 10.0, 20.0, 40.0, 60.0, 100.0)
RRF_WEIGHTS = ((1.0, 1.0), (1.0, 0.75), (1.0, 0.5), (1.0, 0.25), (0.75, 1.0), (0.5, 1.0))
LINEAR_WEIGHTS = ((1.0, 0.1), (1.0, 0.2), (1.0, 0.3), (1.0, 0.5), (1.0, 0.75), (1.0, 1.0))
DEPTHS = (50, 100, 200)


def grid() -> Iterator[FusionParams]:
    """Every setting tried: weighted RRF over k and weights, linear fusion over weights, each at 3 depths."""
    for depth in DEPTHS:
        for rrf_k, (dense, lexical) in itertools.product(RRF_K, RRF_WEIGHTS):
            yield FusionParams("rrf", rrf_k, dense, lexical, depth)
        for dense, lexical in LINEAR_WEIGHTS:
            yield FusionParams("linear", 60.0, dense, lexical, depth)


def describe(params: FusionParams) -> str:
    """Short French label of a setting."""
    if params.method == "rrf":
        return (
            f"rrf k={params.rrf_k:g} dense={params.dense_weight:g} lexical={params.lexical_weight:g} "
            f"profondeur={params.depth}"
        )
    return (
        f"linéaire dense={params.dense_weight:g} lexical={params.lexical_weight:g} profondeur={params.depth}"
    )


def tune(base: Retriever, gold_folder: Path, k: int = 10) -> list[tuple[FusionParams, Report]]:
    """Score every grid setting in hybrid mode on the dev split, best nDCG@10 first (ties: recall@10).

    The bundle and the query-caching encoder of `base` are shared by every setting.
    """
    gold = load_gold(gold_folder, TUNING_SPLIT)
    results = []
    settings = list(grid())
    for number, params in enumerate(settings, start=1):
        retriever = Retriever(base.bundle, base.encoder, params)
        report = run_split(retriever, gold, mode="hybrid", k=k, progress=None)
        results.append((params, report))
        print(
            f"[{number}/{len(settings)}] {describe(params)} : nDCG@10 {report.metrics['ndcg@10']:.4f}",
            file=sys.stderr,
            flush=True,
        )
    return sorted(results, key=lambda pr: (-pr[1].metrics["ndcg@10"], -pr[1].metrics["recall@10"]))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the table of settings on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m evaluations.tune_fusion",
        description="Réglage de la fusion hybride sur le découpage dev (jamais sur test).",
    )
    parser.add_argument("--gold", required=True, type=Path, help="dossier du jeu de référence")
    parser.add_argument("-k", type=int, default=10, help="résultats gardés par question")
    parser.add_argument("--top", type=int, default=20, help="lignes affichées (défaut : 20)")
    args = parser.parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            base = open_retriever(Settings())
            baselines = {
                mode: run_split(base, load_gold(args.gold, TUNING_SPLIT), mode=mode, k=args.k, progress=None)
                for mode in ("dense", "lexical")
            }
            results = tune(base, args.gold, args.k)
    except QfqError as exc:
        print(f"Erreur ({exc.code}) : {exc.message}", file=sys.stderr)
        return 1
    print(f"Index {base.build_id} · découpage {TUNING_SPLIT} · {len(results)} réglages essayés")
    header = f"{'réglage':<58} " + " ".join(f"{m:>9}" for m in METRICS)
    print(header)
    print("-" * len(header))
    for label, report in [(f"({m} seul)", r) for m, r in baselines.items()] + [
        (describe(p), r) for p, r in results[: args.top]
    ]:
        print(f"{label:<58} " + " ".join(f"{report.metrics[m]:>9.4f}" for m in METRICS))
    best = results[0][0]
    print(f"Meilleur réglage : {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
