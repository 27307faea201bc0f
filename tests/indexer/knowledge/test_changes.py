"""The change watch: article changes since a date from the real version histories, tagged by level."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers.corpus_subset import make_subset_corpus

from indexer.corpus.lookup import CorpusLookup
from indexer.errors import QfqError
from indexer.knowledge.changes import changes_report, lexlib_changes, parse_since, text_date
from indexer.knowledge.load import load_knowledge
from indexer.settings import Settings
from indexer.text.tagging import load_taxonomy

CC = "communaute-de-communes"


@pytest.fixture(scope="module")
def subset_lookup(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CorpusLookup:
    folder = make_subset_corpus(corpus_dir, tmp_path_factory.mktemp("subset-changes"))
    return CorpusLookup(Settings(corpus_dir=folder))


def _articles(report: dict) -> dict[str, dict]:
    return {a["article_id"]: a for group in report["themes"] for a in group["articles"]}


def test_the_cc_watch_since_2015_lists_l5214_16_with_its_amending_texts(subset_lookup: CorpusLookup) -> None:
    report = changes_report(load_knowledge(), load_taxonomy(), subset_lookup, None, CC, "2015-01-01")
    article = _articles(report)["cgct/L5214-16"]
    dates = [event["date"] for event in article["evenements"]]
    assert dates == sorted(dates, reverse=True) and min(dates) >= "2015-01-01"
    by_date = {event["date"]: event for event in article["evenements"]}
    # The version of 2015-08-09 is the NOTRe version; the one of 2018-01-01 re-lists eight texts but only
    # the new one is credited.
    assert any("2015-991" in text for text in by_date["2015-08-09"]["textes"])
    assert len(by_date["2018-01-01"]["textes"]) < 8 and by_date["2018-01-01"]["nature"] == "modifie"
    # LEGI lists the loi n° 2018-702 (3 August 2018) on the version of 2018-01-01: it is dated by the text.
    assert not any("2018-702" in text for text in by_date["2018-01-01"]["textes"])
    assert by_date["2018-08-03"]["date_estimee"] and "2018-702" in by_date["2018-08-03"]["textes"][0]
    assert CC in article["niveaux"] and article["url"].startswith("https://www.legifrance.gouv.fr/")
    # Grouped by theme: the article sits under each theme it is tagged with, themes in taxonomy order.
    themes = [group["theme"] for group in report["themes"]]
    assert "eau-assainissement" in themes and themes == [
        t for t in load_taxonomy().theme_ids() if t in themes
    ]
    assert report["total_articles"] == len(_articles(report))


def test_changes_before_the_date_are_left_out(subset_lookup: CorpusLookup) -> None:
    report = changes_report(load_knowledge(), load_taxonomy(), subset_lookup, None, CC, "2020-01-01")
    events = [e for a in _articles(report).values() for e in a["evenements"]]
    assert events and all(e["date"] >= "2020-01-01" for e in events)
    assert all(CC in a["niveaux"] or "epci-fp" in a["niveaux"] for a in _articles(report).values())


def test_evolutions_of_the_water_competence_follow_the_curated_history(subset_lookup: CorpusLookup) -> None:
    report = changes_report(
        load_knowledge(),
        load_taxonomy(),
        subset_lookup,
        subset_lookup,
        CC,
        "2015-01-01",
        "eau-assainissement",
    )
    water = [e for e in report["evolutions"] if e["competence"] == "cc-eau"]
    laws = [e["loi"]["cle"] for e in water]
    assert "eau-assainissement-2025" in laws and "engagement-proximite" in laws
    assert all(e["theme"] == "eau-assainissement" for e in report["evolutions"])
    assert water[0]["date"] >= water[-1]["date"]
    assert any("version du" in citation for e in water for citation in e["citations"])


def test_the_report_says_what_the_corpus_cannot_know(subset_lookup: CorpusLookup) -> None:
    report = changes_report(load_knowledge(), load_taxonomy(), subset_lookup, None, CC, "2015-01-01")
    cover = report["couverture"]
    assert cover["consolide_au"] == "2020-10-28"
    # The subset holds the REEN law (2021): the only later law of the corpus it can name.
    assert [law["cle"] for law in cover["lois_posterieures"]] == ["reen"]
    assert "2020-10-28" in report["remarques"][0] and "2021-1485" in report["remarques"][0]


def test_a_history_line_credits_new_texts_only() -> None:
    lines = [
        {"article": "X1", "legiarti": "1", "version_date": "2010-01-01", "change": "added", "text_changed": True,
         "amended_by": "Plusieurs textes", "version_links": {"Créé par": ["Loi n°2009-1 du 1er janvier 2009"]}},
        {"article": "X1", "legiarti": "1", "version_date": "2016-01-01", "change": "modified", "text_changed": True,
         "amended_by": "Plusieurs textes",
         "version_links": {"Modifié par": ["Loi n°2015-991 du 7 août 2015 - art. 64", "Loi n°2018-702 du 3 août 2018 - art. 3"],
                           "Créé par": ["Loi n°2009-1 du 1er janvier 2009"]}},
        {"article": "X1", "legiarti": "1", "version_date": "2017-01-01", "change": "modified", "text_changed": False,
         "amended_by": "Inconnu",
         "version_links": {"Abrogé par": ["Ordonnance n°2016-5 du 3 mars 2016 - art. 2"]}},
    ]  # fmt: skip
    changes = lexlib_changes(lines, "cgct", "codes/cgct.amendments.jsonl")
    assert [(c.date, c.kind, c.texts) for c in changes] == [
        ("2010-01-01", "cree", ("Loi n°2009-1 du 1er janvier 2009",)),
        ("2016-01-01", "modifie", ("Loi n°2015-991 du 7 août 2015 - art. 64",)),
        ("2018-08-03", "modifie", ("Loi n°2018-702 du 3 août 2018 - art. 3",)),  # listed early: its own date
        ("2016-03-03", "abroge", ("Ordonnance n°2016-5 du 3 mars 2016 - art. 2",)),
    ]
    assert [c.estimated_date for c in changes] == [False, False, True, True]


def test_dates_are_read_and_checked() -> None:
    assert text_date("Loi n°2019-1461 du 27 décembre 2019 - art. 14") == "2019-12-27"
    assert text_date("Ordonnance n°2015-1341 du 1er janvier 2016") == "2016-01-01"
    assert parse_since(None, today=date(2026, 12, 4)) == "2025-12-04"
    for bad in ("2015-13-01", "01/01/2015", "2015-02-30"):
        with pytest.raises(QfqError) as caught:
            parse_since(bad)
        assert caught.value.code == "date_invalide" and "AAAA-MM-JJ" in caught.value.message


@pytest.mark.parametrize(
    ("level", "theme", "code"), [("canton", None, "niveau_inconnu"), (CC, "loisirs", "theme_inconnu")]
)
def test_unknown_level_or_theme_is_refused(
    subset_lookup: CorpusLookup, level: str, theme: str | None, code: str
) -> None:
    with pytest.raises(QfqError) as caught:
        changes_report(load_knowledge(), load_taxonomy(), subset_lookup, None, level, "2015-01-01", theme)
    assert caught.value.code == code and caught.value.details["acceptes"]
