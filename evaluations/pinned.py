"""Pinned expected scores (`evaluations/expected.yaml`): reading them and comparing a run with a tolerance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evaluations.gold import GoldError
from evaluations.metrics import METRICS
from indexer.search.retriever import MODES

EXPECTED_PATH = Path(__file__).resolve().parent / "expected.yaml"
# Checked by default: the agents' questions, then the formal ones (written questions, FAQ).
EXPECTED_FILES = (EXPECTED_PATH, EXPECTED_PATH.with_name("expected-formel.yaml"))
ANSWER_METRICS = ("precision", "coverage")


@dataclass(frozen=True)
class Expected:
    """Scores pinned for one gold folder: per split and mode, with one tolerance."""

    path: Path
    gold: Path
    model: str | None
    k: int
    tolerance: float
    scores: dict[str, dict[str, dict[str, float]]]  # split -> mode -> metric -> value
    answers: dict[str, dict[str, float]] = field(default_factory=dict)  # split -> precision/coverage


@dataclass(frozen=True)
class Comparison:
    """One metric compared with its pinned value."""

    split: str
    mode: str
    metric: str
    actual: float
    expected: float
    tolerance: float

    @property
    def ok(self) -> bool:
        # A small epsilon keeps values printed with four decimals from failing on rounding.
        return abs(self.actual - self.expected) <= self.tolerance + 1e-9

    def line(self) -> str:
        """`OK` or `FAIL`, the measured value and the expected one, in French."""
        gap = self.actual - self.expected
        status = "OK  " if self.ok else "FAIL"
        text = (
            f"{status} {self.split}/{self.mode:<8} {self.metric:<9} = {self.actual:.4f} "
            f"(attendu {self.expected:.4f} ± {self.tolerance:.4f}"
        )
        if not self.ok:
            text += f", écart {gap:+.4f} : " + (
                "amélioration, mettez à jour expected.yaml" if gap > 0 else "régression"
            )
        return text + ")"


def _fail(path: Path, message: str) -> GoldError:
    return GoldError(f"{path} : {message}", code="scores_attendus_invalides")


def load_expected(path: Path = EXPECTED_PATH) -> Expected:
    """Read an expected-scores YAML file.

    The file holds `gold` (a folder, relative to the YAML file), `model` (the bundle's model id, optional),
    `k`, `tolerance`, `scores: {split: {mode: {metric: value}}}` and, optionally, the knowledge answers'
    `reponses: {split: {precision: value, coverage: value}}`.

    Raises:
        GoldError: missing or malformed file (code `scores_attendus_invalides`).
    """
    if not path.is_file():
        raise _fail(path, "fichier des scores attendus introuvable.")
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(path, f"YAML invalide ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict) or "gold" not in data:
        raise _fail(path, "les clés « gold » et « scores » sont attendues.")
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for split, modes in data["scores"].items():
        if not isinstance(modes, dict):
            raise _fail(path, f"scores.{split} doit associer des modes à des scores.")
        for mode, values in modes.items():
            if mode not in MODES:
                raise _fail(path, f"mode inconnu « {mode} » (valeurs possibles : {', '.join(MODES)}).")
            if not isinstance(values, dict) or not values:
                raise _fail(path, f"scores.{split}.{mode} doit associer des métriques à des valeurs.")
            unknown = sorted(set(values) - set(METRICS))
            if unknown:
                raise _fail(path, f"métrique(s) inconnue(s) : {', '.join(unknown)}.")
            scores.setdefault(str(split), {})[str(mode)] = {m: float(v) for m, v in values.items()}
    answers: dict[str, dict[str, float]] = {}
    for split, values in (data.get("reponses") or {}).items():
        if not isinstance(values, dict) or not set(values) <= set(ANSWER_METRICS) or not values:
            raise _fail(path, f"reponses.{split} doit associer {' et '.join(ANSWER_METRICS)} à des valeurs.")
        answers[str(split)] = {m: float(v) for m, v in values.items()}
    try:
        tolerance = float(data.get("tolerance", 0.01))
        k = int(data.get("k", 10))
    except (TypeError, ValueError) as exc:
        raise _fail(path, "« tolerance » et « k » doivent être des nombres.") from exc
    return Expected(
        path=path,
        gold=(path.parent / str(data["gold"])).resolve(),
        model=str(data["model"]) if data.get("model") else None,
        k=k,
        tolerance=tolerance,
        scores=scores,
        answers=answers,
    )


def compare_answers(expected: Expected, split: str, measured: dict[str, float]) -> list[Comparison]:
    """Compare the answers' precision and coverage with the pinned ones of a split."""
    return [
        Comparison(split, "reponses", name, measured[name], value, expected.tolerance)
        for name, value in expected.answers[split].items()
    ]


def compare(expected: Expected, split: str, mode: str, metrics: dict[str, float]) -> list[Comparison]:
    """Compare measured metrics with the pinned ones of a split and mode (only the metrics pinned)."""
    pinned = expected.scores[split][mode]
    return [
        Comparison(split, mode, name, metrics[name], value, expected.tolerance)
        for name, value in pinned.items()
    ]
