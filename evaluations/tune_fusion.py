"""Grid search of the hybrid fusion parameters on the DEV split of a gold set (never on test).

    python -m evaluations.tune_fusion --gold evaluations/datasets/qfq-dev --gold evaluations/datasets/qfq-formel

Three stages: the fusion grid (method, RRF k, weights, depth) without priors, then the priors (level boost,
territory and regulatory penalties) tried together on the best settings of the first stage, then the weight
of the knowledge's evidence on the best settings so far. With several gold sets (agents' questions, formal
questions) a setting is judged on the mean of their dev nDCG@10, so that neither style is sacrificed to the
other. Prints one line per setting, best first; the chosen values then become the `FusionParams` defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
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
EVIDENCE_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
EVIDENCE_SETTINGS = 3  # best settings so far tried with each evidence weight


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


def with_evidence(params: FusionParams) -> Iterator[FusionParams]:
    """`params` with each evidence weight."""
    for weight in EVIDENCE_WEIGHTS:
        yield replace(params, evidence_weight=weight)


def describe(params: FusionParams) -> str:
    """Short French label of a setting."""
    boost = "".join(
        f" {label}={value:g}"
        for label, value in (
            ("bonus niveau", params.level_boost),
            ("malus territoire", params.territory_penalty),
            ("malus réglementaire", params.regulatory_penalty),
            ("preuves", params.evidence_weight),
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


@dataclass
class Trial:
    """One setting scored on the dev split of each gold set."""

    params: FusionParams
    reports: list[Report]

    @property
    def metrics(self) -> dict[str, float]:
        """Mean of each metric over the gold sets (each set weighs the same, whatever its size)."""
        return {m: sum(r.metrics[m] for r in self.reports) / len(self.reports) for m in METRICS}


def tune(base: Retriever, gold_folders: Sequence[Path], k: int = 10) -> list[Trial]:
    """Score every grid setting in hybrid mode on the dev splits, best mean nDCG@10 first (ties: recall@10).

    The bundle and the query-caching encoder of `base` are shared by every setting.
    """
    golds = [load_gold(folder, TUNING_SPLIT) for folder in gold_folders]

    def best_first(results: list[Trial]) -> list[Trial]:
        return sorted(results, key=lambda t: (-t.metrics["ndcg@10"], -t.metrics["recall@10"]))

    def score(settings: list[FusionParams], stage: str) -> list[Trial]:
        results = []
        for number, params in enumerate(settings, start=1):
            retriever = Retriever(base.bundle, base.encoder, params)
            trial = Trial(params, [run_split(retriever, g, mode="hybrid", k=k, progress=None) for g in golds])
            results.append(trial)
            print(
                f"[{stage} {number}/{len(settings)}] {describe(params)} : "
                f"nDCG@10 {trial.metrics['ndcg@10']:.4f}",
                file=sys.stderr,
                flush=True,
            )
        return results

    first = best_first(score(list(grid()), "fusion"))
    priors = [setting for t in first[:PRIOR_SETTINGS] for setting in with_priors(t.params)]
    second = best_first(first + score(priors, "a priori"))
    evidence = [setting for t in second[:EVIDENCE_SETTINGS] for setting in with_evidence(t.params)]
    return best_first(second + score(evidence, "preuves"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the table of settings on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m evaluations.tune_fusion",
        description="Réglage de la fusion hybride sur le découpage dev (jamais sur test).",
    )
    parser.add_argument(
        "--gold", required=True, type=Path, action="append", help="dossier d'un jeu de référence (répétable)"
    )
    parser.add_argument("-k", type=int, default=10, help="résultats gardés par question")
    parser.add_argument("--top", type=int, default=20, help="lignes affichées (défaut : 20)")
    args = parser.parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            base = open_retriever(Settings())
            golds = [load_gold(folder, TUNING_SPLIT) for folder in args.gold]
            baselines = {
                mode: Trial(
                    FusionParams(), [run_split(base, g, mode=mode, k=args.k, progress=None) for g in golds]
                )
                for mode in ("dense", "lexical")
            }
            results = tune(base, args.gold, args.k)
    except QfqError as exc:
        print(f"Erreur ({exc.code}) : {exc.message}", file=sys.stderr)
        return 1
    names = " + ".join(g.name for g in golds)
    print(f"Index {base.build_id} · {names} · découpage {TUNING_SPLIT} · {len(results)} réglages essayés")
    print("Moyenne des jeux, puis nDCG@10 de chaque jeu.")
    header = (
        f"{'réglage':<58} " + " ".join(f"{m:>9}" for m in METRICS) + "".join(f" {g.name:>10}" for g in golds)
    )
    print(header)
    print("-" * len(header))
    for label, trial in [(f"({m} seul)", t) for m, t in baselines.items()] + [
        (describe(t.params), t) for t in results[: args.top]
    ]:
        print(
            f"{label:<58} "
            + " ".join(f"{trial.metrics[m]:>9.4f}" for m in METRICS)
            + "".join(f" {r.metrics['ndcg@10']:>10.4f}" for r in trial.reports)
        )
    print(f"Meilleur réglage : {results[0].params}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
