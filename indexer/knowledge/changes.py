"""The change watch: articles of a level created, modified or abrogated since a date, from the corpus version
histories, with the curated knowledge's evolutions and what the corpus cannot know.

Sources. The lexlib histories `codes/<key>.amendments.jsonl` give one line per article version: the date the
version enters into force, whether the file was added, modified or removed, and the version's « Créé par /
Modifié par / Abrogé par… » lists. The Légifrance (PISTE) tree of the CRPA gives each article's
`lienModifications` (creating and modifying texts with their dates) and its end date when abrogated. Codes
without a history (Ansvar JSON: énergie, urbanisme, CPCE) are not covered.

Amending text of a version. The entries of its lists that the previous version of the same article did not
have; LEGI sometimes re-lists every earlier text on one version (the cgct L5214-16 version of 2018-01-01 lists
eight), so when two or more re-listed entries come back, those already seen earlier are left out (the rule of
`indexer.knowledge.impact`). Failing that, the commit author when it names one text. Versions where only the
lists changed (`text_changed` false) are not changes of the article's wording and are left out, except for a
newly listed « Abrogé par » entry: an abrogation LEGI recorded without removing the file, dated by the
abrogating text's own date (flagged `date_estimee`). A text signed after the version it is listed on cannot
have made it: it becomes a change of its own, dated by the text (flagged `date_estimee` too).

Level and theme of an article. The tags the search uses: those of the bundle's passages when an index is
published (one query for every article), else those of the passages built from the corpus article by article;
an article whose file is gone (a removed version) is tagged from its headings, as `impact` does. A level also
follows the articles tagged with a group it belongs to (a communauté de communes is an EPCI à fiscalité propre).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexer.corpus.manifest import load_manifest
from indexer.errors import QfqError
from indexer.knowledge.citations import cite_all
from indexer.knowledge.impact import KIND_LABELS, UNCLASSIFIED, piste_articles
from indexer.knowledge.lookup import ArticleSource, ArticleTagSource, PassageLookup
from indexer.knowledge.model import Knowledge
from indexer.models import ArticleTags
from indexer.text.dates import epoch_ms_to_iso
from indexer.text.tagging import Taxonomy, tag_article

DEFAULT_WINDOW_DAYS = 365
_CREATING_LISTS = ("Créé par", "Modifié par", "Transféré par", "Codifié par")
_ENDING_LISTS = ("Abrogé par", "Transféré par")
_UNNAMED_AUTHORS = ("", "Plusieurs textes", "Inconnu")
_PISTE_KINDS = {"CREE": "cree", "MODIFIE": "modifie", "MODIFICATION": "modifie"}
_MONTHS = {
    name: index
    for index, name in enumerate(
        (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        start=1,
    )
}
_TEXT_DATE = re.compile(r"\bdu (1er|\d{1,2}) (" + "|".join(_MONTHS) + r") (\d{4})", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ArticleChange:
    """One dated change of one article, as a version history records it."""

    doc_key: str
    article: str
    date: str  # date the version enters into force (or the abrogating text's date, when estimated)
    kind: str  # cree, modifie, abroge
    texts: tuple[str, ...]  # amending texts as the history writes them (may be empty)
    source: str  # the corpus file holding the history
    estimated_date: bool = False

    @property
    def article_id(self) -> str:
        return f"{self.doc_key}/{self.article}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "nature": self.kind,
            "nature_libelle": KIND_LABELS[self.kind],
            "textes": list(self.texts),
            "source": self.source,
            "date_estimee": self.estimated_date,
        }


def text_date(text: str) -> str:
    """The date a French citation gives its text, ISO: « Loi n°2015-991 du 7 août 2015 » -> 2015-08-07."""
    match = _TEXT_DATE.search(text)
    if match is None:
        return ""
    day = 1 if match.group(1) == "1er" else int(match.group(1))
    try:
        return date(int(match.group(3)), _MONTHS[match.group(2).lower()], day).isoformat()
    except ValueError:
        return ""


def parse_since(value: str | None, today: date | None = None) -> str:
    """The start of the watch: `value` checked (AAAA-MM-JJ), or the last `DEFAULT_WINDOW_DAYS` days.

    Raises:
        QfqError: a malformed or impossible date (`date_invalide`).
    """
    if value is None or not value.strip():
        return ((today or date.today()) - timedelta(days=DEFAULT_WINDOW_DAYS)).isoformat()
    value = value.strip()
    try:
        if not _ISO_DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise QfqError(
            f"Date invalide « {value} » : attendu AAAA-MM-JJ, par exemple 2015-01-01.",
            code="date_invalide",
            details={"champ": "depuis", "valeur": value},
        ) from exc


# --- lexlib histories -----------------------------------------------------------------------------


def _links(line: dict[str, Any], lists: tuple[str, ...]) -> list[str]:
    links = line.get("version_links") or {}
    return list(dict.fromkeys(text for kind in lists for text in links.get(kind, [])))


def _version_texts(line: dict[str, Any], previous: set[str], older: set[str]) -> tuple[str, ...]:
    """Texts new to this version; entries re-listed from older versions are dropped when the list is cumulative."""
    lists = _ENDING_LISTS if line.get("change") == "removed" else _CREATING_LISTS
    fresh = [text for text in _links(line, lists) if text not in previous]
    repeated = [text for text in fresh if text in older]
    if len(repeated) >= 2:
        fresh = [text for text in fresh if text not in older]
    author = str(line.get("amended_by", ""))
    if not fresh and author not in _UNNAMED_AUTHORS:
        fresh = [author]
    return tuple(fresh)


def _split_later(texts: tuple[str, ...], when: str) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """Texts that can have made a version of `when`, and those signed after it, with their own date.

    LEGI sometimes records a later modification on an earlier version's list (the cgct L5214-16 version of
    2018-01-01 names the loi n° 2018-702 of 3 August 2018): such a text is a change of its own, dated by the
    text (flagged estimated). Announced deferred versions « (VD) » of a later text are not changes yet.
    """
    kept, later = [], []
    for text in texts:
        signed = text_date(text)
        if signed and signed > when:
            if "(VD)" not in text:
                later.append((signed, text))
        else:
            kept.append(text)
    return tuple(kept), later


def lexlib_changes(lines: Iterable[dict[str, Any]], doc_key: str, source: str) -> list[ArticleChange]:
    """Changes of every article of one lexlib history.

    Args:
        lines: the history lines of one code, in commit order.
        doc_key: the code's document key.
        source: the history file, as cited.

    Returns:
        Changes in history order, per article version.
    """
    versions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        versions[(str(line["article"]), str(line["legiarti"]))].append(line)
    kinds = {"added": "cree", "modified": "modifie", "removed": "abroge"}
    changes: list[ArticleChange] = []
    for (article, _), history in versions.items():
        removed = any(line.get("change") == "removed" for line in history)
        previous: set[str] = set()
        older: set[str] = set()
        abrogations: set[str] = set()
        for line in history:
            when = str(line.get("version_date", ""))
            if line.get("text_changed", True) or line.get("change") != "modified":
                kind = kinds.get(str(line.get("change")), "modifie")
                texts, later = _split_later(_version_texts(line, previous, older), when)
                changes.append(ArticleChange(doc_key, article, when, kind, texts, source))
                changes += [
                    ArticleChange(doc_key, article, day, "modifie", (text,), source, True)
                    for day, text in later
                ]
            if not removed:
                for text in _links(line, ("Abrogé par",)):
                    if text not in abrogations:
                        abrogations.add(text)
                        changes.append(
                            ArticleChange(
                                doc_key, article, text_date(text) or when, "abroge", (text,), source, True
                            )
                        )
            older |= previous
            previous = set(_links(line, (*_CREATING_LISTS, "Abrogé par")))
    return changes


# --- Légifrance (PISTE) tree ---------------------------------------------------------------------


def piste_changes(tree: dict[str, Any], doc_key: str, source: str) -> list[ArticleChange]:
    """Changes of every article of a Légifrance tree: creating and modifying texts, and abrogations.

    A creation listed both as `CODIFICATION` and `CREE` (codification of the CRPA) is one creation.
    """
    changes = []
    for data in piste_articles(tree):
        number = str(data.get("num") or "").strip()
        if not number:
            continue
        by_date: dict[tuple[str, str], list[str]] = defaultdict(list)
        for link in data.get("lienModifications") or []:
            kind = _PISTE_KINDS.get(str(link.get("linkType")))
            when = str(link.get("dateDebutCible") or "") or epoch_ms_to_iso(data.get("dateDebut"))
            title = str(link.get("textTitle") or "").strip()
            if kind and when and title not in by_date[(when, kind)]:
                by_date[(when, kind)].append(title)
        for (when, kind), texts in sorted(by_date.items()):
            changes.append(ArticleChange(doc_key, number, when, kind, tuple(texts), source))
        if str(data.get("etat", "")).startswith("ABROGE"):
            end = epoch_ms_to_iso(data.get("dateFin"))
            if end:
                changes.append(ArticleChange(doc_key, number, end, "abroge", (), source))
    return changes


@lru_cache(maxsize=4)
def corpus_changes(corpus_dir: Path) -> tuple[ArticleChange, ...]:
    """Every dated change of the corpus histories (read once per corpus folder)."""
    found: list[ArticleChange] = []
    for doc in load_manifest(corpus_dir):
        if doc.format == "lexlib-markdown" and doc.amendments and (corpus_dir / doc.amendments).is_file():
            with (corpus_dir / doc.amendments).open(encoding="utf-8") as handle:
                lines = (json.loads(raw) for raw in handle if raw.strip())
                found += lexlib_changes(lines, doc.key, doc.amendments)
        elif doc.format == "legi-piste-json":
            tree = json.loads((corpus_dir / doc.path).read_text(encoding="utf-8"))
            found += piste_changes(tree, doc.key, doc.path)
    return tuple(found)


# --- tags ------------------------------------------------------------------------------------------


class ArticleTagger:
    """Levels and themes of articles: the bundle's in one read when it can, else article by article."""

    def __init__(self, corpus: ArticleSource, lookup: PassageLookup | None, taxonomy: Taxonomy) -> None:
        self.corpus = corpus
        self.lookup = lookup or corpus
        self.taxonomy = taxonomy
        self._bulk = lookup.article_tags() if isinstance(lookup, ArticleTagSource) else None
        self._cache: dict[str, ArticleTags] = {}

    def tags(self, doc_key: str, article: str) -> ArticleTags:
        article_id = f"{doc_key}/{article}"
        if self._bulk is not None and article_id in self._bulk:
            return self._bulk[article_id]
        cached = self._cache.get(article_id)
        if cached is None:
            passages = [] if self._bulk is not None else self.lookup.passages_of_article(doc_key, article)
            if passages:
                cached = ArticleTags(
                    tuple(dict.fromkeys(level for p in passages for level in p.levels)),
                    tuple(dict.fromkeys(theme for p in passages for theme in p.themes)),
                    passages[0].url,
                    str(passages[0].status),
                )
            else:  # not in the index, or the file is gone: the headings alone
                found = tag_article("", self.corpus.heading_path(doc_key, article), self.taxonomy)
                cached = ArticleTags(tuple(found.levels), tuple(found.themes))
            self._cache[article_id] = cached
        return cached


