"""From the API's table of contents and articles to the `legi-piste-json` tree, and back to article lists.

The table of contents (`/consult/legi/tableMatieres`) is a `ConsultTextResponse`: the text's `title`,
`cid`, `modifDate`, and nested `sections[]` each with `articles[]` (ids, numbers and states, no wording).
The wording comes from `/consult/getArticle`, one article version (LEGIARTI id) at a time. The tree we
write is the one SocialGouv/legi-data stores and `codes/crpa.piste.json` shows: `{"data", "type",
"children"}` nodes of type `code` (or `texte` for a law), `section` and `article`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ARTICLE_FIELDS = (
    "articleVersions",
    "cid",
    "dateDebut",
    "dateDebutExtension",
    "dateFin",
    "dateFinExtension",
    "etat",
    "id",
    "intOrdre",
    "lienModifications",
    "nota",
    "notaHtml",
    "num",
    "texte",
    "texteHtml",
)
ROOT_TYPES = {"code": "code", "loi": "texte"}


@dataclass(frozen=True)
class TocArticle:
    """An article listed by the table of contents: the version to fetch and its listed state."""

    id: str
    cid: str
    num: str
    etat: str
    date_debut: str  # ISO date, "" when the table of contents does not give it
    date_fin: str
    int_ordre: int


def normalize_id(value: object) -> str:
    """`LEGITEXT000006070994_01-08-2016` -> `LEGITEXT000006070994` (the API appends the version date)."""
    return str(value or "").split("_", 1)[0]


def iso_date(value: object) -> str:
    """An API date (epoch milliseconds, `2026-05-28`, `2026-05-28T16:49:47.707+0000`) as `YYYY-MM-DD`."""
    if isinstance(value, bool) or value is None or value == "":
        return ""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC).date().isoformat()
    text = str(value).strip()
    if text.isdigit():
        return iso_date(int(text))
    return text[:10]


def in_force(etat: object) -> bool:
    """Whether the table of contents' `etat` keeps an element: in force now, or abrogated only later."""
    state = str(etat or "")
    return not state or state.startswith("VIGUEUR") or state == "ABROGE_DIFF"


def _order(node: Mapping[str, Any]) -> int:
    value = node.get("intOrdre")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _id_number(article_id: str) -> int:
    digits = "".join(ch for ch in article_id if ch.isdigit())
    return int(digits) if digits else 0


