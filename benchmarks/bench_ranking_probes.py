"""Ranking probes: six levers tried against issue 14's ranking targets, measured on the served candidates.

Usage (from the repository root, with a published full index; QFQ_DATA_DIR and QFQ_CORPUS_DIR as usual):

    python benchmarks/bench_ranking_probes.py [--probes fusion,openers,adapter,prefix,sections,vocabulary] [--test]

The served hybrid search is run once per question of both public gold sets; the candidates it gathered
(dense top 100, lexical top 100, the knowledge's evidence), their vectors and the question's vector are kept.
Every probe but `vocabulary` then reorders those same candidates offline: the replay of the served fusion
(weighted reciprocal rank fusion with `FusionParams`' defaults, priors' factors, named articles first) is
printed beside the served figures so the approximation can be seen. `vocabulary` re-runs the searches.

- fusion: a linear ranker over the fusion's inputs plus the dense cosine, its gap to the best, and the best
  dense and lexical ranks and the number of parts of each passage's article, fitted by coordinate ascent on
  nDCG@10 (4-fold cross-validation on dev);
- openers: a bonus to the first article of a chapter (« L5212-1 ») or of a heading section;
- adapter: the question vector multiplied by a diagonal or a full matrix learned (torch) so that the gold
  articles' passages come first, 4-fold cross-validation on dev;
- prefix: the question also encoded as a passage (« passage: ») and blended with its query vector;
- sections: the subject of each heading section encoded as a passage, its articles boosted when it is the
  section nearest the question;
- vocabulary: the agents' words followed by the texts' words (« ordures ménagères » → « déchets ménagers et
  assimilés »), appended to the question like the acronyms' expansions.

Settings are chosen on the dev splits; `--test` also prints the test splits, for the record only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluations.gold import load_gold
from evaluations.metrics import article_of, query_metrics, unit_of
from evaluations.runner import curated_answerer, open_retriever, run_split
from indexer.search.ask import Asker
from indexer.search.fusion import FusionParams
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.text.acronyms import Expansion
from indexer.text.formalities import strip_formalities
from indexer.text.normalize import fold

DATASETS = Path(__file__).resolve().parents[1] / "evaluations" / "datasets"
GOLD_SETS = ("qfq-dev", "qfq-formel")
PROBES = ("fusion", "openers", "adapter", "prefix", "sections", "vocabulary")
FOLDS = 4
CHAPTER_OPENER = re.compile(r"^[a-z0-9-]+/(?:L|LO|R|D)\d+-1$")
HEADING_NUMBER = re.compile(r"^(livre|titre|chapitre|section|sous-section|paragraphe|partie)[^:]*:\s*", re.I)
# Written from the domain, not from the gold questions: words agents use where the texts use others.
VOCABULARY = {
    "ordures ménagères": "déchets ménagers et assimilés",
    "poubelles": "collecte des déchets ménagers",
    "tri sélectif": "collecte séparée des déchets",
    "déchetterie": "déchèterie collecte des déchets",
    "tout-à-l'égout": "assainissement collectif",
    "fosse septique": "assainissement non collectif",
    "facture d'eau": "tarification redevance du service d'eau",
    "panneaux solaires": "installations photovoltaïques énergie solaire",
    "éoliennes": "installations de production d'électricité utilisant l'énergie du vent",
    "fibre": "réseaux de communications électroniques à très haut débit",
    "internet": "communications électroniques en ligne",
    "antennes relais": "équipements radioélectriques",
    "site internet": "service de communication au public en ligne",
    "open data": "mise à disposition et réutilisation des données publiques",
    "données ouvertes": "mise à disposition et réutilisation des données publiques",
    "voté": "adopté",
    "voter": "adopter",
    "mairie": "commune",
    "élus": "membres du conseil",
    "agglo": "communauté d'agglomération",
    "interco": "établissement public de coopération intercommunale",
    "cantine": "restauration scolaire",
    "cantines": "restauration scolaire",
    "crèche": "établissements d'accueil des jeunes enfants",
    "routes": "voirie",
    "route": "voirie",
    "trottoirs": "voirie",
    "bus": "services de transport public réguliers",
    "ramassage scolaire": "transport scolaire",
    "vélo": "mobilités actives cycles",
    "trottinettes": "engins de déplacement personnel",
    "bornes de recharge": "infrastructures de recharge pour véhicules électriques",
    "crues": "inondations",
    "rivière": "cours d'eau",
    "rivières": "cours d'eau",
    "digues": "ouvrages de prévention des inondations",
    "pompiers": "service d'incendie et de secours",
    "handicapés": "personnes handicapées",
    "logements sociaux": "logements locatifs sociaux",
    "aides aux entreprises": "aides économiques aux entreprises",
    "achats": "commande publique",
    "ordinateurs": "équipements numériques",
    "cybersécurité": "sécurité des systèmes d'information",
    "données personnelles": "données à caractère personnel",
    "impôts locaux": "impositions directes locales",
    "quitter": "retrait",
    "sortir": "retrait",
    "reprendre": "restitution",
    "mutualiser": "services communs mise en commun",
    "bibliothèque": "lecture publique",
    "conservatoire": "enseignement artistique",
}


@dataclass
class Candidates:
    """What the served hybrid search gathered for one question."""

    ids: list[str]
    lexical_rank: np.ndarray  # 1-based, 0 when absent
    evidence_rank: np.ndarray
    factor: np.ndarray  # priors' factor
    vectors: np.ndarray
    query: np.ndarray
    named: list[str]
    judged: dict[str, int]
    grades: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.grades = np.array(
            [self.judged.get(unit_of(i, self.judged), 0) for i in self.ids], dtype=np.float32
        )


class RecordingRetriever(Retriever):
    """The served retriever, keeping the candidates of its last hybrid ranking."""

    vocabulary: bool = False
    last: dict | None = None

    def _rank(
        self, mode, tokens, query_vector, allowed, depth, boosted=None, penalised=None, evidence_ids=()
    ):
        ranked = super()._rank(mode, tokens, query_vector, allowed, depth, boosted, penalised, evidence_ids)
        rows = list(ranked.ordered)
        if mode == "hybrid" and query_vector is not None and self.bundle.index is not None:
            self.last = {
                "ids": [self._ids[row] for row in rows],
                "lexical_rank": np.array([ranked.lexical_rank.get(row, 0) for row in rows]),
                "evidence_rank": np.array([ranked.evidence_rank.get(row, 0) for row in rows]),
                "factor": np.array([1.0 if penalised is None else float(penalised[row]) for row in rows]),
                "vectors": self.bundle.index.reconstruct(np.asarray(rows, dtype=np.int64)),
                "query": np.asarray(query_vector, dtype=np.float32),
            }
        return ranked

    def _expand(self, question: str) -> Expansion:
        expansion = super()._expand(question)
        extra = reworded(question) if self.vocabulary else []
        return (
            Expansion(f"{expansion.text} ({' ; '.join(extra)})", expansion.acronyms) if extra else expansion
        )


_VOCABULARY = [(re.compile(rf"(?<![\w-]){re.escape(fold(k))}(?![\w-])"), v) for k, v in VOCABULARY.items()]


def reworded(question: str) -> list[str]:
    """The texts' words for the agents' words the question uses (not already in it)."""
    folded = fold(question)
    found: list[str] = []
    for pattern, words in _VOCABULARY:
        if pattern.search(folded) and words not in found and fold(words) not in folded:
            found.append(words)
    return found


Key = tuple[str, str, str]  # split, gold set, question id
Scorer = Callable[[Key, Candidates], np.ndarray]


def capture(retriever: RecordingRetriever, splits: Sequence[str]) -> dict[Key, Candidates]:
    asker = Asker(retriever, curated_answerer())
    out: dict[Key, Candidates] = {}
    for split in splits:
        for name in GOLD_SETS:
            gold = load_gold(DATASETS / name, split)
            for query_id, query in gold.queries.items():
                result = asker.ask(query.text, k=30, filters=query.filters, mode="hybrid").result
                out[(split, name, query_id)] = Candidates(
                    **retriever.last,
                    named=[hit.passage.id for hit in result.hits if hit.article_match],
                    judged=gold.qrels.get(query_id, {}),
                )
    return out


def print_pool_recall(data: dict[Key, Candidates]) -> None:
    """How many judged-relevant units are among the candidates at all: what a reordering can reach."""
    for group in sorted({key[:2] for key in data}):
        found = total = 0
        for c in (data[k] for k in data if k[:2] == group):
            units = {unit_of(i, c.judged) for i in c.ids}
            relevant = [unit for unit, grade in c.judged.items() if grade > 0]
            total += len(relevant)
            found += sum(unit in units for unit in relevant)
        print(
            f"articles attendus parmi les candidats {group[0]}/{group[1]} : {found} sur {total}", flush=True
        )


FUSION = FusionParams()


def dense_rank(cosine: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate in the dense list (its `FUSION.depth` best cosines), 0 when outside."""
    rank = np.zeros(len(cosine))
    top = np.argsort(-cosine, kind="stable")[: FUSION.depth]
    rank[top] = np.arange(1, len(top) + 1)
    return rank