# --- the report ------------------------------------------------------------------------------------


def _check_choice(value: str, allowed: list[str], label: str, code: str) -> None:
    if value not in allowed:
        raise QfqError(
            f"{label} inconnu : « {value} ». Valeurs acceptées : {', '.join(allowed)}.",
            code=code,
            details={"champ": "niveau" if code == "niveau_inconnu" else "theme", "acceptes": allowed},
        )


def watched_levels(knowledge: Knowledge, taxonomy: Taxonomy, level: str) -> list[str]:
    """The level and the taxonomy levels that group it (e.g. `epci-fp` for a communauté de communes)."""
    groups = [g for g, members in knowledge.groups.items() if level in members and g in taxonomy.level_ids()]
    return [level, *groups]


def _evolutions(
    knowledge: Knowledge, level: str, since: str, theme: str | None, lookup: PassageLookup | None
) -> list[dict[str, Any]]:
    """The curated competences of the level that took effect or changed since the date, newest first."""
    found = []
    for competence in knowledge.competences_of(level):
        if theme is not None and competence.theme != theme:
            continue
        events = [(competence.since, competence.law, competence.summary, competence.basis)]
        events += [(c.date, c.law, c.summary, c.basis or competence.basis) for c in competence.changes]
        for when, law_key, summary, basis in events:
            if when < since:
                continue
            law = knowledge.laws[law_key]
            cited = [c for c in cite_all(basis, lookup) if c.found] if lookup is not None else []
            found.append(
                {
                    "date": when,
                    "competence": competence.id,
                    "intitule": competence.title,
                    "theme": competence.theme,
                    "categorie": competence.category,
                    "loi": {
                        "cle": law.key,
                        "nom_court": law.short_name,
                        "numero": law.number,
                        "date": law.date,
                    },
                    "resume": summary or None,
                    "base": list(dict.fromkeys(b.ref for b in basis)),
                    "citations": [c.citation for c in cited],
                }
            )
    return sorted(found, key=lambda e: (e["date"], e["competence"]), reverse=True)


