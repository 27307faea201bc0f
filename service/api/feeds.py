"""The change watch as an Atom feed (RFC 4287), written with the standard library's `xml.etree`.

One entry per dated change of an article (its theme as categories), one per curated evolution, and one that
says to what date the codes are consolidated and which laws of the corpus tell of later changes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
TAG_AUTHORITY = "tag:qui-fait-quoi,2026:"  # stable ids, independent of the host serving the feed
MAX_ENTRIES = 500


def _moment(day: str) -> str:
    """An RFC 3339 date-time from an ISO date (a version enters into force at the start of its day)."""
    return f"{day}T00:00:00Z"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _entry(
    feed: ET.Element,
    entry_id: str,
    title: str,
    day: str,
    link: str,
    summary: str,
    categories: list[tuple[str, str]],
) -> None:
    entry = _add(feed, "entry")
    _add(entry, "id", TAG_AUTHORITY + quote(entry_id, safe="/:@-._~"))
    _add(entry, "title", title)
    _add(entry, "updated", _moment(day))
    _add(entry, "link", href=link, rel="alternate")
    for term, label in categories:
        _add(entry, "category", term=term, label=label)
    _add(entry, "summary", summary, type="text")


def _article_entries(report: dict[str, Any], labels: dict[str, str]) -> list[tuple[str, dict, dict]]:
    """(date, article, event) of every change, each article once even when it has several themes."""
    seen: dict[str, dict[str, Any]] = {}
    for group in report["themes"]:
        for article in group["articles"]:
            seen.setdefault(article["article_id"], article)
    found = [(event["date"], article, event) for article in seen.values() for event in article["evenements"]]
    return sorted(found, key=lambda item: (item[0], item[1]["article_id"]), reverse=True)


def render_atom(report: dict[str, Any], self_url: str, page_url: str, labels: dict[str, str]) -> bytes:
    """The change report of one level (and theme) as an Atom feed.

    Args:
        report: `indexer.knowledge.changes.changes_report` output.
        self_url: the feed's own address (rel="self").
        page_url: the HTML page showing the same changes (rel="alternate", link of entries without one).
        labels: taxonomy labels of levels and themes.

    Returns:
        UTF-8 XML, newest entries first, at most `MAX_ENTRIES` article changes.
    """
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "fr"})
    scope = report["niveau"] + (f"/{report['theme']}" if report["theme"] else "")
    theme_title = f" — {labels.get(report['theme'], report['theme'])}" if report["theme"] else ""
    _add(feed, "id", f"{TAG_AUTHORITY}changements/{scope}")
    _add(feed, "title", f"Qui fait quoi : changements pour {report['libelle']}{theme_title}")
    changes = _article_entries(report, labels)
    cover = report["couverture"]
    dates = [day for day, _, _ in changes] + [e["date"] for e in report["evolutions"]]
    dates += [law["date"] for law in cover["lois_posterieures"]]
    _add(feed, "updated", _moment(max(dates, default=report["depuis"])))
    _add(feed, "link", href=self_url, rel="self", type="application/atom+xml")
    _add(feed, "link", href=page_url, rel="alternate", type="text/html")
    _add(_add(feed, "author"), "name", "Qui fait quoi")
    _add(
        feed,
        "subtitle",
        f"Articles concernant ce niveau créés, modifiés ou abrogés depuis le {report['depuis']}, d'après les "
        "historiques de versions du corpus ; évolutions des connaissances curées. "
        + " ".join(report["remarques"]),
    )
    if cover["consolide_au"]:
        laws = cover["lois_posterieures"]
        _entry(
            feed,
            f"couverture/{cover['consolide_au']}",
            f"Codes consolidés au {cover['consolide_au']} : changements postérieurs connus par {len(laws)} loi(s)",
            max([cover["consolide_au"], *(law["date"] for law in laws)]),
            page_url,
            report["remarques"][0] if report["remarques"] else "",
            [("couverture", "Couverture du corpus")],
        )
    for evolution in report["evolutions"]:
        law = evolution["loi"]
        summary = f"{evolution['resume'] or evolution['intitule']} Base : {', '.join(evolution['base'])}"
        if evolution["citations"]:
            summary += f" ({'; '.join(evolution['citations'])})"
        _entry(
            feed,
            f"evolution/{evolution['competence']}/{evolution['date']}/{law['cle']}",
            f"{evolution['intitule']} : {law['nom_court']} ({evolution['date']})",
            evolution["date"],
            page_url,
            summary + ".",
            [(evolution["theme"], labels.get(evolution["theme"], evolution["theme"]))],
        )
    for day, article, event in changes[:MAX_ENTRIES]:
        texts = " ; ".join(event["textes"]) or "texte non nommé dans l'historique"
        estimated = " (date du texte, l'historique ne date pas l'abrogation)" if event["date_estimee"] else ""
        _entry(
            feed,
            f"article/{article['article_id']}/{day}/{event['nature']}",
            f"{article['nom_court']}, art. {article['article']} : {event['nature_libelle']} le {day}",
            day,
            article["url"] or page_url,
            f"{article['nom_court']}, art. {article['article']}, version du {day}{estimated} : "
            f"{event['nature_libelle']} par {texts}. Source : {event['source']}.",
            [(theme, labels.get(theme, theme)) for theme in article["themes"]],
        )
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
