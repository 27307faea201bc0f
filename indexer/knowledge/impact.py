"""What a law changed in the codes: articles created, modified or abrogated, from the corpus version histories.

Two sources: the lexlib histories `codes/<key>.amendments.jsonl` (one line per article version, with the commit
author and the version's "Créé par / Modifié par / Abrogé par…" lists) and the `lienModifications` of the
Légifrance (PISTE) tree of the CRPA. A law is recognised by its number ("2015-991") in either.

LEGI repeats in a version's lists texts that changed earlier versions, sometimes all of them (the cgct L5214-16
version of 2018-01-01 lists eight texts). A version is credited to the law when the law's entry is new compared
with the previous version; when a version re-lists two or more entries of older versions (a cumulative list),
entries already seen earlier are not credited again. A deferred provision that comes back in a later version
alone (NOTRe art. 64 in the L5214-16 version of 2020-01-01) is therefore still credited.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexer.corpus.manifest import load_manifest
from indexer.errors import QfqError
from indexer.knowledge.lookup import ArticleSource, PassageLookup
from indexer.knowledge.model import Knowledge, Law
from indexer.models import Document
from indexer.text.dates import epoch_ms_to_iso
from indexer.text.tagging import load_taxonomy, tag_article

LINK_KINDS = {
    "Créé par": "cree",
    "Modifié par": "modifie",
    "Abrogé par": "abroge",
    "Transféré par": "transfere",
    "Codifié par": "codifie",
}
CHANGE_KINDS = {"added": "cree", "modified": "modifie", "removed": "abroge"}
PISTE_KINDS = {
    "CREE": "cree",
    "MODIFIE": "modifie",
    "ABROGE": "abroge",
    "TRANSFERE": "transfere",
    "CODIFICATION": "codifie",
}
KIND_LABELS = {
    "cree": "créé",
    "modifie": "modifié",
    "abroge": "abrogé",
    "transfere": "transféré",
    "codifie": "codifié",
}
UNCLASSIFIED = "non-classe"


@dataclass(frozen=True)
class ImpactEvent:
    """One change of one article credited to the law."""

    date: str  # date the version enters into force
    kind: str  # cree, modifie, abroge, transfere, codifie
    text: str  # the amending text as the source writes it
    source: str  # "historique" (lexlib list), "auteur" (lexlib commit author) or "legifrance" (PISTE)
    text_changed: bool = True  # False when only the version's list of texts changed
    estimated_date: bool = False  # the source gave an earlier version's date: the law's date is shown

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "nature": self.kind,
            "nature_libelle": KIND_LABELS[self.kind],
            "texte": self.text,
            "source": self.source,
            "texte_modifie": self.text_changed,
            "date_estimee": self.estimated_date,
        }


@dataclass
class ArticleImpact:
    """The changes a law made to one article, with the article's tags."""

    doc_key: str
    article: str
    events: list[ImpactEvent] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    status: str = ""  # status of the article in the corpus today ("" when its file is gone)

    @property
    def article_id(self) -> str:
        return f"{self.doc_key}/{self.article}"

    def kinds(self) -> list[str]:
        return list(dict.fromkeys(event.kind for event in self.events))

    def to_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "document": self.doc_key,
            "article": self.article,
            "statut": self.status or None,
            "natures": self.kinds(),
            "premiere_date": min((e.date for e in self.events), default=None),
            "evenements": [event.to_dict() for event in self.events],
            "niveaux": self.levels,
            "themes": self.themes,
        }


@dataclass
class LawImpact:
    """Every article a law changed in the corpus codes that carry a history."""

    law: Law
    articles: list[ArticleImpact]
    sources: list[str]

    def for_level(self, level: str | None) -> list[ArticleImpact]:
        if level is None:
            return list(self.articles)
        return [a for a in self.articles if level in (a.levels or [UNCLASSIFIED])]


# --- lexlib histories -----------------------------------------------------------------------------


def _entries(version_links: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(kind, text) for kind, texts in (version_links or {}).items() for text in texts}


