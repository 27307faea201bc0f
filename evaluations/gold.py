"""Gold sets in BEIR's layout: `queries.jsonl` and `qrels/<split>.tsv`, read strictly with French errors.

`queries.jsonl` holds one JSON object a line with `_id` and `text`; optional search filters may be given at
the top level or under `filters`: `niveau`/`niveaux`, `theme`/`themes`, `document`/`documents`, `type`/`types`
(a string or a list of strings) and `date` (AAAA-MM-JJ). Any other field (BEIR's `metadata`, `title`...) is
kept but not used. `qrels/<split>.tsv` starts with the header `query-id<TAB>corpus-id<TAB>score`; a corpus id
is `doc_key/article` or `doc_key`, a score an integer (2 primary, 1 related, 0 judged not relevant).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import QfqError
from indexer.search.filters import SearchFilters

QUERIES_FILE = "queries.jsonl"
QRELS_DIR = "qrels"
QRELS_HEADER = ("query-id", "corpus-id", "score")
_FILTER_FIELDS = {
    "niveau": "levels",
    "niveaux": "levels",
    "theme": "themes",
    "themes": "themes",
    "document": "documents",
    "documents": "documents",
    "type": "kinds",
    "types": "kinds",
}


class GoldError(QfqError):
    """A gold folder is missing a file or holds a malformed line."""

    code = "jeu_de_reference_invalide"


@dataclass(frozen=True)
class GoldQuery:
    """One question of a gold set and the search filters it asks for."""

    id: str
    text: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GoldSplit:
    """The queries of one split and their judgements."""

    folder: Path
    split: str
    queries: dict[str, GoldQuery]
    qrels: dict[str, dict[str, int]]

    @property
    def name(self) -> str:
        return self.folder.name


def _filters(record: Mapping[str, Any], where: str) -> SearchFilters:
    nested = record.get("filters") or {}
    if not isinstance(nested, Mapping):
        raise GoldError(f"{where} : « filters » doit être un objet JSON.", code="filtre_invalide")
    values: dict[str, list[str]] = {"levels": [], "themes": [], "documents": [], "kinds": []}
    date: str | None = None
    for source in (record, nested):
        for key, value in source.items():
            if key == "date" and value is not None:
                if not isinstance(value, str):
                    raise GoldError(
                        f"{where} : « date » doit être une chaîne AAAA-MM-JJ.", code="filtre_invalide"
                    )
                date = value
            target = _FILTER_FIELDS.get(key)
            if target is None or value is None:
                continue
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
                raise GoldError(
                    f"{where} : le filtre « {key} » doit être une chaîne ou une liste de chaînes non vides.",
                    code="filtre_invalide",
                )
            values[target].extend(items)
    return SearchFilters(
        levels=tuple(values["levels"]),
        themes=tuple(values["themes"]),
        documents=tuple(values["documents"]),
        kinds=tuple(values["kinds"]),
        date=date,
    )


def load_queries(folder: Path) -> dict[str, GoldQuery]:
    """Read `queries.jsonl` of a gold folder.

    Raises:
        GoldError: missing folder or file, invalid JSON, missing or empty `_id`/`text`, repeated `_id`,
            malformed filters.
    """
    if not folder.is_dir():
        raise GoldError(f"Dossier du jeu de référence introuvable : {folder}.", code="jeu_introuvable")
    path = folder / QUERIES_FILE
    if not path.is_file():
        raise GoldError(
            f"Fichier {QUERIES_FILE} absent de {folder} : un jeu de référence au format BEIR contient "
            f"{QUERIES_FILE} et {QRELS_DIR}/<split>.tsv.",
            code="questions_absentes",
        )
    queries: dict[str, GoldQuery] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}, ligne {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldError(f"{where} : JSON invalide ({exc.msg}).", code="ligne_invalide") from exc
            if not isinstance(record, dict):
                raise GoldError(f"{where} : un objet JSON est attendu.", code="ligne_invalide")
            query_id, text = record.get("_id"), record.get("text")
            if not isinstance(query_id, str | int) or str(query_id).strip() == "":
                raise GoldError(f"{where} : champ « _id » manquant ou vide.", code="ligne_invalide")
            if not isinstance(text, str) or not text.strip():
                raise GoldError(f"{where} : champ « text » manquant ou vide.", code="ligne_invalide")
            query_id = str(query_id)
            if query_id in queries:
                raise GoldError(f"{where} : identifiant « {query_id} » en double.", code="identifiant_double")
            extra = {k: v for k, v in record.items() if k not in {"_id", "text"}}
            queries[query_id] = GoldQuery(query_id, text.strip(), _filters(record, where), extra)
    if not queries:
        raise GoldError(f"{path} ne contient aucune question.", code="questions_absentes")
    return queries


def available_splits(folder: Path) -> list[str]:
    """Split names of a gold folder (the `qrels/*.tsv` file stems), sorted."""
    return sorted(p.stem for p in (folder / QRELS_DIR).glob("*.tsv"))


def load_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    """Read `qrels/<split>.tsv` of a gold folder.

    Raises:
        GoldError: missing file (the message lists the splits present), wrong header, a line without three
            tab-separated columns, a non-integer or negative score, a corpus id judged twice for a query.
    """
    path = folder / QRELS_DIR / f"{split}.tsv"
    if not path.is_file():
        splits = ", ".join(available_splits(folder)) or "aucun"
        raise GoldError(
            f"Jugements {path} introuvables. Découpages disponibles dans {folder} : {splits}.",
            code="decoupage_inconnu",
        )
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        if tuple(h.strip() for h in header) != QRELS_HEADER:
            raise GoldError(
                f"{path} : en-tête invalide {header!r}, attendu « query-id<TAB>corpus-id<TAB>score ».",
                code="entete_invalide",
            )
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            where = f"{path}, ligne {number}"
            columns = [c.strip() for c in line.rstrip("\r\n").split("\t")]
            if len(columns) != 3 or not columns[0] or not columns[1]:
                raise GoldError(
                    f"{where} : trois colonnes séparées par des tabulations sont attendues "
                    "(query-id, corpus-id, score).",
                    code="ligne_invalide",
                )
            query_id, corpus_id, score = columns
            try:
                grade = int(score)
            except ValueError as exc:
                raise GoldError(f"{where} : score « {score} » non entier.", code="score_invalide") from exc
            if grade < 0:
                raise GoldError(f"{where} : score négatif {grade}.", code="score_invalide")
            judged = qrels.setdefault(query_id, {})
            if corpus_id in judged:
                raise GoldError(
                    f"{where} : « {corpus_id} » est déjà jugé pour la question {query_id}.",
                    code="jugement_double",
                )
            judged[corpus_id] = grade
    if not qrels:
        raise GoldError(f"{path} ne contient aucun jugement.", code="jugements_absents")
    return qrels


def load_gold(folder: Path, split: str = "test") -> GoldSplit:
    """Read a gold folder and keep the queries judged in `split`.

    Args:
        folder: a folder in BEIR's layout.
        split: the qrels file stem (`dev`, `test`...).

    Raises:
        GoldError: a malformed file, or judgements naming a query absent from `queries.jsonl`.
    """
    folder = Path(folder)
    queries = load_queries(folder)
    qrels = load_qrels(folder, split)
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        raise GoldError(
            f"{folder / QRELS_DIR / (split + '.tsv')} juge des questions absentes de {QUERIES_FILE} : "
            f"{', '.join(unknown[:10])}.",
            code="question_inconnue",
        )
    return GoldSplit(folder, split, {qid: queries[qid] for qid in sorted(qrels)}, qrels)
