"""Bounded HTTP load test of `/v1/search` on loopback: requests/s and p50 / p95 / p99 at several concurrencies.

    python benchmarks/bench_http.py                         # starts `qfq serve` on the published index
    python benchmarks/bench_http.py --requests 400 --concurrency 1,4,16
    python benchmarks/bench_http.py --url http://127.0.0.1:8000   # an already running server (loopback only)

Each level sends a fixed number of requests (questions in a fixed order) from that many threads, each with
its own keep-alive connection, after a warm-up. The server started here has no rate limit and pins
`QFQ_THREADS` threads. The client runs on the same machine: at 16 threads it takes part of the CPU too.
The load average of the machine is printed with each level (other jobs change the figures), with the CPU
time per request of the server (when started here) and of this load generator.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

import httpx

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

QUESTIONS = [
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
    "Qui délivre le permis de construire ?",
    "Comment est élu le président d'une métropole ?",
    "Quelles sont les compétences obligatoires d'une communauté d'agglomération ?",
    "Le conseil municipal peut-il déléguer ses attributions au maire ?",
    "Qui gère les routes départementales ?",
    "Collecte séparée des biodéchets",
    "Réseaux de chaleur et de froid des collectivités",
    "Gestion des eaux pluviales urbaines",
    "Quelle collectivité est chargée des lycées ?",
]


def percentile_ms(ordered: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of sorted latencies in seconds, in milliseconds; NaN when empty."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mib(pid: int) -> str:
    """Peak resident memory (VmHWM) of a process, in MiB, or "?"."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return f"{int(line.split()[1]) / 1024:.0f} Mio"
    except (OSError, ValueError, IndexError):
        pass
    return "?"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def start_server(port: int, threads: int, ready_timeout: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QFQ_RATE_LIMIT_PER_MINUTE": "0", "QFQ_THREADS": str(threads)}
    command = [sys.executable, "-m", "service", "serve", "--sans-construction", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"le serveur s'est arrêté : {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if response.status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("le serveur n'est pas prêt à temps (index publié ? voir « qfq build »)")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def run_level(base: str, concurrency: int, requests: int, k: int, max_seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))
    address = urlparse(base)
    stop_at = time.monotonic() + max_seconds

    def worker() -> None:
        # The standard library's client: a few hundred microseconds of CPU per request, where httpx took
        # 2-3 ms, which the load generator would take from the server on a 2-core machine.
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
        try:
            while time.monotonic() < stop_at:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                question = QUESTIONS[index % len(QUESTIONS)]
                path = f"{address.path}/v1/search?{urlencode({'q': question, 'k': k})}"
                started = time.perf_counter()
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                    outcome = "" if response.status == 200 else str(response.status)
                except (OSError, http.client.HTTPException) as exc:
                    outcome = type(exc).__name__
                    connection.close()  # reconnects on the next request
                elapsed = time.perf_counter() - started
                with lock:
                    if outcome:
                        errors[outcome] = errors.get(outcome, 0) + 1
                    else:
                        latencies.append(elapsed)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return percentile_ms(ordered, p)

    return {
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": ", ".join(f"{k}×{v}" for k, v in errors.items()),  # type: ignore[dict-item]
        "rps": len(latencies) / wall if wall else 0.0,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": statistics.fmean(ordered) * 1000 if ordered else float("nan"),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="serveur déjà lancé (boucle locale uniquement)")
    parser.add_argument("--requests", type=int, default=300, help="requêtes par niveau (défaut 300)")
    parser.add_argument("--concurrency", default="1,4,16", help="niveaux de concurrence (défaut 1,4,16)")
    parser.add_argument("--warmup", type=int, default=24, help="requêtes d'échauffement (défaut 24)")
    parser.add_argument("--k", type=int, default=10, help="résultats par requête (défaut 10)")
    parser.add_argument("--threads", type=int, default=2, help="QFQ_THREADS du serveur lancé (défaut 2)")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="durée maximale d'un niveau")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="attente du chargement de l'index")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]

    process = None
    started = time.perf_counter()
    if args.url:
        host = urlparse(args.url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit("ce banc d'essai ne vise que la boucle locale (127.0.0.1, localhost, ::1)")
        base = args.url.rstrip("/")
    else:
        port = free_port()
        process = start_server(port, args.threads, args.ready_timeout)
        base = f"http://127.0.0.1:{port}"
        print(f"serveur prêt en {time.perf_counter() - started:.1f} s (chargement de l'index compris)")
    try:
        ready = httpx.get(f"{base}/readyz", timeout=10).json()
        manifest = httpx.get(f"{base}/v1/index", timeout=10).json()
        print(
            f"index {ready['build_id']} : {ready['passages']} passages, modèle {manifest['model']['id']} "
            f"({manifest['model'].get('backend', '?')}), threads serveur {args.threads}, k={args.k}"
        )
        run_level(base, 1, args.warmup, args.k, args.max_seconds)
        print(
            f"{'conc.':>5} {'req.':>6} {'err.':>5} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'CPU serveur':>12} {'CPU client':>11}  charge (1/5/15 min)"
        )
        for concurrency in levels:
            before = load_average()
            server_before = cpu_seconds(process.pid) if process is not None else None
            client_before = time.process_time()
            figures = run_level(base, concurrency, args.requests, args.k, args.max_seconds)
            sent = max(1, figures["ok"] + figures["errors"])
            client_ms = (time.process_time() - client_before) / sent * 1000
            server_after = cpu_seconds(process.pid) if process is not None else None
            server = (
                f"{(server_after - server_before) / sent * 1000:>9.1f} ms"
                if server_before is not None and server_after is not None
                else f"{'?':>12}"
            )
            print(
                f"{concurrency:>5} {figures['ok']:>6} {figures['errors']:>5} {figures['rps']:>7.1f} "
                f"{figures['p50']:>8.1f} {figures['p95']:>8.1f} {figures['p99']:>8.1f} "
                f"{server} {client_ms:>8.1f} ms  avant {before} / après {load_average()}"
                + (f"  erreurs : {figures['error_kinds']}" if figures["errors"] else "")
            )
        if process is not None:
            print(f"mémoire maximale du serveur : {peak_memory_mib(process.pid)}")
    finally:
        if process is not None:
            stop_server(process)


if __name__ == "__main__":
    main()