def _version_events(
    line: dict[str, Any], previous: set[tuple[str, str]], older_texts: set[str], pattern: re.Pattern[str]
) -> list[ImpactEvent]:
    """Events of one version: the law's entries new in its lists, else the commit author when it is the law."""
    entries = _entries(line.get("version_links") or {})
    previous_texts = {text for _, text in previous}
    # A text may move from one list to another between versions: repeats are judged on the text.
    repeated = {text for _, text in entries if text not in previous_texts and text in older_texts}
    cumulative = len(repeated) >= 2
    change = str(line.get("change", ""))
    when = str(line.get("version_date", ""))
    text_changed = bool(line.get("text_changed", True))
    found = []
    for kind, text in sorted(entries):
        if kind not in LINK_KINDS or not pattern.search(text):
            continue
        seen = (kind, text) in previous if kind == "Abrogé par" else text in previous_texts
        is_new = not seen and not (cumulative and text in older_texts)
        ends_article = change == "removed" and kind in ("Abrogé par", "Transféré par")
        if is_new or ends_article:
            found.append(ImpactEvent(when, LINK_KINDS[kind], text, "historique", text_changed))
    author = str(line.get("amended_by", ""))
    if not found and pattern.search(author):
        found.append(ImpactEvent(when, CHANGE_KINDS.get(change, "modifie"), author, "auteur", text_changed))
    return found


def history_events(lines: Iterable[dict[str, Any]], law: Law) -> dict[str, list[ImpactEvent]]:
    """Events of one law in a lexlib history, per article number.

    Args:
        lines: the history lines of one code, in commit order.
        law: the law looked for.

    Returns:
        article number -> events, in date order.
    """
    pattern = law.pattern()
    versions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        versions[(str(line["article"]), str(line["legiarti"]))].append(line)
    events: dict[str, list[ImpactEvent]] = defaultdict(list)
    for (article, _), history in versions.items():
        if not any(_mentions(line, pattern) for line in history):
            continue
        previous: set[tuple[str, str]] = set()
        older_texts: set[str] = set()
        for line in history:
            events[article].extend(_version_events(line, previous, older_texts, pattern))
            older_texts |= {text for _, text in previous}
            previous = _entries(line.get("version_links") or {})
    dated = {article: _date_against_law(found, law) for article, found in events.items()}
    return {article: _dedupe(found) for article, found in dated.items() if found}


def _date_against_law(events: list[ImpactEvent], law: Law) -> list[ImpactEvent]:
    """Events dated before the law was signed, read for what they are.

    LEGI lists on a version the texts that will abrogate, move or change it later: "Abrogé par" and
    "TRANSFERE:" entries take the law's date (flagged as estimated); "(VD)" entries (deferred version
    announced) are dropped; other early entries are kept, as retroactive entries into force.
    """
    kept = []
    for event in events:
        if event.date >= law.date:
            kept.append(event)
        elif event.kind in ("abroge", "transfere") or event.text.startswith(("TRANSFERE:", "DEPLACE:")):
            kept.append(replace(event, date=law.date, estimated_date=True))
        elif "(VD)" not in event.text:
            kept.append(event)
    return kept


def _mentions(line: dict[str, Any], pattern: re.Pattern[str]) -> bool:
    if pattern.search(str(line.get("amended_by", ""))):
        return True
    return any(pattern.search(text) for texts in (line.get("version_links") or {}).values() for text in texts)


def _dedupe(events: list[ImpactEvent]) -> list[ImpactEvent]:
    # One abrogation per text is enough: the "Abrogé par" list may show up in the last versions and the removal.
    kept: dict[tuple[str, str, str], ImpactEvent] = {}
    for event in sorted(events, key=lambda e: (e.date, e.kind, e.text)):
        key = (event.kind, event.text, "" if event.kind == "abroge" else event.date)
        kept.setdefault(key, event)
    return sorted(kept.values(), key=lambda e: (e.date, e.kind, e.text))


_LINE_KEY = re.compile(r'"article": "(?P<article>[^"]*)", "legiarti": "(?P<legiarti>[^"]*)"')


