"""Priors on passages, independent of the question's words: provisions written for one territory and
regulatory articles rank lower (see `FusionParams.territory_penalty` and `regulatory_penalty`)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.search.fusion import FusionParams
from indexer.text.normalize import fold

# Headings of the provisions written for particular territories, matched on folded text (see `fold`).
TERRITORIAL_REGIME = re.compile(
    r"outre-mer|polynesie|nouvelle-caledonie|saint-barthelemy|saint-martin|saint-pierre-et-miquelon|"
    r"mayotte|wallis|guyane|martinique|guadeloupe|la reunion|\bcorse\b|alsace|moselle|bas-rhin|haut-rhin"
)
_REGULATORY = re.compile(r"^(?:R|D)\*?\d|^Annexe", re.IGNORECASE)
# CGCT parts 6 and 7 (articles LO6…, L7…) are the overseas collectivities, headings or not.
_CGCT_TERRITORIAL = re.compile(r"^(?:LO|L|R|D)[67]")


def territorial_mask(rows: Sequence[Any]) -> np.ndarray:
    """Passages written for one territory: a heading names it, or a CGCT article of parts 6 and 7."""
    by_path: dict[str, bool] = {}  # heading paths repeat across the articles of a chapter
    mask = np.zeros(len(rows), dtype=np.bool_)
    for i, r in enumerate(rows):
        path = r["heading_path"] or "[]"
        found = by_path.get(path)
        if found is None:
            found = bool(TERRITORIAL_REGIME.search(fold(" ".join(json.loads(path)))))
            by_path[path] = found
        mask[i] = found or (r["doc_key"] == "cgct" and bool(_CGCT_TERRITORIAL.match(str(r["article"]))))
    return mask


def regulatory_mask(rows: Sequence[Any]) -> np.ndarray:
    """Regulatory articles of a code: R…, D… and annexes."""
    return np.array(
        [r["kind"] == "code" and bool(_REGULATORY.match(str(r["article"]))) for r in rows],
        dtype=np.bool_,
    )


class Priors:
    """Fused-score factors of the passages of one bundle, built once per fusion setting."""

    def __init__(self, rows: Sequence[Any]) -> None:
        """Args: rows: the store's filter columns (`PassageStore.filter_columns`)."""
        self._n = len(rows)
        self._territorial = territorial_mask(rows)
        self._regulatory = regulatory_mask(rows)
        self._factors: dict[tuple[float, float], np.ndarray] = {}
        self._lock = threading.Lock()

    def factors(self, question: str, params: FusionParams) -> np.ndarray | None:
        """Fused-score factor of every passage (1 where no penalty applies), or None when none does.

        A question that names a territory lifts the territory penalty.
        """
        territory = params.territory_penalty if not TERRITORIAL_REGIME.search(fold(question)) else 0.0
        if not territory and not params.regulatory_penalty:
            return None
        key = (territory, params.regulatory_penalty)
        with self._lock:
            factor = self._factors.get(key)
        if factor is None:
            # Two arrays at most per fusion setting (the question names a territory or not).
            factor = np.ones(self._n, dtype=np.float64)
            factor[self._territorial] *= 1.0 - territory
            factor[self._regulatory] *= 1.0 - params.regulatory_penalty
            factor.setflags(write=False)
            with self._lock:
                self._factors[key] = factor
        return factor
