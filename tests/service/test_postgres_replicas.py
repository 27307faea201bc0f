"""End to end on PostgreSQL: two `qfq serve` replicas under load switch to a generation `qfq build`
publishes, without a failed request, then follow `qfq index rollback`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.api_checks import free_port
from helpers.law_corpus import LAWS, write_law_corpus
from helpers.paths import REPO

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 120


def _qfq(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _build_id(base: str) -> str | None:
    try:
        ready = httpx.get(f"{base}/readyz", timeout=5)
    except httpx.TransportError:
        return None
    return ready.json().get("build_id") if ready.status_code == 200 else None


def _wait_for(bases: list[str], wanted: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while any(_build_id(base) != wanted for base in bases):
        assert time.monotonic() < deadline, [_build_id(base) for base in bases]
        time.sleep(0.2)


@pytest.fixture
def replicas(tmp_path: Path, database_url: str) -> Iterator[tuple[dict[str, str], list[str]]]:
    env = {
        **os.environ,
        "QFQ_CORPUS_DIR": str(write_law_corpus(tmp_path / "corpus", LAWS)),
        "QFQ_DATA_DIR": str(tmp_path / "data"),
        "QFQ_MODEL": "fake-64",
        "QFQ_BACKEND": "postgres",
        "QFQ_DATABASE_URL": database_url,
        "QFQ_RELOAD_SECONDS": "0.5",
        "QFQ_RATE_LIMIT_PER_MINUTE": "0",
    }
    _qfq(env, "build")
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--sans-construction", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        yield env, [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_two_replicas_switch_generation_under_load_without_a_failed_request(replicas) -> None:
    env, bases = replicas
    first = _qfq(env, "index", "list").split()[0]
    _wait_for(bases, first)
    seen: Counter[tuple[int, str]] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def load(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                answer = client.get("/v1/search", params={"q": "Qui collecte les déchets ménagers ?", "k": 3})
                with lock:
                    seen[(answer.status_code, answer.headers.get("x-build-id", ""))] += 1

    threads = [threading.Thread(target=load, args=(base,)) for base in bases for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        _qfq(env, "build")
        second = _qfq(env, "index", "list").split()[0]
        assert second != first
        _wait_for(bases, second)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert {status for status, _ in seen} == {200}, seen
    assert seen[(200, first)] > 0 and seen[(200, second)] > 0

    assert f"Index courant : {first}" in _qfq(env, "index", "rollback")
    _wait_for(bases, first)