def read_history(path: Path, law: Law) -> Iterator[dict[str, Any]]:
    """Lines of a lexlib history for the article versions whose history mentions the law's number.

    The file is scanned as text first (cheap), and only the histories concerned are decoded.
    """
    raw = path.read_text(encoding="utf-8").splitlines()
    wanted = set()
    for line in raw:
        if law.number in line:
            key = _LINE_KEY.search(line)
            wanted.add(key.group(0) if key else None)
    for line in raw:
        if not line.strip():
            continue
        key = _LINE_KEY.search(line)
        if key is None or key.group(0) in wanted or None in wanted:
            yield json.loads(line)


# --- Légifrance (PISTE) tree ---------------------------------------------------------------------


def piste_articles(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The article data of a Légifrance (PISTE) tree, depth first."""
    for child in node.get("children") or []:
        if isinstance(child, dict):
            if child.get("type") == "article":
                yield child.get("data") or {}
            else:
                yield from piste_articles(child)


def piste_events(tree: dict[str, Any], law: Law) -> dict[str, list[ImpactEvent]]:
    """Events of one law in a Légifrance tree, per article number, from `lienModifications`."""
    pattern = law.pattern()
    events: dict[str, list[ImpactEvent]] = defaultdict(list)
    for data in piste_articles(tree):
        number = str(data.get("num") or "").strip()
        for link in data.get("lienModifications") or []:
            title = str(link.get("textTitle") or "")
            kind = PISTE_KINDS.get(str(link.get("linkType")))
            if number and kind and pattern.search(title):
                when = str(link.get("dateDebutCible") or "") or epoch_ms_to_iso(data.get("dateDebut"))
                events[number].append(
                    ImpactEvent(date=when, kind=kind, text=title.strip(), source="legifrance")
                )
    return {number: _dedupe(found) for number, found in events.items()}


# --- whole corpus ---------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _raw_events(corpus_dir: Path, law: Law) -> tuple[tuple[str, str, tuple[ImpactEvent, ...]], ...]:
    found: list[tuple[str, str, tuple[ImpactEvent, ...]]] = []
    for doc in load_manifest(corpus_dir):
        per_article: dict[str, list[ImpactEvent]] = {}
        if doc.format == "lexlib-markdown" and doc.amendments:
            per_article = history_events(read_history(corpus_dir / doc.amendments, law), law)
        elif doc.format == "legi-piste-json":
            tree = json.loads((corpus_dir / doc.path).read_text(encoding="utf-8"))
            per_article = piste_events(tree, law)
        for article in sorted(per_article, key=_natural):
            found.append((doc.key, article, tuple(per_article[article])))
    return tuple(found)


def history_sources(documents: Iterable[Document]) -> list[str]:
    """Corpus files holding version histories: lexlib `amendments` files and PISTE trees."""
    sources = []
    for doc in documents:
        if doc.format == "lexlib-markdown" and doc.amendments:
            sources.append(doc.amendments)
        elif doc.format == "legi-piste-json":
            sources.append(doc.path)
    return sources


def law_impact(law: Law, corpus: ArticleSource, lookup: PassageLookup | None = None) -> LawImpact:
    """Articles of the corpus codes the law created, modified, transferred or abrogated, tagged.

    Args:
        law: the law.
        corpus: corpus access (histories, and headings of articles whose file is gone).
        lookup: where article tags come from (a bundle); the corpus when None.

    Returns:
        The impact, articles in document then natural number order.
    """
    lookup = lookup or corpus
    taxonomy = load_taxonomy()
    articles = []
    for doc_key, article, events in _raw_events(corpus.corpus_dir, law):
        impact = ArticleImpact(doc_key=doc_key, article=article, events=list(events))
        passages = lookup.passages_of_article(doc_key, article)
        if passages:
            impact.levels = list(dict.fromkeys(level for p in passages for level in p.levels))
            impact.themes = list(dict.fromkeys(theme for p in passages for theme in p.themes))
            impact.status = str(passages[0].status)
        else:  # the file is gone (removed version): tag from the headings alone
            tags = tag_article("", corpus.heading_path(doc_key, article), taxonomy)
            impact.levels, impact.themes = tags.levels, tags.themes
        articles.append(impact)
    return LawImpact(law=law, articles=articles, sources=history_sources(corpus.documents.values()))


def _natural(number: str) -> tuple[Any, ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", number))


def check_law(knowledge: Knowledge, key: str) -> Law:
    """The law of `key`, or a French error listing the known keys.

    Raises:
        QfqError: code `loi_inconnue`.
    """
    law = knowledge.laws.get(key)
    if law is None:
        raise QfqError(
            f"Loi inconnue : « {key} ». Lois connues : {', '.join(knowledge.laws)}.",
            code="loi_inconnue",
            details={"champ": "key", "acceptes": list(knowledge.laws)},
        )
    return law


def impact_report(
    knowledge: Knowledge,
    key: str,
    corpus: ArticleSource,
    lookup: PassageLookup | None = None,
    level: str | None = None,
) -> dict[str, Any]:
    """What a law changed, grouped by level then theme, in JSON form.

    Args:
        knowledge: the curated knowledge (law keys and numbers).
        key: the law key, e.g. `notre`.
        corpus: corpus access (histories).
        lookup: where article tags come from (a bundle); the corpus when None.
        level: keep only articles tagged with this level (taxonomy id).

    Raises:
        QfqError: unknown law (`loi_inconnue`) or level (`niveau_inconnu`).
    """
    law = check_law(knowledge, key)
    taxonomy = load_taxonomy()
    labels = {**taxonomy.labels(), UNCLASSIFIED: "Sans niveau ou thème reconnu"}
    if level is not None and level not in taxonomy.level_ids():
        raise QfqError(
            f"Niveau inconnu : « {level} ». Niveaux acceptés : {', '.join(taxonomy.level_ids())}.",
            code="niveau_inconnu",
            details={"champ": "niveau", "acceptes": taxonomy.level_ids()},
        )
    impact = law_impact(law, corpus, lookup)
    articles = impact.for_level(level)
    levels = [level] if level else [*taxonomy.level_ids(), UNCLASSIFIED]
    groups = []
    for group_level in levels:
        members = [a for a in articles if group_level in (a.levels or [UNCLASSIFIED])]
        if not members:
            continue
        themes = []
        for theme in [*taxonomy.theme_ids(), UNCLASSIFIED]:
            in_theme = [a.to_dict() for a in members if theme in (a.themes or [UNCLASSIFIED])]
            if in_theme:
                themes.append({"theme": theme, "libelle": labels[theme], "articles": in_theme})
        groups.append(
            {
                "niveau": group_level,
                "libelle": labels[group_level],
                "total_articles": len(members),
                "themes": themes,
            }
        )
    per_kind: dict[str, int] = {}
    for article in articles:
        for kind in article.kinds():
            per_kind[kind] = per_kind.get(kind, 0) + 1
    remarks = []
    stale = [doc for doc in corpus.documents.values() if doc.format == "lexlib-markdown" and doc.amendments]
    consolidated = min((doc.version_date for doc in stale), default="")
    if consolidated and law.date > consolidated:
        remarks.append(
            f"Les codes CGCT, environnement et transports du corpus sont consolidés au {consolidated} : les "
            f"modifications faites par cette loi du {law.date} n'y figurent pas ; seul le CRPA (version "
            "Légifrance) peut en garder la trace."
        )
    if not impact.articles:
        remarks.append("Aucune trace de cette loi dans les historiques de versions du corpus.")
    remarks.append(
        "Les codes au format Ansvar (énergie, urbanisme, CPCE) n'ont pas d'historique : ils ne sont pas couverts."
    )
    return {
        "loi": law.to_dict(),
        "niveau": level,
        "sources": impact.sources,
        "total_articles": len(articles),
        "par_nature": per_kind,
        "niveaux": groups,
        "remarques": remarks,
    }
