"""Warm in-process search latency (p50 / p95) over a list of French questions, per search mode.

    python benchmarks/bench_search.py                    # questions of the public gold set, or built-in ones
    python benchmarks/bench_search.py --repeat 3 --k 10
    python benchmarks/bench_search.py --queries my.jsonl # BEIR queries.jsonl ({"_id", "text"})
    python benchmarks/bench_search.py --stages --modes hybrid  # process CPU per stage of a served search

Latency is measured around `Retriever.search` (query encoding included) after a warm-up pass. With
`--stages`, each hybrid question is also asked the way `/v1/search` asks it (the curated knowledge's answer,
the search, the API model and its JSON) and the process CPU time (all threads) of each stage is printed:
the server's CPU per request over HTTP is about this plus uvicorn's and FastAPI's share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.embedding.factory import load_encoder
from indexer.index.bundle import load_bundle, read_manifest
from indexer.knowledge.answer import Answer, MechanismMatch, curated_answerer
from indexer.search.ask import Asker
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever, SearchResult
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


class StageClock:
    """Process CPU time spent in wrapped callables, each stage's own time (nested stages subtracted)."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self._current: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # CPU time of the nested stages of each open stage

    def wrap(self, owner: object, name: str, stage: str) -> None:
        """Replace `owner.name` by a timed call (on an instance: that instance only)."""
        original: Callable[..., object] = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            started = time.process_time()
            self._stack.append(0.0)
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.process_time() - started
                nested = self._stack.pop()
                self._current[stage] += spent - nested
                if self._stack:
                    self._stack[-1] += spent

        setattr(owner, name, timed)

    def reset(self) -> None:
        """Forget everything measured so far (the warm-up)."""
        self.cpu.clear()
        self._current.clear()

    def lap(self, total: float) -> None:
        """Close one request: record each stage's time and the rest of `total` as "autre"."""
        for stage, spent in self._current.items():
            self.cpu[stage].append(spent)
        self.cpu["autre"].append(total - sum(self._current.values()))
        self._current.clear()


def stage_breakdown(retriever: Retriever, questions: list[str], k: int, repeat: int) -> None:
    """Print the process CPU per stage of the hybrid search as `/v1/search` runs it (answer, search, JSON)."""
    from service.api.presenters import search_response
    from service.api.schemas import SearchParams

    answerer = curated_answerer()
    asker = Asker(retriever, answerer)
    clock = StageClock()
    bundle = retriever.bundle
    if answerer is not None:
        clock.wrap(answerer, "answer", "réponse des connaissances")
        clock.wrap(answerer, "mechanisms_named", "mécanismes nommés")
    clock.wrap(retriever.encoder, "encode_queries", "encodage de la question")
    clock.wrap(bundle.lexical, "scores", "BM25")
    clock.wrap(bundle.index, "search", "balayage vectoriel")
    clock.wrap(retriever, "_dense_scores", "cosinus des candidats")
    clock.wrap(retriever, "_fuse", "fusion et a priori")
    clock.wrap(retriever, "_named_rows", "articles nommés")
    clock.wrap(bundle.store, "get", "lecture des passages")
    clock.wrap(retriever, "_hits", "termes trouvés (surlignage)")
    params = SearchParams(q="x", k=k)

    def present(result: SearchResult, answer: Answer | None, mechanisms: list[MechanismMatch]) -> bytes:
        payload = None
        if answer is not None and answerer is not None:
            payload = answer.to_dict(answerer.knowledge, answerer.taxonomy, retriever)
        cards = [m.to_dict(retriever) for m in mechanisms]
        return search_response(result, params, retriever.build_id, payload, cards).model_dump_json().encode()

    presenter = SimpleNamespace(present=present)
    clock.wrap(presenter, "present", "modèle API et JSON")

    def served(question: str) -> bytes:
        reply = asker.ask(question, k)
        return bytes(presenter.present(reply.result, reply.answer, reply.mechanisms))

    for question in questions:
        served(question)
    clock.reset()
    totals = []
    for _ in range(repeat):
        for question in questions:
            started = time.process_time()
            served(question)
            totals.append(time.process_time() - started)
            clock.lap(totals[-1])
    print(f"process CPU per served hybrid search (k={k}, n={len(totals)}), load {load_average()}:")
    for stage, values in sorted(clock.cpu.items(), key=lambda item: -statistics.fmean(item[1])):
        ms = [v * 1000 for v in values]
        print(f"  {stage:30s} mean {statistics.fmean(ms):6.2f} ms  p95 {percentile(ms, 0.95):6.2f} ms")
    ms = [v * 1000 for v in totals]
    print(f"  {'total':30s} mean {statistics.fmean(ms):6.2f} ms  p95 {percentile(ms, 0.95):6.2f} ms")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=Path, help="BEIR queries.jsonl")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions")
    parser.add_argument("--modes", default="hybrid,dense,lexical")
    parser.add_argument(
        "--stages", action="store_true", help="also print the process CPU of each stage of a served search"
    )
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
    print(f"load average {load_average()} (2 cores: timings above about 2 are inflated)")
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

    if args.stages:
        stage_breakdown(retriever, questions, args.k, args.repeat)


if __name__ == "__main__":
    main()
