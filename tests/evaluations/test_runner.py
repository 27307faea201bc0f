"""The runner and `python -m evaluations run|check` on a small real-text bundle built with the fake encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers.paths import REPO

from evaluations.gold import load_gold
from evaluations.metrics import METRICS, article_of
from evaluations.runner import CachingEncoder, open_retriever, results_markdown, run_split, write_results
from indexer.embedding.fake import FakeEncoder
from indexer.errors import QfqError
from indexer.settings import Settings

ROOT = REPO
DOCUMENTS = {"reen", "crpa", "open-data"}
JSON_KEYS = {"ndcg@10", "recall@5", "recall@10", "mrr@10", "p@1", "queries", "mode", "bundle"}

QUERIES = [
    {"_id": "t1", "text": "Que prévoit l'article 35 de la loi REEN ?"},
    {"_id": "t2", "text": "Une commune de 4 000 habitants doit-elle publier ses données en open data ?"},
    {"_id": "t3", "text": "Quelle licence pour réutiliser des données publiques ?", "document": "open-data"},
    {"_id": "t4", "text": "Comment saisir la commission d'accès aux documents administratifs ?"},
]
QRELS = {
    "t1": {"reen/35": 2},
    "t2": {"crpa/L312-1-1": 2, "open-data/qui-est-concerne": 1},
    "t3": {"open-data": 2},
    "t4": {"crpa/L342-1": 2, "crpa/L340-1": 1},
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A published fake-encoder bundle of three real documents (a law, a code, a guide)."""
    from indexer.corpus.passages import load_passages
    from indexer.index.build import build_bundle

    data = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=data, model="fake-64", threads=1, corpus_dir=Settings().corpus_dir.resolve())
    corpus = load_passages(settings, only=DOCUMENTS)
    build_bundle(settings, corpus.passages, corpus.documents, FakeEncoder(64), only=sorted(DOCUMENTS))
    return settings


@pytest.fixture(scope="module")
def gold_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("petit-jeu")
    (folder / "qrels").mkdir()
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUERIES), encoding="utf-8"
    )
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{qid}\t{cid}\t{grade}" for qid, judged in QRELS.items() for cid, grade in judged.items()
    ]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def retriever(settings: Settings):
    return open_retriever(settings)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_runs_are_deduplicated_cut_at_k_and_scored(retriever, gold_folder: Path, mode: str) -> None:
    gold = load_gold(gold_folder, "test")
    report = run_split(retriever, gold, mode=mode, k=5, progress=None)
    assert report.queries == 4 and report.mode == mode and report.k == 5
    assert all(0.0 <= report.metrics[m] <= 1.0 for m in METRICS)
    # The named article comes first in every mode.
    assert report.per_query["t1"]["p@1"] == 1.0
    assert next(iter(report.run["t1"])) == "reen/35"
    for query_id, scores in report.run.items():
        assert 1 <= len(scores) <= 5
        articles = [article_of(pid) for pid in scores]
        assert len(set(articles)) == len(articles), query_id
        assert list(scores.values()) == sorted(scores.values(), reverse=True)
    # t3 is filtered to the open-data guide and judged as a whole: every passage is the same unit.
    assert list(report.run["t3"]) and all(pid.startswith("open-data/") for pid in report.run["t3"])
    assert len(report.run["t3"]) == 1 and report.per_query["t3"]["ndcg@10"] == 1.0
    assert report.bundle["model"] == "fake-hash-64" and report.bundle["passages"] > 500
    assert sorted(report.bundle["only"]) == sorted(DOCUMENTS)


def test_results_table_names_the_bundle_and_every_question(retriever, gold_folder: Path, tmp_path) -> None:
    report = run_split(retriever, load_gold(gold_folder, "test"), mode="lexical", progress=None)
    text = results_markdown(report, "python -m evaluations run")
    assert report.bundle["build_id"] in text and "fake-hash-64" in text and "reen, crpa" not in text
    assert all(f"| {qid} |" in text for qid in QRELS)
    path = write_results(report, tmp_path / "resultats")
    assert path.name == f"{gold_folder.name}-test-lexical.md" and path.read_text(
        encoding="utf-8"
    ) == text.replace(" par `python -m evaluations run`.", ".")


def test_unknown_mode_is_refused(retriever, gold_folder: Path) -> None:
    with pytest.raises(QfqError) as caught:
        run_split(retriever, load_gold(gold_folder, "test"), mode="semantique", progress=None)
    assert caught.value.code == "mode_invalide"


def test_caching_encoder_encodes_each_question_once() -> None:
    calls: list[list[str]] = []

    class Counting(FakeEncoder):
        def encode_queries(self, texts):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return super().encode_queries(texts)

    encoder = CachingEncoder(Counting(16))
    first = encoder.encode_queries(["a b", "c d"])
    again = encoder.encode_queries(["c d", "a b", "e"])
    assert calls == [["a b", "c d"], ["e"]]
    assert np.allclose(first[0], again[1]) and again.shape == (3, 16)
    assert encoder.model_id == "fake-hash-16" and encoder.dim == 16