def reciprocal(rank: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """weight / (k + rank) of the served fusion, 0 for candidates absent from the list (rank 0)."""
    return np.where(rank > 0, weight / (FUSION.rrf_k + np.maximum(rank, 1)), 0.0)


def replay(c: Candidates, query: np.ndarray | None = None) -> np.ndarray:
    """The served fusion of the candidates, with `query` as the question vector."""
    dense = dense_rank(c.vectors @ (c.query if query is None else query))
    fused = reciprocal(dense, FUSION.dense_weight) + reciprocal(c.lexical_rank, FUSION.lexical_weight)
    return (fused + reciprocal(c.evidence_rank, FUSION.evidence_weight)) * c.factor


def ndcg(data: dict[Key, Candidates], keys: Sequence[Key], scorer: Scorer) -> float:
    values = []
    for key in keys:
        c = data[key]
        order = [c.ids[i] for i in np.argsort(-scorer(key, c), kind="stable")]
        named = set(c.named)
        values.append(query_metrics(c.named + [i for i in order if i not in named], c.judged)["ndcg@10"])
    return float(np.mean(values)) if values else float("nan")


class Table:
    """Prints one line per setting: nDCG@10 per split and gold set, and the mean of the dev splits."""

    def __init__(self, data: dict[Key, Candidates], splits: Sequence[str]) -> None:
        self.data = data
        self.groups = {(s, g): [k for k in data if k[:2] == (s, g)] for s in splits for g in GOLD_SETS}
        print(
            "réglage".ljust(52)
            + "".join(f"{s}/{g}".rjust(18) for s, g in self.groups)
            + "moyenne dev".rjust(13)
        )

    def row(self, label: str, scorer: Scorer | dict[Key, np.ndarray]) -> None:
        score = (lambda key, c: scorer[key]) if isinstance(scorer, dict) else scorer
        values = {group: ndcg(self.data, keys, score) for group, keys in self.groups.items()}
        mean = float(np.mean([values[("dev", g)] for g in GOLD_SETS]))
        print(label.ljust(52) + "".join(f"{v:18.4f}" for v in values.values()) + f"{mean:13.4f}", flush=True)


def folds(keys: Sequence[Key]) -> list[tuple[list[Key], list[Key]]]:
    shuffled = list(keys)
    random.Random(0).shuffle(shuffled)
    held = [shuffled[f::FOLDS] for f in range(FOLDS)]
    return [([k for k in shuffled if k not in set(h)], h) for h in held]


def cross_validated(
    dev: Sequence[Key], fit: Callable[[list[Key]], Scorer], data: dict
) -> dict[Key, np.ndarray]:
    """Scores of each dev question by the scorer fitted on the other folds; test by the scorer fitted on dev."""
    scores: dict[Key, np.ndarray] = {}
    for train, held in folds(dev):
        scorer = fit(train)
        scores.update({key: scorer(key, data[key]) for key in held})
    scorer = fit(list(dev))
    scores.update({key: scorer(key, c) for key, c in data.items() if key[0] != "dev"})
    return scores


def fusion_features(c: Candidates) -> np.ndarray:
    cosine = c.vectors @ c.query
    dense = reciprocal(dense_rank(cosine))
    lexical = reciprocal(c.lexical_rank)
    articles = [article_of(i) for i in c.ids]
    best_dense: dict[str, float] = {}
    best_lexical: dict[str, float] = {}
    parts: dict[str, int] = {}
    for a, d, lx in zip(articles, dense, lexical, strict=True):
        best_dense[a] = max(best_dense.get(a, 0.0), d)
        best_lexical[a] = max(best_lexical.get(a, 0.0), lx)
        parts[a] = parts.get(a, 0) + 1
    return (
        np.stack(
            [
                cosine,
                cosine - cosine.max(),
                np.array([best_dense[a] for a in articles]),
                np.array([best_lexical[a] for a in articles]),
                np.array([min(parts[a], 5) / 5 for a in articles]),
            ],
            axis=1,
        )
        * c.factor[:, None]
    )


def probe_fusion(table: Table, data: dict[Key, Candidates], dev: list[Key]) -> None:
    features = {key: fusion_features(c) for key, c in data.items()}
    steps = (0.02, 0.05, 0.005, 0.5, 0.5)  # first move of each weight, on the scale of 1 / (k + rank)

    def fit(keys: list[Key]) -> Scorer:
        weights = np.zeros(len(steps))

        def scorer(key: Key, c: Candidates, w: np.ndarray | None = None) -> np.ndarray:
            return replay(c) + features[key] @ (weights if w is None else w)

        best = ndcg(data, keys, scorer)
        for _ in range(3):
            improved = False
            for i, step in enumerate(steps):
                for move in (-1.0, -0.5, -0.25, 0.25, 0.5, 1.0):
                    trial = weights.copy()
                    trial[i] += move * (abs(trial[i]) or step)
                    value = ndcg(data, keys, lambda key, c, t=trial: scorer(key, c, t))
                    if value > best + 1e-4:
                        best, weights, improved = value, trial, True
            if not improved:
                break
        fitted = weights.copy()
        return lambda key, c: replay(c) + features[key] @ fitted

    table.row("fusion apprise (validation croisée)", cross_validated(dev, fit, data))


def headed_passages(retriever: Retriever) -> list[tuple[str, str, tuple[str, tuple[str, ...]]]]:
    """(passage id, article id, (document, heading path)) of every passage under headings, in index order."""
    out = []
    for row in retriever.bundle.store.filter_columns():
        path = row["heading_path"]
        path = json.loads(path) if isinstance(path, str) else path
        if path:
            out.append((str(row["id"]), str(row["article_id"]), (str(row["doc_key"]), tuple(path))))
    return out


def probe_openers(table: Table, data: dict[Key, Candidates], retriever: Retriever) -> None:
    first: dict[tuple, str] = {}
    headed: set[str] = set()
    for _, article, section in headed_passages(retriever):
        first.setdefault(section, article)
        headed.add(article)
    section_openers = set(first.values())
    for split in sorted({key[0] for key in data}):
        gold = [
            a for k, c in data.items() if k[0] == split for a, g in c.judged.items() if g >= 2 and a in headed
        ]
        others = []
        for c in (c for k, c in data.items() if k[0] == split):
            top = list(dict.fromkeys(article_of(c.ids[i]) for i in np.argsort(-replay(c), kind="stable")))[
                :10
            ]
            others += [a for a in top if a in headed and not c.judged.get(a)]
        print(
            f"ouvrent leur section ({split}) : {sum(a in section_openers for a in gold)} articles attendus "
            f"(note 2) sur {len(gold)}, {sum(a in section_openers for a in others)} articles non pertinents "
            f"du top 10 sur {len(others)}",
            flush=True,
        )
    for chapter, section in ((0.1, 0.0), (0.2, 0.0), (0.0, 0.1), (0.1, 0.1)):

        def scorer(key: Key, c: Candidates, chapter=chapter, section=section) -> np.ndarray:
            bonus = [
                chapter if CHAPTER_OPENER.match(a) else section if a in section_openers else 0.0
                for a in map(article_of, c.ids)
            ]
            return replay(c) * (1.0 + np.array(bonus))

        table.row(f"premier article : chapitre +{chapter}, section +{section}", scorer)


def probe_adapter(table: Table, data: dict[Key, Candidates], dev: list[Key]) -> None:
    import torch

    def fit(keys: list[Key], full: bool, penalty: float) -> Scorer:
        torch.manual_seed(0)
        dim = data[keys[0]].query.shape[0]
        weights = torch.eye(dim) if full else torch.ones(dim)
        weights.requires_grad_(True)
        optimiser = torch.optim.Adam([weights], lr=0.01)
        items = [
            (torch.tensor(c.query), torch.tensor(c.vectors), torch.tensor(c.grades))
            for c in (data[k] for k in keys)
            if c.grades.sum() > 0
        ]
        for _ in range(60):
            optimiser.zero_grad()
            loss = torch.zeros(())
            for query, vectors, grades in items:
                mapped = weights @ query if full else weights * query
                logp = torch.log_softmax(vectors @ (mapped / mapped.norm()) / 0.05, 0)
                loss = loss - (grades * logp).sum() / grades.sum()
            identity = torch.eye(dim) if full else torch.ones(dim)
            (loss / len(items) + penalty * ((weights - identity) ** 2).sum()).backward()
            optimiser.step()
        matrix = weights.detach().numpy()

        def scorer(key: Key, c: Candidates) -> np.ndarray:
            mapped = matrix @ c.query if full else matrix * c.query
            return replay(c, mapped / np.linalg.norm(mapped))

        return scorer

    for full, penalty in ((False, 0.01), (False, 0.1), (True, 0.1), (True, 1.0)):
        label = f"adaptateur {'plein' if full else 'diagonal'} λ={penalty} (validation croisée)"
        table.row(label, cross_validated(dev, lambda keys, f=full, p=penalty: fit(keys, f, p), data))


def question_texts(data: dict[Key, Candidates], retriever: Retriever) -> dict[Key, str]:
    texts = {}
    for split, name in {key[:2] for key in data}:
        gold = load_gold(DATASETS / name, split)
        for key in (k for k in data if k[:2] == (split, name)):
            texts[key] = retriever._expand(strip_formalities(gold.queries[key[2]].text)).text
    return texts


def probe_prefix(table: Table, data: dict[Key, Candidates], retriever: Retriever) -> None:
    texts = question_texts(data, retriever)
    keys = list(texts)
    encoded = np.asarray(retriever.encoder.encode_passages([texts[k] for k in keys]), dtype=np.float32)
    as_passage = dict(zip(keys, encoded, strict=True))
    for share in (0.25, 0.5):

        def scorer(key: Key, c: Candidates, share=share) -> np.ndarray:
            blended = (1 - share) * c.query + share * as_passage[key]
            return replay(c, blended / np.linalg.norm(blended))

        table.row(f"question aussi en passage, part {share}", scorer)


def probe_sections(table: Table, data: dict[Key, Candidates], retriever: Retriever) -> None:
    section_of: dict[str, tuple] = {}
    subjects: dict[tuple, str] = {}
    for passage_id, _, section in headed_passages(retriever):
        section_of[passage_id] = section
        subject = " › ".join(HEADING_NUMBER.sub("", h).strip(" .").lower() for h in section[1][-3:])
        subjects.setdefault(section, subject)
    sections = list(subjects)
    index = {s: i for i, s in enumerate(sections)}
    vectors = np.asarray(retriever.encoder.encode_passages([subjects[s] for s in sections]), dtype=np.float32)
    for beta in (0.1, 0.2):

        def scorer(key: Key, c: Candidates, beta=beta) -> np.ndarray:
            own = np.array([index.get(section_of.get(i), -1) for i in c.ids])
            present = own[own >= 0]
            if not len(present):
                return replay(c)
            nearest = present[np.argmax(vectors[present] @ c.query)]
            return replay(c) * np.where(own == nearest, 1.0 + beta, 1.0)

        table.row(f"section la plus proche +{beta}", scorer)


def probe_vocabulary(retriever: RecordingRetriever, splits: Sequence[str]) -> None:
    for split in splits:
        for name in GOLD_SETS:
            gold = load_gold(DATASETS / name, split)
            figures = []
            for on in (False, True):
                retriever.vocabulary = on
                figures.append(run_split(retriever, gold, progress=None).metrics["ndcg@10"])
            retriever.vocabulary = False
            touched = sum(bool(reworded(q.text)) for q in gold.queries.values())
            print(
                f"vocabulaire {split}/{name} : {figures[0]:.4f} → {figures[1]:.4f} "
                f"({touched} questions sur {len(gold.queries)} reformulées)",
                flush=True,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", default=",".join(PROBES))
    parser.add_argument("--test", action="store_true", help="print the test splits too (never for choosing)")
    args = parser.parse_args(argv)
    probes = [p for p in args.probes.split(",") if p]
    if unknown := set(probes) - set(PROBES):
        parser.error(f"sondes inconnues : {', '.join(sorted(unknown))}")
    splits = ("dev", "test") if args.test else ("dev",)
    base = open_retriever(Settings())
    retriever = RecordingRetriever(base.bundle, base.encoder, base.fusion)
    for split in splits:
        for name in GOLD_SETS:
            served = run_split(retriever, load_gold(DATASETS / name, split), progress=None).metrics["ndcg@10"]
            print(f"servi {split}/{name} : nDCG@10 {served:.4f}", flush=True)
    data = capture(retriever, splits)
    dev = [k for k in data if k[0] == "dev"]
    print_pool_recall(data)
    table = Table(data, splits)
    table.row("rejoué : fusion servie", lambda key, c: replay(c))
    if "fusion" in probes:
        probe_fusion(table, data, dev)
    if "openers" in probes:
        probe_openers(table, data, retriever)
    if "adapter" in probes:
        probe_adapter(table, data, dev)
    if "prefix" in probes:
        probe_prefix(table, data, retriever)
    if "sections" in probes:
        probe_sections(table, data, retriever)
    if "vocabulary" in probes:
        probe_vocabulary(retriever, splits)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
