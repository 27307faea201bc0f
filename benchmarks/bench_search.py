"""Warm in-process search latency (p50 / p95) over a list of French questions, per search mode.

    python benchmarks/bench_search.py                    # questions of the public gold set, or built-in ones
    python benchmarks/bench_search.py --repeat 3 --k 10
    python benchmarks/bench_search.py --queries my.jsonl # BEIR queries.jsonl ({"_id", "text"})

Latency is measured around `Retriever.search` (query encoding included) after a warm-up pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.embedding.factory import load_encoder
from indexer.index.bundle import load_bundle, read_manifest
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever
from indexer.settings import Settings

GOLD_QUERIES = REPO / "evaluations" / "datasets" / "qfq-dev" / "queries.jsonl"

BUILT_IN = [
    "Quelles compétences exerce une communauté de communes ?",
    "Qui est compétent pour la collecte et le traitement des déchets ménagers ?",
    "La gestion des milieux aquatiques et la prévention des inondations relèvent de qui ?",
    "Une commune doit-elle publier ses données en open data ?",
    "Qu'est-ce qu'un schéma directeur territorial d'aménagement numérique ?",
    "Transfert de la compétence eau et assainissement aux communautés de communes",
    "Quelles collectivités doivent adopter un plan climat-air-énergie territorial ?",
    "Qui est l'autorité organisatrice de la mobilité ?",
    "Compétences de la région en matière de développement économique",
    "Le département est-il compétent pour l'action sociale ?",
    "Stratégie numérique responsable des communes de plus de 50 000 habitants",
    "Accessibilité numérique des sites internet des collectivités",
    "article L. 1425-1 du CGCT",
    "L5214-16",
    "article 35 de la loi REEN",
    "art. 47 de la loi de 2005",
    "Qui délivre le permis de construire ?",
    "Comment est élu le président d'une métropole ?",
    "Quelles sont les compétences obligatoires d'une communauté d'agglomération ?",
    "Le conseil municipal peut-il déléguer ses attributions au maire ?",
    "Qui gère les routes départementales ?",
    "Obligations des collectivités en matière d'éclairage public et de pollution lumineuse",
    "Aides aux entreprises accordées par les communes",
    "Création d'une zone d'aménagement concerté",
    "Plan local d'urbanisme intercommunal",
    "Collecte séparée des biodéchets",
    "Réseaux de chaleur et de froid des collectivités",
    "Installation d'ombrières photovoltaïques sur les parkings",
    "Gestion des eaux pluviales urbaines",
    "Quelle collectivité est chargée des lycées ?",
]


def load_questions(path: Path | None) -> tuple[list[str], str]:
    """Questions from a BEIR queries.jsonl, the gold set's if present, else the built-in list."""
    source = path or GOLD_QUERIES
    if source.is_file():
        questions = [
            json.loads(line)["text"] for line in source.read_text(encoding="utf-8").splitlines() if line
        ]
        return questions, str(source)
    return list(BUILT_IN), "built-in list"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=Path, help="BEIR queries.jsonl")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions")
    parser.add_argument("--modes", default="hybrid,dense,lexical")
    parser.add_argument(
        "--proxy-bundle",
        type=Path,
        help="latency proxy: search this bundle (e.g. a full-size one built with a fake encoder) with the "
        "settings' real query encoder, skipping the model check; rankings are meaningless, timings are not",
    )
    args = parser.parse_args()

    settings = Settings()
    questions, source = load_questions(args.queries)
    started = time.perf_counter()
    if args.proxy_bundle:
        encoder = load_encoder(settings)
        built_with = read_manifest(args.proxy_bundle)["model"]["setting"]
        bundle = load_bundle(settings.model_copy(update={"model": built_with}), args.proxy_bundle)
        retriever = Retriever(bundle, encoder)
        bundle_model = retriever.manifest["model"]["id"]
        print(f"PROXY: bundle built with {bundle_model}, queries encoded with {encoder.model_id}")
    else:
        retriever = Retriever.open(settings)
    open_seconds = time.perf_counter() - started
    print(
        f"bundle {retriever.build_id} ({retriever.manifest['counts']['passages']} passages), "
        f"model {retriever.encoder.model_id}, backend {settings.model_backend}, threads {settings.threads}; "
        f"opened in {open_seconds:.1f} s; {len(questions)} questions from {source}"
    )
    filters = SearchFilters()
    for question in questions:  # warm-up: caches, allocators, first-call costs
        retriever.search(question, k=args.k, filters=filters)
    encode = []
    for _ in range(args.repeat):
        for question in questions:
            t = time.perf_counter()
            retriever.encoder.encode_queries([question])
            encode.append((time.perf_counter() - t) * 1000)
    print(
        f"query encoding alone: p50 {statistics.median(encode):.1f} ms, p95 {percentile(encode, 0.95):.1f} ms"
    )
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores: timings above about 2 are inflated)")
    for mode in args.modes.split(","):
        latencies = []
        for _ in range(args.repeat):
            for question in questions:
                t = time.perf_counter()
                retriever.search(question, k=args.k, filters=filters, mode=mode)
                latencies.append((time.perf_counter() - t) * 1000)
        print(
            f"{mode:8s} n={len(latencies)}  p50 {statistics.median(latencies):.1f} ms  "
            f"p95 {percentile(latencies, 0.95):.1f} ms  max {max(latencies):.1f} ms"
        )
    stats = getattr(retriever.bundle.index, "prefilter_stats", None)
    if stats is not None:
        print(
            f"flat index: {stats['certified']} single-query searches proven exact through the half-precision "
            f"copy, {stats['fallback']} rescanned in float32"
        )


if __name__ == "__main__":
    main()
