"""Soak test on loopback: mixed requests at a fixed concurrency for a long time (30 minutes by default),
reporting errors (5xx must be 0), p95 latency and server memory minute by minute.

    python benchmarks/bench_soak.py                          # starts `qfq serve` on the published index
    python benchmarks/bench_soak.py --duration 120 --window 30   # a short check
    python benchmarks/bench_soak.py --url http://127.0.0.1:8000  # an already running server (loopback only)

The mix, per worker and in a fixed cycle: searches (GET and POST), exports (md, csv, json), the profile of a
collectivité, the competences of a level, and bad inputs (unknown parameter, empty question, unknown filter
value, malformed JSON) that must get a 4xx. Requests are bounded in count by the duration and stop by
themselves; only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

from bench_http import LOOPBACK, QUESTIONS, cpu_seconds, free_port, load_average, start_server, stop_server

# (method, path, body, expected status class): the bad inputs expect a 4xx, everything else a 200.
Request = tuple[str, str, bytes | None, int]


def _mix() -> list[Request]:
    mix: list[Request] = []
    for index, question in enumerate(QUESTIONS):
        mix.append(("GET", "/v1/search?" + urlencode({"q": question, "k": 10}), None, 2))
        if index % 3 == 0:
            body = json.dumps({"q": question, "k": 5, "grouper": True}).encode()
            mix.append(("POST", "/v1/search", body, 2))
        if index % 4 == 0:
            fmt = ("md", "csv", "json")[index % 3]
            mix.append(("GET", "/v1/search/export?" + urlencode({"q": question, "format": fmt}), None, 2))
        if index % 6 == 0:
            profile = {"type": "commune", "population": 3000 + 1000 * index, "agents": 40 + index}
            mix.append(("POST", "/v1/profil", json.dumps(profile).encode(), 2))
            mix.append(("GET", "/v1/competences?niveau=communaute-de-communes", None, 2))
        if index % 5 == 0:
            mix += [
                ("GET", "/v1/search?" + urlencode({"q": question, "foo": "bar"}), None, 4),
                ("GET", "/v1/search?q=+", None, 4),
                ("GET", "/v1/search?" + urlencode({"q": question, "niveau": "canton"}), None, 4),
                ("POST", "/v1/search", b'{"q": ', 4),
            ]
    return mix


@dataclass
class Window:
    """What one time window of the soak saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)


def memory_mib(pid: int) -> float | None:
    """Current resident memory (VmRSS) of a process in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def soak(
    base: str, concurrency: int, duration: float, window: float, pid: int | None
) -> list[dict[str, object]]:
    address = urlparse(base)
    mix = _mix()
    started = time.monotonic()
    stop_at = started + duration
    windows: dict[int, Window] = {}
    lock = threading.Lock()

    def worker(offset: int) -> None:
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=60)
        position = offset
        try:
            while time.monotonic() < stop_at:
                method, path, body, expected = mix[position % len(mix)]
                position += 1
                headers = {"Content-Type": "application/json"} if body is not None else {}
                begun = time.perf_counter()
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    status = str(response.status)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    connection.close()
                elapsed = time.perf_counter() - begun
                slot = int((time.monotonic() - started) // window)
                with lock:
                    seen = windows.setdefault(slot, Window())
                    seen.statuses[status] += 1
                    if not (status.isdigit() and int(status) // 100 == expected):
                        seen.unexpected[f"{method} {path.split('?')[0]} → {status}"] += 1
                    if expected == 2 and status == "200":
                        seen.latencies.append(elapsed)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i * 7,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    rows: list[dict[str, object]] = []
    reported = 0
    while any(thread.is_alive() for thread in threads):
        time.sleep(min(window, 5.0))
        current = int((time.monotonic() - started) // window)
        while reported < current and (reported in windows or time.monotonic() >= stop_at):
            rows.append(_row(reported, windows.get(reported, Window()), window, pid))
            print(_line(rows[-1]), flush=True)
            reported += 1
    for thread in threads:
        thread.join()
    for slot in sorted(s for s in windows if s >= reported):
        rows.append(_row(slot, windows[slot], window, pid))
        print(_line(rows[-1]), flush=True)
    return rows


def _row(slot: int, seen: Window, window: float, pid: int | None) -> dict[str, object]:
    ordered = sorted(seen.latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)] * 1000 if ordered else float("nan")
    return {
        "minute": (slot + 1) * window / 60,
        "requests": sum(seen.statuses.values()),
        "5xx": sum(n for status, n in seen.statuses.items() if status.startswith("5")),
        "unexpected": dict(seen.unexpected),
        "p50": statistics.median(ordered) * 1000 if ordered else float("nan"),
        "p95": p95,
        "rss": memory_mib(pid) if pid is not None else None,
        "load": load_average(),
    }


def _line(row: dict[str, object]) -> str:
    rss = f"{row['rss']:.0f} Mio" if row["rss"] is not None else "?"
    unexpected = row["unexpected"]
    return (
        f"{row['minute']:>6.1f} min {row['requests']:>6} req. {row['5xx']:>3} 5xx "
        f"p50 {row['p50']:>7.1f} ms p95 {row['p95']:>7.1f} ms mémoire {rss:>9} charge {row['load']}"
        + (f"  inattendu : {unexpected}" if unexpected else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="serveur déjà lancé (boucle locale uniquement)")
    parser.add_argument("--duration", type=float, default=1800.0, help="durée en secondes (défaut 1800)")
    parser.add_argument(
        "--window", type=float, default=60.0, help="fenêtre des mesures en secondes (défaut 60)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requêtes simultanées (défaut 4)")
    parser.add_argument("--threads", type=int, default=2, help="QFQ_THREADS du serveur lancé (défaut 2)")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="attente du chargement de l'index")
    args = parser.parse_args()
    process = None
    if args.url:
        if (urlparse(args.url).hostname or "") not in LOOPBACK:
            raise SystemExit("ce banc d'essai ne vise que la boucle locale (127.0.0.1, localhost, ::1)")
        base = args.url.rstrip("/")
    else:
        port = free_port()
        process = start_server(port, args.threads, args.ready_timeout)
        base = f"http://127.0.0.1:{port}"
    try:
        cpu_before = cpu_seconds(process.pid) if process is not None else None
        print(
            f"endurance : {args.duration:.0f} s à {args.concurrency} requêtes simultanées sur {base}",
            flush=True,
        )
        rows = soak(base, args.concurrency, args.duration, args.window, process.pid if process else None)
        total = sum(int(str(r["requests"])) for r in rows)
        errors = sum(int(str(r["5xx"])) for r in rows)
        unexpected = sum(sum(dict(r["unexpected"]).values()) for r in rows)  # type: ignore[call-overload]
        memory = [float(str(r["rss"])) for r in rows if r["rss"] is not None]
        print(f"total : {total} requêtes, {errors} réponses 5xx, {unexpected} statuts inattendus")
        if memory:
            print(
                f"mémoire du serveur : première fenêtre {memory[0]:.0f} Mio, dernière {memory[-1]:.0f} Mio, "
                f"max {max(memory):.0f} Mio"
            )
        if cpu_before is not None and process is not None:
            used = (cpu_seconds(process.pid) or cpu_before) - cpu_before
            print(f"CPU du serveur : {used / max(1, total) * 1000:.1f} ms par requête")
    finally:
        if process is not None:
            stop_server(process)


if __name__ == "__main__":
    main()
