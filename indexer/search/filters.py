"""Search filters: what a search may return (levels, themes, documents, kinds, status, date), as masks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import Any

import numpy as np

from indexer.errors import QfqError
from indexer.models import Status
from indexer.text.tagging import Taxonomy

_MASK_CACHE_SIZE = 256


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on the passages searched; empty sequences mean "no restriction".

    `date` (ISO "YYYY-MM-DD") keeps passages in force at that date where the source gives
    date_debut/date_fin; passages without dates follow the status rule. Abrogated passages are left out
    unless `include_abrogated`.
    """

    levels: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    include_abrogated: bool = False
    date: str | None = None

    def __post_init__(self) -> None:
        for name in ("levels", "themes", "documents", "kinds"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name) or ()))))


def tag_masks(values: Iterable[Iterable[Any]], n: int) -> dict[str, np.ndarray]:
    """One boolean mask per tag over `n` passages, from each passage's tags."""
    masks: dict[str, np.ndarray] = {}
    for row, tags in enumerate(values):
        for tag in tags:
            masks.setdefault(str(tag), np.zeros(n, dtype=np.bool_))[row] = True
    return masks


class FilterIndex:
    """The filter columns of one bundle's passages, the values each filter accepts, and cached masks."""

    def __init__(
        self,
        rows: Sequence[Any],
        documents: Sequence[Mapping[str, Any]],
        taxonomy: Taxonomy | None,
    ) -> None:
        """Args:
        rows: the store's filter columns (`PassageStore.filter_columns`), one per passage.
        documents: the bundle's documents (their keys are the accepted document values).
        taxonomy: levels and themes also accepted when no passage carries them; None if unreadable.
        """
        self._n = len(rows)
        self._doc_keys = np.array([r["doc_key"] for r in rows], dtype=object)
        self._kinds = np.array([r["kind"] for r in rows], dtype=object)
        self._status = np.array([r["status"] for r in rows], dtype=object)
        self._date_debut = np.array([r["date_debut"] or "" for r in rows], dtype="U10")
        self._date_fin = np.array([r["date_fin"] or "" for r in rows], dtype="U10")
        self.levels = tag_masks((json.loads(r["levels"]) for r in rows), self._n)
        self.themes = tag_masks((json.loads(r["themes"]) for r in rows), self._n)
        taxonomy_levels = set(taxonomy.level_ids()) if taxonomy else set()
        taxonomy_themes = set(taxonomy.theme_ids()) if taxonomy else set()
        self.allowed = {
            "levels": sorted(set(self.levels) | taxonomy_levels),
            "themes": sorted(set(self.themes) | taxonomy_themes),
            "documents": [d["key"] for d in documents],
            "kinds": sorted(set(self._kinds.tolist())),
        }
        self._masks: dict[SearchFilters, np.ndarray] = {}
        self._lock = threading.Lock()

    def validate(self, filters: SearchFilters) -> None:
        """Raise a French error for a filter value the bundle does not know or a malformed date.

        Raises:
            QfqError: `filtre_invalide` or `date_invalide`.
        """
        labels = {"levels": "niveau", "themes": "thème", "documents": "document", "kinds": "type"}
        for name, label in labels.items():
            unknown = [v for v in getattr(filters, name) if v not in self.allowed[name]]
            if unknown:
                raise QfqError(
                    f"Valeur de {label} inconnue : {', '.join(unknown)}. Valeurs possibles : "
                    f"{', '.join(self.allowed[name])}.",
                    code="filtre_invalide",
                    details={"filtre": name, "inconnues": unknown, "acceptes": self.allowed[name]},
                )
        if filters.date is not None:
            try:
                Date.fromisoformat(filters.date)
            except ValueError as exc:
                raise QfqError(
                    f"Date invalide : {filters.date!r}. Utilisez le format AAAA-MM-JJ.",
                    code="date_invalide",
                ) from exc

    def mask(self, filters: SearchFilters | None) -> np.ndarray:
        """Boolean mask (one entry per passage) of the passages the filters keep (read-only, cached).

        Raises:
            QfqError: unknown filter value (`filtre_invalide`) or malformed date (`date_invalide`).
        """
        filters = filters or SearchFilters()
        with self._lock:
            cached = self._masks.get(filters)
        if cached is not None:
            return cached
        self.validate(filters)
        mask = np.ones(self._n, dtype=np.bool_)
        if filters.documents:
            mask &= np.isin(self._doc_keys, list(filters.documents))
        if filters.kinds:
            mask &= np.isin(self._kinds, list(filters.kinds))
        for name, masks in (("levels", self.levels), ("themes", self.themes)):
            wanted = getattr(filters, name)
            if wanted:
                any_of = np.zeros(self._n, dtype=np.bool_)
                for value in wanted:
                    if value in masks:
                        any_of |= masks[value]
                mask &= any_of
        by_status = (
            np.ones(self._n, dtype=np.bool_)
            if filters.include_abrogated
            else self._status != str(Status.ABROGE)
        )
        if filters.date is None:
            mask &= by_status
        else:
            day = filters.date
            dated = (self._date_debut != "") | (self._date_fin != "")
            started = (self._date_debut == "") | (self._date_debut <= day)
            not_ended = (self._date_fin == "") | (self._date_fin > day)
            mask &= np.where(dated, started & not_ended, by_status)
        mask.setflags(write=False)
        with self._lock:
            if len(self._masks) >= _MASK_CACHE_SIZE:
                self._masks.clear()
            self._masks[filters] = mask
        return mask
