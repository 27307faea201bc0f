"""Parser for the Légifrance API (PISTE) JSON tree: sections and articles with `etat` and dates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from indexer.errors import CorpusError
from indexer.models import Article, Document, Link, Status
from indexer.text.dates import epoch_ms_to_iso
from indexer.text.normalize import normalize_whitespace

ETAT_STATUS = {
    "VIGUEUR": Status.EN_VIGUEUR,
    "VIGUEUR_ETEN": Status.EN_VIGUEUR,
    "VIGUEUR_NON_ETEN": Status.EN_VIGUEUR,
    "VIGUEUR_DIFF": Status.A_VENIR,
    "ABROGE": Status.ABROGE,
    "ABROGE_DIFF": Status.ABROGE,
    "MODIFIE": Status.ABROGE,
    "MODIFIE_MORT_NE": Status.ABROGE,
    "PERIME": Status.ABROGE,
    "ANNULE": Status.ABROGE,
    "DISJOINT": Status.ABROGE,
    "TRANSFERE": Status.ABROGE,
}

LINK_KINDS = {
    "CREE": "cree",
    "MODIFIE": "modifie",
    "ABROGE": "abroge",
    "CODIFICATION": "codifie",
    "TRANSFERE": "transfere",
    "CITATION": "cite",
}


def piste_status(etat: str, date_debut: str, today: date | None = None) -> Status:
    """Map a Légifrance `etat` to a status; a start date still ahead means "à venir"."""
    status = ETAT_STATUS.get(etat.upper(), Status.EN_VIGUEUR)
    today = today or date.today()
    if status is Status.EN_VIGUEUR and date_debut and date_debut > today.isoformat():
        return Status.A_VENIR
    if status is Status.A_VENIR and date_debut and date_debut <= today.isoformat():
        return Status.EN_VIGUEUR
    return status


def _walk(node: dict[str, Any], path: list[str]) -> Iterator[tuple[dict[str, Any], list[str]]]:
    for child in node.get("children") or []:
        if not isinstance(child, dict):
            continue
        if child.get("type") == "article":
            yield child.get("data") or {}, path
        else:
            title = str((child.get("data") or {}).get("title") or "").strip()
            yield from _walk(child, path + [title] if title else path)


class LegiPisteJsonParser:
    """The tree returned by the Légifrance API: `{"data", "type": "code", "children": [...]}`."""

    format = "legi-piste-json"

    def parse(self, doc: Document, corpus_dir: Path) -> list[Article]:
        path = corpus_dir / doc.path
        tree = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(tree, dict) or not isinstance(tree.get("children"), list):
            raise CorpusError(
                f"Document {doc.key} ({doc.path}) : arbre Légifrance sans « children ».",
                code="structure_invalide",
                details={"document": doc.key, "fichier": doc.path},
            )
        articles = []
        for data, heading_path in _walk(tree, []):
            number = str(data.get("num") or "").strip()
            text = normalize_whitespace(str(data.get("texte") or ""))
            if not number or not text:
                continue
            date_debut = epoch_ms_to_iso(data.get("dateDebut"))
            links = [
                Link(
                    kind=LINK_KINDS.get(str(link.get("linkType")), str(link.get("linkType", "")).lower()),
                    text=str(link.get("textTitle") or "").strip(),
                    date=str(link.get("dateSignaTexte") or link.get("datePubliTexte") or ""),
                )
                for link in data.get("lienModifications") or []
                if isinstance(link, dict)
            ]
            articles.append(
                Article(
                    doc_key=doc.key,
                    number=number,
                    text=text,
                    heading_path=list(heading_path),
                    status=piste_status(str(data.get("etat") or ""), date_debut),
                    date_debut=date_debut,
                    date_fin=epoch_ms_to_iso(data.get("dateFin")),
                    links=links,
                    source_file=doc.path,
                    legi_id=str(data.get("id") or ""),
                )
            )
        return articles
