"""A shallower question encoder: can the first layers of the model, fitted on this machine, replace all twelve?

Usage (from the repository root, with a published full index; QFQ_DATA_DIR and QFQ_CORPUS_DIR as usual):

    python benchmarks/bench_question_student.py [--layers 4,6,8] [--texts 12000] [--epochs 0]

Issue 17 asks for half the CPU per question, and the question encoder is most of it (the int8 graph takes
about 10 ms on one thread). Weights cannot be downloaded, so a smaller encoder would have to be fitted at
`qfq model prepare` time, from the packaged model alone. This measures the two cheapest fits:

- linear (always): the int8 graph cut after L layers, its pooled output mapped onto the full model's float32
  question vectors by ridge regression (closed form, a few seconds once the vectors are computed);
- fine-tuned (`--epochs N`, N > 0, needs torch): the first L layers of the float32 model trained with torch for
  N epochs on the cosine to the same vectors (word embeddings frozen); evaluated in float32.

Training texts come from the published index only, never from the gold sets: fragments of passages in force,
heading subjects, and questions built from a few question openings and those subjects. Printed per student:
the cosine to the full float32 model on held-out training texts and on the dev questions, nDCG@10 / P@1 /
Recall@10 of both public gold sets' dev splits with the student's question vectors (passages unchanged), and
the median encoding time per question (students on one thread); the served encoder is measured first.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluations.gold import load_gold
from evaluations.runner import open_retriever, run_split
from indexer.embedding.base import SplitEncoder
from indexer.embedding.onnx_backend import OnnxEncoder
from indexer.embedding.packaged.onnx_graph import build_onnx_model
from indexer.embedding.packaged.prepare import prepare_variant
from indexer.embedding.packaged.q4format import PackagedModel, read_packaged_model
from indexer.embedding.packaged.source import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    PackagedSource,
    find_packaged_source,
)
from indexer.search.retriever import Retriever
from indexer.settings import Settings

DATASETS = Path(__file__).resolve().parents[1] / "evaluations" / "datasets"
GOLD_SETS = ("qfq-dev", "qfq-formel")
OPENINGS = (
    "Qui est compétent pour",
    "La commune doit-elle gérer",
    "Quelles règles pour",
    "Qu'est-ce que",
    "Comment fonctionne",
    "Une communauté de communes peut-elle exercer",
    "Le département finance-t-il",
    "Quelles obligations en matière de",
    "La région est-elle responsable de",
    "Que prévoit la loi sur",
    "Il lui demande de préciser les règles relatives à",
)
RIDGE = 0.1
HELD_OUT = 0.1
MAX_TOKENS = 64  # training texts are question-sized

Vectoriser = Callable[[Sequence[str]], np.ndarray]


def training_texts(rows: Sequence[dict], count: int, rng: random.Random) -> list[str]:
    """Question-like texts from the index: passage fragments, heading subjects, templated questions."""
    in_force = [row for row in rows if row["status"] == "en_vigueur"]
    headings = sorted(
        {
            part.strip()
            for row in in_force
            for part in re.split(r" [›>—] ", row["heading_path"] or "")
            if 8 < len(part.strip()) < 150
        }
    )
    subjects = [heading.split(":", 1)[-1].strip().lower() for heading in headings]
    texts = []
    for row in rng.sample(in_force, min(len(in_force), count * 6 // 10)):
        words = row["text"].split()
        if len(words) < 6:
            continue
        size = rng.randint(5, 30)
        start = rng.randint(0, max(0, len(words) - size))
        fragment = " ".join(words[start : start + size]).rstrip(".;,:")
        texts.append(fragment + (" ?" if rng.random() < 0.5 else ""))
    texts += [f"{rng.choice(OPENINGS)} {rng.choice(subjects)} ?" for _ in range(count * 25 // 100)]
    texts += rng.sample(headings, min(len(headings), count - len(texts)))
    rng.shuffle(texts)
    return texts


def onnx_vectoriser(
    model: PackagedModel, precision: str, layers: int, source: PackagedSource, folder: Path, threads: int
) -> Vectoriser:
    """Question vectors from the graph of `precision` cut after `layers` layers, run as the service runs its
    own (`OnnxEncoder`: one text per run in int8, length-sorted padded batches in float32)."""
    cut = dataclasses.replace(model, config=dataclasses.replace(model.config, layers=layers))
    path = folder / f"{precision}-{layers}.onnx"
    build_onnx_model(cut, path, precision)
    encoder = OnnxEncoder(
        path,
        source.tokenizer_path,
        model_id=f"{layers}-layers-{precision}",
        weights_hash="",
        dim=model.config.hidden,
        threads=threads,
        batch_size=8,
        query_prefix=QUERY_PREFIX,
        passage_prefix=PASSAGE_PREFIX,
        padded_batches=precision == "float32",
    )
    return encoder.encode_queries


def ridge(features: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(dim + 1, dim) map from `features` (with a bias column) to `targets`, least squares with a ridge."""
    x = np.hstack([features, np.ones((len(features), 1), dtype=np.float32)])
    gram = x.T @ x + RIDGE * np.eye(x.shape[1], dtype=np.float32)
    gram[-1, -1] -= RIDGE  # the bias is not shrunk
    return np.linalg.solve(gram, x.T @ targets)