def _pick_versions(entries: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One version per article (same `cid`): the one in force now, else the latest; order kept."""
    best: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if not in_force(entry.get("etat")) or not entry.get("id"):
            continue
        cid = str(entry.get("cid") or entry.get("id"))
        current = best.get(cid)
        if current is None or _preferred(entry, current):
            best[cid] = entry
    chosen = {id(entry) for entry in best.values()}
    return [entry for entry in entries if id(entry) in chosen]


def _preferred(candidate: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    # A version already in force beats a future one (VIGUEUR_DIFF); then the newest id wins.
    rank = (str(candidate.get("etat")) != "VIGUEUR_DIFF", _id_number(str(candidate.get("id"))))
    return rank > (str(current.get("etat")) != "VIGUEUR_DIFF", _id_number(str(current.get("id"))))


def _toc_article(entry: Mapping[str, Any]) -> TocArticle:
    return TocArticle(
        id=normalize_id(entry.get("id")),
        cid=str(entry.get("cid") or normalize_id(entry.get("id"))),
        num=str(entry.get("num") or ""),
        etat=str(entry.get("etat") or ""),
        date_debut=iso_date(entry.get("dateDebut")),
        date_fin=iso_date(entry.get("dateFin")),
        int_ordre=_order(entry),
    )


def _sections(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in node.get("sections") or [] if isinstance(s, Mapping) and in_force(s.get("etat"))]


def _articles(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _pick_versions([a for a in node.get("articles") or [] if isinstance(a, Mapping)])


def toc_articles(toc: Mapping[str, Any]) -> list[TocArticle]:
    """Articles to fetch, in reading order: in force, one version each, under in-force sections only."""
    found: list[TocArticle] = []

    def walk(node: Mapping[str, Any]) -> None:
        for child_type, child in _children(node):
            if child_type == "article":
                found.append(_toc_article(child))
            else:
                walk(child)

    walk(toc)
    return found


def _children(node: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Sections then articles, stably sorted by `intOrdre` as legi-data orders them."""
    items = [("section", s) for s in _sections(node)] + [("article", a) for a in _articles(node)]
    return sorted(items, key=lambda item: _order(item[1]))


def toc_version(toc: Mapping[str, Any]) -> tuple[str, str]:
    """Version marker and version date of a text, from its table of contents alone.

    The marker joins `modifDate` with a hash of what the table lists (article versions, states, dates,
    section titles): a new article version always has a new LEGIARTI id, so an unchanged marker means
    an unchanged text and nothing needs downloading.

    Returns:
        (marker, version date `YYYY-MM-DD` or "" when the API gives no `modifDate`).
    """
    digest = hashlib.sha256()

    def walk(node: Mapping[str, Any]) -> None:
        for child_type, child in _children(node):
            if child_type == "article":
                entry = _toc_article(child)
                digest.update(
                    json.dumps(["a", entry.id, entry.etat, entry.date_debut, entry.date_fin]).encode()
                )
            else:
                digest.update(json.dumps(["s", normalize_id(child.get("id")), child.get("title")]).encode())
                walk(child)
                digest.update(b"]")

    walk(toc)
    version_date = iso_date(toc.get("modifDate") or toc.get("dateModif"))
    return f"{version_date}|{digest.hexdigest()[:32]}", version_date


def article_node(article: Mapping[str, Any], listed: TocArticle | None = None) -> dict[str, Any]:
    """A `/consult/getArticle` article as a tree node (legi-data's `toArticle`)."""
    data = {name: article.get(name) for name in ARTICLE_FIELDS}
    data["intOrdre"] = article.get("ordre", article.get("intOrdre"))
    if data["intOrdre"] is None and listed is not None:
        data["intOrdre"] = listed.int_ordre
    for name in ("lienModifications", "articleVersions"):
        if data[name] is None:
            data[name] = []
    for name in ("nota", "notaHtml", "texte", "texteHtml"):
        if data[name] is None:
            data[name] = ""
    return {"data": data, "type": "article"}


def build_tree(
    toc: Mapping[str, Any], articles: Mapping[str, Mapping[str, Any]], kind: str
) -> dict[str, Any]:
    """Assemble the `legi-piste-json` tree of one text.

    Args:
        toc: the `/consult/legi/tableMatieres` response.
        articles: `getArticle` articles by LEGIARTI id, covering every id of `toc_articles(toc)`.
        kind: `code` or `loi` (the root node type is `code` or `texte`).

    Returns:
        `{"data": {...}, "type": ..., "children": [...]}`, sections and articles in `intOrdre` order.

    Raises:
        KeyError: an article listed by the table of contents is missing from `articles`.
    """

    def children(node: Mapping[str, Any]) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        for child_type, child in _children(node):
            if child_type == "article":
                listed = _toc_article(child)
                nodes.append(article_node(articles[listed.id], listed))
            else:
                nodes.append({"data": _section_data(child), "type": "section", "children": children(child)})
        return nodes

    root_id = normalize_id(toc.get("id") or toc.get("cid"))
    data = {
        "cid": str(toc.get("cid") or root_id),
        "etat": toc.get("etat"),
        "id": root_id,
        "intOrdre": 0,
        "title": toc.get("title"),
        "dateModif": iso_date(toc.get("modifDate") or toc.get("dateModif")) or None,
        "dateDebutVersion": toc.get("dateDebutVersion"),
        "dateFinVersion": toc.get("dateFinVersion"),
    }
    return {"data": data, "type": ROOT_TYPES.get(kind, "texte"), "children": children(toc)}


def _section_data(section: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cid": str(section.get("cid") or normalize_id(section.get("id"))),
        "etat": section.get("etat"),
        "id": normalize_id(section.get("id")),
        "intOrdre": _order(section),
        "title": section.get("title"),
        "dateDebut": section.get("dateDebut"),
        "dateFin": section.get("dateFin"),
    }


def tree_articles(tree: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The `data` of every article node of a `legi-piste-json` tree, in reading order."""
    for child in tree.get("children") or []:
        if not isinstance(child, Mapping):
            continue
        if child.get("type") == "article":
            data = child.get("data")
            if isinstance(data, dict):
                yield data
        else:
            yield from tree_articles(child)


def check_tree(tree: object) -> list[str]:
    """Problems of a `legi-piste-json` tree, in French; empty when its shape is the expected one."""
    problems: list[str] = []
    if not isinstance(tree, dict) or not isinstance(tree.get("data"), dict):
        return ["la racine n'est pas un nœud {data, type, children}"]
    if tree.get("type") not in ROOT_TYPES.values():
        problems.append(f"type de racine inattendu « {tree.get('type')} »")
    if not isinstance(tree.get("children"), list):
        return [*problems, "la racine n'a pas de liste « children »"]
    count = 0

    def walk(node: Mapping[str, Any], where: str) -> None:
        nonlocal count
        for index, child in enumerate(node.get("children") or []):
            place = f"{where}/{index}"
            if not isinstance(child, dict) or not isinstance(child.get("data"), dict):
                problems.append(f"nœud {place} sans « data »")
                continue
            if child.get("type") == "article":
                count += 1
                data = child["data"]
                for name in ("num", "texte", "etat", "id"):
                    if not isinstance(data.get(name), str) or not data.get(name):
                        problems.append(
                            f"article {data.get('num') or place} : champ « {name} » absent ou vide"
                        )
                for name in ("dateDebut", "dateFin"):
                    if not isinstance(data.get(name), int):
                        problems.append(f"article {data.get('num') or place} : « {name} » n'est pas une date")
            elif child.get("type") == "section":
                if not isinstance(child.get("children"), list):
                    problems.append(f"section {place} sans « children »")
                else:
                    walk(child, place)
            else:
                problems.append(f"nœud {place} de type inconnu « {child.get('type')} »")

    walk(tree, "")
    if count == 0:
        problems.append("aucun article")
    return problems