def coverage(corpus: ArticleSource, knowledge: Knowledge, since: str) -> dict[str, Any]:
    """What the histories cover, to what date, and the laws of the corpus that tell of later changes."""
    documents = list(corpus.documents.values())
    histories = [d for d in documents if d.format in ("lexlib-markdown", "legi-piste-json")]
    stale = [d for d in histories if d.format == "lexlib-markdown"]
    consolidated = min((d.version_date for d in stale), default="")
    laws = sorted(
        (law for law in knowledge.laws.values() if law.document in corpus.documents),
        key=lambda law: law.date,
    )
    later = [law for law in laws if consolidated and law.date > consolidated]
    return {
        "historiques": [
            {
                "document": d.key,
                "nom_court": d.short_name,
                "consolide_au": d.version_date,
                "derniere_version": d.head_version_date or d.version_date,
                "source": d.amendments or d.path,
            }
            for d in histories
        ],
        "sans_historique": [
            {"document": d.key, "nom_court": d.short_name}
            for d in documents
            if d.kind == "code" and d not in histories
        ],
        "consolide_au": consolidated or None,
        "lois_posterieures": [
            {**law.to_dict(), "url": corpus.documents[law.document].url, "dans_la_periode": law.date >= since}
            for law in later
        ],
    }


def _remarks(cover: dict[str, Any]) -> list[str]:
    remarks = []
    stale = [h for h in cover["historiques"] if h["consolide_au"] == cover["consolide_au"]]
    if cover["consolide_au"] and stale:
        names = ", ".join(h["nom_court"] for h in stale)
        laws = " ; ".join(f"{law['titre']}" for law in cover["lois_posterieures"])
        remarks.append(
            f"{names} : textes consolidés au {cover['consolide_au']} (plus les dispositions à effet différé "
            "déjà publiées à cette date). Les modifications postérieures ne sont connues que par les lois du "
            f"corpus : {laws or 'aucune'}."
        )
    if cover["sans_historique"]:
        names = ", ".join(d["nom_court"] for d in cover["sans_historique"])
        remarks.append(f"Sans historique de versions dans le corpus, donc non suivis : {names}.")
    return remarks