def apply(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Normalised `features @ weights` (bias column added)."""
    out = np.hstack([features, np.ones((len(features), 1), dtype=np.float32)]) @ weights
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def mapped(encode: Vectoriser, weights: np.ndarray) -> Vectoriser:
    return lambda texts: apply(weights, encode(texts))


def fine_tuned(
    settings: Settings, layers: int, texts: list[str], targets: np.ndarray, epochs: int, tokenizer
) -> Vectoriser:
    """The first `layers` layers of the float32 model trained on the cosine to `targets` (torch)."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(0)
    folder = prepare_variant(settings, "torch").path
    student = AutoModel.from_pretrained(folder)
    student.encoder.layer = student.encoder.layer[:layers]
    student.config.num_hidden_layers = layers
    for parameter in student.embeddings.parameters():
        parameter.requires_grad = False

    def batch(chunk: Sequence[str]):
        ids = [tokenizer.encode(QUERY_PREFIX + t).ids[:MAX_TOKENS] for t in chunk]
        width = max(map(len, ids))
        tokens = torch.ones((len(ids), width), dtype=torch.long)
        mask = torch.zeros_like(tokens)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        hidden = student(input_ids=tokens, attention_mask=mask).last_hidden_state
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(pooled, dim=-1)

    size = 32
    lengths = [len(tokenizer.encode(t).ids) for t in texts]
    goal = torch.from_numpy(targets)
    steps = epochs * (len(texts) // size)
    optimiser = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 1e-4, total_steps=steps, pct_start=0.06)
    rng = random.Random(1)
    student.train()
    for _ in range(epochs):
        by_length = sorted(range(len(texts)), key=lambda i: lengths[i] + rng.random() * 4)
        batches = [by_length[i : i + size] for i in range(0, len(texts) - size + 1, size)]
        rng.shuffle(batches)
        for rows in batches:
            loss = (1 - (batch([texts[i] for i in rows]) * goal[rows]).sum(-1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    student.eval()
    torch.set_num_threads(1)

    def encode(chunk: Sequence[str]) -> np.ndarray:
        with torch.no_grad():
            return np.vstack([batch([text]).numpy() for text in chunk]).astype(np.float32)

    return encode


class StudentEncoder(SplitEncoder):
    """The served encoder for passages, a student for questions; records time and cosine to the full model."""

    def __init__(self, served, student: Vectoriser, reference: Vectoriser) -> None:
        super().__init__(served, served)
        self._student, self._reference = student, reference
        self.seconds: list[float] = []
        self.cosines: list[float] = []

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self._student(texts)
        self.seconds.append((time.perf_counter() - started) / max(1, len(texts)))
        self.cosines += (vectors * self._reference(texts)).sum(1).tolist()
        return vectors


def report(label: str, base: Retriever, encoder: StudentEncoder) -> None:
    retriever = Retriever(base.bundle, encoder, base.fusion)
    scores = []
    for name in GOLD_SETS:
        m = run_split(retriever, load_gold(DATASETS / name, "dev"), progress=None).metrics
        scores.append(f"{name} {m['ndcg@10']:.4f} / {m['p@1']:.4f} / {m['recall@10']:.4f}")
    cosines = np.asarray(encoder.cosines)
    print(
        f"{label:34s} | {' | '.join(scores)} | cos moyen {cosines.mean():.4f}, min {cosines.min():.4f} | "
        f"{np.median(encoder.seconds) * 1000:.2f} ms/question",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="4,6,8", help="layers kept, comma-separated (default 4,6,8)")
    parser.add_argument("--texts", type=int, default=12000, help="training texts (default 12000)")
    parser.add_argument("--epochs", type=int, default=0, help="torch fine-tuning epochs (default 0: none)")
    args = parser.parse_args(argv)
    layers = [int(n) for n in args.layers.split(",")]
    settings = Settings()
    base = open_retriever(settings)
    source = find_packaged_source()
    model = read_packaged_model(source.weights_path)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source.tokenizer_path))
    tokenizer.enable_truncation(512)
    texts = training_texts(base.bundle.store.all_rows(), args.texts, random.Random(0))
    cut = int(len(texts) * (1 - HELD_OUT))
    folder = Path(tempfile.mkdtemp(prefix="qfq-eleves-"))  # the graphs of the students
    try:
        started = time.perf_counter()
        full = onnx_vectoriser(model, "float32", model.config.layers, source, folder, threads=2)
        targets = full(texts)
        print(
            f"{len(texts)} textes d'entraînement, vecteurs du modèle complet (float32) en "
            f"{time.perf_counter() - started:.0f} s ; dev : nDCG@10 / P@1 / Recall@10 de chaque jeu",
            flush=True,
        )
        served = base.encoder
        label = f"encodeur servi (int8, 12 couches, {settings.threads} threads)"
        report(label, base, StudentEncoder(served, served.encode_queries, full))
        for depth in layers:
            cut_graph = onnx_vectoriser(model, "int8", depth, source, folder, threads=2)
            features = cut_graph(texts)
            weights = ridge(features[:cut], targets[:cut])
            held = apply(weights, features[cut:])
            print(
                f"{depth} couches + linéaire : cos sur textes réservés {(held * targets[cut:]).sum(1).mean():.4f}"
            )
            single = onnx_vectoriser(model, "int8", depth, source, folder, threads=1)
            student = StudentEncoder(served, mapped(single, weights), full)
            report(f"{depth} couches int8 + linéaire (1 thread)", base, student)
            if args.epochs > 0:
                started = time.perf_counter()
                tuned = fine_tuned(settings, depth, texts[:cut], targets[:cut], args.epochs, tokenizer)
                held = (tuned(texts[cut:]) * targets[cut:]).sum(1).mean()
                print(
                    f"{depth} couches affinées ({args.epochs} époques, {time.perf_counter() - started:.0f} s) : "
                    f"cos sur textes réservés {held:.4f}"
                )
                report(
                    f"{depth} couches float32 affinées (1 thread)", base, StudentEncoder(served, tuned, full)
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
