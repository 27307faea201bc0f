"""Grid search of the hybrid fusion parameters on the DEV split of a gold set (never on test).

    python -m evaluations.tune_fusion --gold evaluations/datasets/qfq-dev

Two stages: the fusion grid (method, RRF k, weights, depth) without priors, then the priors (level boost,
territory and regulatory penalties) tried together on the best settings of the first stage. Prints one line per setting, best nDCG@10 first; the chosen
values then become the `FusionParams` defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from evaluations.gold import load_gold
from evaluations.metrics import METRICS
from evaluations.runner import Report, open_retriever, run_split
from indexer.errors import QfqError
from indexer.search.fusion import FusionParams
from indexer.search.retriever import Retriever
from indexer.settings import Settings

TUNING_SPLIT = "dev"
RRF_K = (5.0, 10.0, 20.0, 40.0, 60.0, 100.0)
RRF_WEIGHTS = ((1.0, 1.0), (1.0, 0.75), (1.0, 0.5), (1.0, 0.25), (0.75, 1.0), (0.5, 1.0))
LINEAR_WEIGHTS = ((1.0, 0.1), (1.0, 0.2), (1.0, 0.3), (1.0, 0.5), (1.0, 0.75), (1.0, 1.0))
DEPTHS = (100, 200)
LEVEL_BOOSTS = (0.0, 0.2, 0.5)
TERRITORY_PENALTIES = (0.0, 0.5)
REGULATORY_PENALTIES = (0.0, 0.3, 0.5, 0.7)
NO_PRIORS = FusionParams(level_boost=0.0, territory_penalty=0.0, regulatory_penalty=0.0, acronyms=True)
PRIOR_SETTINGS = 3  # best first-stage settings tried with each combination of priors


def grid() -> Iterator[FusionParams]:
    """First stage: weighted RRF over k and weights, linear fusion over weights, each at 2 depths."""
    for depth in DEPTHS:
        for rrf_k, (dense, lexical) in itertools.product(RRF_K, RRF_WEIGHTS):
            yield replace(NO_PRIORS, rrf_k=rrf_k, dense_weight=dense, lexical_weight=lexical, depth=depth)
        for dense, lexical in LINEAR_WEIGHTS:
            yield replace(
                NO_PRIORS,
                method="linear",
                rrf_k=60.0,
                dense_weight=dense,
                lexical_weight=lexical,
                depth=depth,
            )


def with_priors(params: FusionParams) -> Iterator[FusionParams]:
    """`params` with every combination of level boost, territory penalty and regulatory penalty."""
    for boost, territory, regulatory in itertools.product(
        LEVEL_BOOSTS, TERRITORY_PENALTIES, REGULATORY_PENALTIES
    ):
        if boost or territory or regulatory:
            yield replace(
                params,
                level_boost=boost,
                territory_penalty=territory,
                regulatory_penalty=regulatory,
            )


def describe(params: FusionParams) -> str:
    """Short French label of a setting."""
    boost = "".join(
        f" {label}={value:g}"
        for label, value in (
            ("bonus niveau", params.level_boost),
            ("malus territoire", params.territory_penalty),
            ("malus réglementaire", params.regulatory_penalty),
        )
        if value
    )
    if params.method == "rrf":
        return (
            f"rrf k={params.rrf_k:g} dense={params.dense_weight:g} lexical={params.lexical_weight:g} "
            f"profondeur={params.depth}{boost}"
        )
    return (
        f"linéaire dense={params.dense_weight:g} lexical={params.lexical_weight:g} "
        f"profondeur={params.depth}{boost}"
    )


def tune(base: Retriever, gold_folder: Path, k: int = 10) -> list[tuple[FusionParams, Report]]:
    """Score every grid setting in hybrid mode on the dev split, best nDCG@10 first (ties: recall@10).

    The bundle and the query-caching encoder of `base` are shared by every setting.
    """
    gold = load_gold(gold_folder, TUNING_SPLIT)

    def best_first(results: list[tuple[FusionParams, Report]]) -> list[tuple[FusionParams, Report]]:
        return sorted(results, key=lambda pr: (-pr[1].metrics["ndcg@10"], -pr[1].metrics["recall@10"]))

    def score(settings: list[FusionParams], stage: str) -> list[tuple[FusionParams, Report]]:
        results = []
        for number, params in enumerate(settings, start=1):
            retriever = Retriever(base.bundle, base.encoder, params)
            report = run_split(retriever, gold, mode="hybrid", k=k, progress=None)
            results.append((params, report))
            print(
                f"[{stage} {number}/{len(settings)}] {describe(params)} : "
                f"nDCG@10 {report.metrics['ndcg@10']:.4f}",
                file=sys.stderr,
                flush=True,
            )
        return results

    first = best_first(score(list(grid()), "fusion"))
    priors = [setting for params, _ in first[:PRIOR_SETTINGS] for setting in with_priors(params)]
    return best_first(first + score(priors, "a priori"))


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