def _merged(changes: list[ArticleChange]) -> list[ArticleChange]:
    """One change per date and kind: two files of one article number (renumbered by LEGI) or two texts on
    one day make one event listing every text."""
    merged: dict[tuple[str, str], ArticleChange] = {}
    for change in changes:
        key = (change.date, change.kind)
        known = merged.get(key)
        if known is None:
            merged[key] = change
        else:
            texts = tuple(dict.fromkeys((*known.texts, *change.texts)))
            merged[key] = replace(
                known, texts=texts, estimated_date=known.estimated_date and change.estimated_date
            )
    return list(merged.values())


def changes_report(
    knowledge: Knowledge,
    taxonomy: Taxonomy,
    corpus: ArticleSource,
    lookup: PassageLookup | None,
    level: str,
    since: str | None = None,
    theme: str | None = None,
) -> dict[str, Any]:
    """Articles of a level created, modified or abrogated since a date, grouped by theme, with evolutions.

    Args:
        knowledge: the curated knowledge (evolutions, laws, level groups).
        taxonomy: levels and themes.
        corpus: corpus access (histories, headings).
        lookup: where article tags come from (the bundle); the corpus when None.
        level: the level of government (taxonomy id).
        since: AAAA-MM-JJ, included; the last `DEFAULT_WINDOW_DAYS` days when None.
        theme: keep only this theme.

    Raises:
        QfqError: unknown level (`niveau_inconnu`) or theme (`theme_inconnu`), bad date (`date_invalide`).
    """
    _check_choice(level, taxonomy.level_ids(), "Niveau", "niveau_inconnu")
    if theme is not None:
        _check_choice(theme, taxonomy.theme_ids(), "Thème", "theme_inconnu")
    start = parse_since(since)
    levels = watched_levels(knowledge, taxonomy, level)
    tagger = ArticleTagger(corpus, lookup, taxonomy)
    per_article: dict[str, list[ArticleChange]] = defaultdict(list)
    tags_of: dict[str, ArticleTags] = {}
    for change in corpus_changes(corpus.corpus_dir):
        if change.date < start:
            continue
        tags = tags_of.get(change.article_id) or tagger.tags(change.doc_key, change.article)
        tags_of[change.article_id] = tags
        if not set(levels) & set(tags.levels):
            continue
        if theme is not None and theme not in tags.themes:
            continue
        per_article[change.article_id].append(change)
    labels = {**taxonomy.labels(), UNCLASSIFIED: "Sans thème reconnu"}
    articles: list[dict[str, Any]] = []
    for article_id, changes in per_article.items():
        tags = tags_of[article_id]
        first = changes[0]
        ordered = sorted(_merged(changes), key=lambda c: (c.date, c.kind), reverse=True)
        document = corpus.documents.get(first.doc_key)
        articles.append(
            {
                "article_id": article_id,
                "document": first.doc_key,
                "nom_court": document.short_name if document else first.doc_key,
                "article": first.article,
                "url": tags.url or None,
                "statut": tags.status or None,
                "niveaux": [lv for lv in tags.levels if lv in levels],
                "themes": list(tags.themes) or [UNCLASSIFIED],
                "derniere_date": ordered[0].date,
                "evenements": [c.to_dict() for c in ordered],
            }
        )
    articles.sort(key=lambda a: (a["derniere_date"], a["article_id"]), reverse=True)
    groups = []
    for group in [*taxonomy.theme_ids(), UNCLASSIFIED]:
        if theme is not None and group != theme:
            continue
        members = [a for a in articles if group in a["themes"]]
        if members:
            groups.append({"theme": group, "libelle": labels[group], "articles": members})
    per_kind: dict[str, int] = {}
    for article in articles:
        for event in article["evenements"]:
            per_kind[event["nature"]] = per_kind.get(event["nature"], 0) + 1
    cover = coverage(corpus, knowledge, start)
    return {
        "niveau": level,
        "libelle": labels[level],
        "niveaux_suivis": levels,
        "theme": theme,
        "depuis": start,
        "total_articles": len(articles),
        "par_nature": per_kind,
        "themes": groups,
        "evolutions": _evolutions(knowledge, level, start, theme, lookup),
        "couverture": cover,
        "remarques": _remarks(cover),
    }