# --- the command line, in a subprocess -------------------------------------------------------------


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        {
            "QFQ_DATA_DIR": str(settings.data_dir),
            "QFQ_MODEL": "fake-64",
            "QFQ_CORPUS_DIR": str(settings.corpus_dir),
            "QFQ_THREADS": "1",
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "evaluations", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_json(settings: Settings, gold_folder: Path) -> dict:
    done = run_cli(
        settings, "run", "--gold", str(gold_folder), "--split", "test", "--mode", "hybrid", "--json"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return json.loads(lines[0])


def test_run_json_prints_exactly_one_object_with_the_required_keys(
    cli_json: dict, retriever, gold_folder: Path
) -> None:
    assert set(cli_json) == JSON_KEYS
    assert cli_json["mode"] == "hybrid" and cli_json["queries"] == 4
    assert cli_json["bundle"]["model"] == "fake-hash-64"
    in_process = run_split(retriever, load_gold(gold_folder, "test"), progress=None)
    assert cli_json["ndcg@10"] == pytest.approx(in_process.metrics["ndcg@10"], abs=1e-4)


def test_run_errors_go_to_stderr_in_french(settings: Settings, tmp_path: Path) -> None:
    done = run_cli(settings, "run", "--gold", str(tmp_path / "absent"), "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert "introuvable" in done.stderr


def write_expected(
    path: Path, gold_folder: Path, scores: dict[str, float], model: str = "fake-hash-64"
) -> Path:
    lines = [
        f"gold: {os.path.relpath(gold_folder, path.parent)}",
        f"model: {model}",
        "k: 10",
        "tolerance: 0.001",
        "scores:",
        "  test:",
        "    hybrid:",
        *[f"      {name}: {value}" for name, value in scores.items()],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_prints_ok_then_fail_with_the_expected_value(
    settings: Settings, gold_folder: Path, cli_json: dict, tmp_path: Path
) -> None:
    pinned = {name: cli_json[name] for name in METRICS}
    good = write_expected(tmp_path / "bon.yaml", gold_folder, pinned)
    done = run_cli(settings, "check", "--expected", str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == len(METRICS) and "FAIL" not in done.stdout

    wrong = dict(pinned, **{"ndcg@10": round(pinned["ndcg@10"] - 0.25, 4)})
    bad = write_expected(tmp_path / "mauvais.yaml", gold_folder, wrong, model="autre-modele")
    done = run_cli(settings, "check", "--expected", str(bad))
    assert done.returncode == 1
    fail_lines = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail_lines) == 2  # the model, then nDCG@10
    assert "autre-modele" in fail_lines[0]
    assert "ndcg@10" in fail_lines[1] and f"attendu {wrong['ndcg@10']:.4f}" in fail_lines[1]
    assert "amélioration" in fail_lines[1]


def test_tuning_tries_the_fusion_grid_without_priors_then_every_prior() -> None:
    from evaluations.tune_fusion import EVIDENCE_WEIGHTS, grid, with_evidence, with_priors

    first = list(grid())
    assert len(first) == len(set(first)) == 84
    assert all(p.level_boost == p.territory_penalty == p.regulatory_penalty == 0.0 for p in first)
    priors = list(with_priors(first[0]))
    assert len(priors) == len(set(priors)) == 23  # 3 x 2 x 4 combinations, less the one without priors
    assert all(p.level_boost or p.territory_penalty or p.regulatory_penalty for p in priors)
    assert {(p.rrf_k, p.dense_weight, p.lexical_weight, p.depth) for p in priors} == {
        (first[0].rrf_k, first[0].dense_weight, first[0].lexical_weight, first[0].depth)
    }
    weighted = list(with_evidence(priors[0]))
    assert sorted(p.evidence_weight for p in weighted) == sorted(EVIDENCE_WEIGHTS)
    assert {replace(p, evidence_weight=0.0) for p in weighted} == {replace(priors[0], evidence_weight=0.0)}


def test_lexical_tuning_rebuilds_the_bundle_postings_and_ranks_settings(retriever, gold_folder: Path) -> None:
    from evaluations.tune_lexical import DEFAULT, grid, tune

    settings = list(grid())
    assert len(settings) == len(set(settings)) == 24 and settings.count(DEFAULT) == 1
    gold = load_gold(gold_folder, "test")
    other = DEFAULT.__class__(k1=0.8, b=0.4, header=2.0, title=4.0)
    results = tune(retriever, gold, [DEFAULT, other])
    assert [row[2] for row in results] == sorted((row[2] for row in results), reverse=True)
    scores = {setting: (lexical, hybrid) for setting, lexical, hybrid in results}
    # The bundle's own setting, rebuilt from its passages, scores exactly as the published postings.
    published = {
        mode: run_split(retriever, gold, mode=mode, progress=None).metrics["ndcg@10"]
        for mode in ("lexical", "hybrid")
    }
    assert scores[DEFAULT] == (published["lexical"], published["hybrid"])
