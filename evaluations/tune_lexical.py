"""Grid search of the lexical (BM25) parameters on the DEV split of a gold set (never on test).

    python -m evaluations.tune_lexical --gold evaluations/datasets/qfq-dev

The postings are rebuilt in memory from the published bundle's passages for every setting of k1, b and
the weights of the header (heading titles) and title fields; each setting is scored in lexical and hybrid
mode with the default fusion. Prints one line per setting, best hybrid nDCG@10 first, the bundle's own
setting marked; a better setting becomes `DEFAULT_FIELD_WEIGHTS` / `BM25_K1` / `BM25_B` and needs a
rebuild (`qfq build`, embeddings come from the cache).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from evaluations.gold import GoldSplit, load_gold
from evaluations.runner import open_retriever, run_split
from indexer.errors import QfqError
from indexer.index.bundle import Bundle
from indexer.index.lexical import (
    BM25_B,
    BM25_K1,
    DEFAULT_FIELD_WEIGHTS,
    LexicalIndex,
    build_lexical_index,
    passage_fields,
)
from indexer.search.retriever import Retriever
from indexer.settings import Settings

TUNING_SPLIT = "dev"
K1 = (0.8, 1.2, 1.6, 2.0)
B = (0.4, 0.6, 0.75, 0.9)
HEADER_WEIGHTS = (0.5, 1.0, 2.0)
TITLE_WEIGHTS = (1.0, 2.0, 4.0)


@dataclass(frozen=True)
class LexicalSetting:
    k1: float
    b: float
    header: float
    title: float

    @property
    def weights(self) -> dict[str, float]:
        return {**DEFAULT_FIELD_WEIGHTS, "header": self.header, "title": self.title}

    def __str__(self) -> str:
        return f"k1={self.k1:g} b={self.b:g} en-tête={self.header:g} titre={self.title:g}"


DEFAULT = LexicalSetting(BM25_K1, BM25_B, DEFAULT_FIELD_WEIGHTS["header"], DEFAULT_FIELD_WEIGHTS["title"])


def grid() -> Iterator[LexicalSetting]:
    """k1 x b with the default field weights, then the field weights with the default k1 and b."""
    for k1, b in itertools.product(K1, B):
        yield replace(DEFAULT, k1=k1, b=b)
    for header, title in itertools.product(HEADER_WEIGHTS, TITLE_WEIGHTS):
        if (header, title) != (DEFAULT.header, DEFAULT.title):
            yield replace(DEFAULT, header=header, title=title)


def postings(fields: Sequence[Mapping[str, Sequence[str]]], setting: LexicalSetting) -> LexicalIndex:
    """BM25 postings of `fields` (one mapping per bundle row) under `setting`."""
    return build_lexical_index(fields, setting.weights, k1=setting.k1, b=setting.b)


def tune(
    base: Retriever, gold: GoldSplit, settings: Sequence[LexicalSetting], k: int = 10
) -> list[tuple[LexicalSetting, float, float]]:
    """(setting, lexical nDCG@k, hybrid nDCG@k) of every setting, best hybrid first."""
    rows = list(range(base.bundle.store.count()))
    fields = [passage_fields(passage) for passage in base.bundle.store.get(rows)]
    results = []
    for number, setting in enumerate(settings, start=1):
        # Tuning swaps the postings of a loaded index; both backends' index objects are dataclasses.
        bundle = replace(cast(Bundle, base.bundle), lexical=postings(fields, setting))
        retriever = Retriever(bundle, base.encoder, base.fusion)
        lexical, hybrid = (
            run_split(retriever, gold, mode=mode, k=k, progress=None).metrics["ndcg@10"]
            for mode in ("lexical", "hybrid")
        )
        results.append((setting, lexical, hybrid))
        print(
            f"[{number}/{len(settings)}] {setting} : lexical {lexical:.4f}, hybride {hybrid:.4f}",
            file=sys.stderr,
            flush=True,
        )
    return sorted(results, key=lambda row: (-row[2], -row[1]))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the table of settings on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m evaluations.tune_lexical",
        description="Réglage de BM25 (k1, b, poids des champs) sur le découpage dev (jamais sur test).",
    )
    parser.add_argument("--gold", required=True, type=Path, help="dossier du jeu de référence")
    parser.add_argument("-k", type=int, default=10, help="résultats gardés par question")
    args = parser.parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            base = open_retriever(Settings())
            results = tune(base, load_gold(args.gold, TUNING_SPLIT), list(grid()), args.k)
    except QfqError as exc:
        print(f"Erreur ({exc.code}) : {exc.message}", file=sys.stderr)
        return 1
    print(f"Index {base.build_id} · découpage {TUNING_SPLIT} · {len(results)} réglages essayés")
    print(f"{'réglage':<44} {'lexical':>9} {'hybride':>9}   (nDCG@10)")
    for setting, lexical, hybrid in results:
        mark = "  ← réglage actuel" if setting == DEFAULT else ""
        print(f"{setting!s:<44} {lexical:>9.4f} {hybrid:>9.4f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
