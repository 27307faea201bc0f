"""Curated knowledge: data checked against the real corpus and the taxonomy, the rule engine, profiles, law impact."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from indexer.corpus.lookup import CorpusLookup
from indexer.corpus.parsers import parse_document
from indexer.corpus.passages import pick_in_force
from indexer.knowledge.citations import _folded_with_map, cite, excerpt, locate
from indexer.knowledge.impact import history_events, impact_report, law_impact, piste_events
from indexer.knowledge.load import KnowledgeError, load_knowledge
from indexer.knowledge.model import (
    CATEGORIES,
    PROFILE_TYPES,
    AllOf,
    AnyOf,
    Comparison,
    Knowledge,
    Law,
    LegalBasis,
)
from indexer.knowledge.profile import ProfileError, evaluate_obligation, evaluate_profile, make_profile
from indexer.knowledge.rules import Outcome, RuleSyntaxError, evaluate, parse_condition
from indexer.models import Article, Document, Status
from indexer.settings import Settings
from indexer.text.normalize import fold
from indexer.text.tagging import load_taxonomy

ISSUE_LEVELS = (
    "commune",
    "communaute-de-communes",
    "communaute-d-agglomeration",
    "communaute-urbaine",
    "metropole",
    "metropole-de-lyon",
    "metropole-du-grand-paris",
    "metropole-aix-marseille-provence",
    "departement",
    "region",
)
FACTS = {"type": "type", "population": "population", "agents": "agents", "date": "date", "site": "site ?"}
GROUPS = {"epci": ("communaute-de-communes", "communaute-d-agglomeration")}


@pytest.fixture(scope="session")
def knowledge(corpus_documents: dict[str, Document]) -> Knowledge:
    return load_knowledge(documents=corpus_documents)


@pytest.fixture(scope="session")
def lookup(corpus_dir: Path) -> CorpusLookup:
    return CorpusLookup(Settings(corpus_dir=corpus_dir))


@pytest.fixture(scope="session")
def cited_articles(knowledge: Knowledge, lookup: CorpusLookup) -> dict[tuple[str, str], Article]:
    """The in-force version of every cited article, read file by file (lexlib) or document by document."""
    found = {}
    for basis in knowledge.bases():
        versions = pick_in_force(lookup.articles(basis.doc_key, basis.article))
        if versions:
            found[(basis.doc_key, basis.article)] = versions[0]
    return found


def _verdict(knowledge: Knowledge, obligation_id: str, **profile: Any) -> Outcome:
    obligation = next(o for o in knowledge.obligations if o.id == obligation_id)
    return evaluate_obligation(obligation, knowledge, make_profile(knowledge, **profile))[0].outcome


# --- the data against the corpus and the taxonomy -------------------------------------------------


def test_every_legal_basis_exists_and_is_in_force(
    knowledge: Knowledge, cited_articles: dict[tuple[str, str], Article]
) -> None:
    problems = []
    for basis in knowledge.bases():
        article = cited_articles.get((basis.doc_key, basis.article))
        if article is None:
            problems.append(f"{basis.ref} absent du corpus")
        elif article.status is not Status.EN_VIGUEUR:
            problems.append(f"{basis.ref} : {article.status}")
        elif basis.anchor and locate(article.text, basis.anchor) is None:
            problems.append(f"{basis.ref} : repère « {basis.anchor} » introuvable")
    assert not problems, problems
    assert len(knowledge.bases()) > 100


@pytest.mark.slow
def test_article_reader_agrees_with_the_parsers(
    knowledge: Knowledge,
    cited_articles: dict[tuple[str, str], Article],
    corpus_dir: Path,
    corpus_documents: dict[str, Document],
) -> None:
    """The file-by-file reader gives the text, status and headings the full parse of each document gives."""
    for key in sorted({basis.doc_key for basis in knowledge.bases()}):
        parsed = {a.number: a for a in pick_in_force(parse_document(corpus_documents[key], corpus_dir))}
        for (doc_key, number), article in cited_articles.items():
            if doc_key == key:
                expected = parsed[number]
                fields = (
                    "text",
                    "status",
                    "heading_path",
                    "legi_id",
                    "date_debut",
                    "amending_texts",
                    "links",
                )
                assert [getattr(article, f) for f in fields] == [getattr(expected, f) for f in fields], (
                    f"{key}/{number}"
                )


def test_levels_themes_and_categories_exist_in_the_taxonomy(knowledge: Knowledge) -> None:
    taxonomy = load_taxonomy()
    for competence in knowledge.competences:
        assert set(competence.levels) <= set(taxonomy.level_ids()), competence.id
        assert competence.theme in taxonomy.theme_ids(), competence.id
        assert competence.category in CATEGORIES, competence.id
    for obligation in knowledge.obligations:
        assert obligation.theme in taxonomy.theme_ids(), obligation.id
    assert set(PROFILE_TYPES) <= set(taxonomy.level_ids())
    for members in knowledge.groups.values():
        assert set(members) <= set(PROFILE_TYPES)


def test_every_level_of_the_issue_has_competences(knowledge: Knowledge) -> None:
    for level in ISSUE_LEVELS:
        assert len(knowledge.competences_of(level)) >= 4, level
    used = {c.category for c in knowledge.competences}
    assert used == set(CATEGORIES)


def test_laws_and_changes_are_dated_and_known(knowledge: Knowledge) -> None:
    for competence in knowledge.competences:
        assert competence.since >= "1996-01-01"
        for change in competence.changes:
            assert change.law in knowledge.laws and change.date >= knowledge.laws[change.law].date, (
                competence.id
            )
    for law in knowledge.laws.values():
        assert law.document == "" or law.document == law.key


def test_water_for_communautes_de_communes_tells_the_whole_story(knowledge: Knowledge) -> None:
    water = next(c for c in knowledge.competences if c.id == "cc-eau")
    assert [(c.date[:4], c.law) for c in water.changes] == [
        ("2015", "notre"),
        ("2018", "loi-2018-702"),
        ("2019", "engagement-proximite"),
        ("2025", "eau-assainissement-2025"),
    ]
    assert "2025-327" in water.note and water.basis[0].ref == "cgct/L5214-16"


def test_law_forms_name_their_law_and_no_other(knowledge: Knowledge) -> None:
    for law in knowledge.laws.values():
        assert law.forms, law.key
        for form in law.forms:
            matching = [other.key for other in knowledge.laws.values() if other.pattern().search(form)]
            assert matching == [law.key], (form, matching)


def test_law_number_does_not_match_a_longer_number() -> None:
    notre = Law("notre", "2015-991", "2015-08-07", "NOTRe", "t")
    assert notre.pattern().search("Loi n°2015-991 du 7 août 2015 - art. 64")
    assert notre.pattern().search("LOI n° 2015-991")
    assert not notre.pattern().search("Loi n°2015-9910 du 1er janvier 2016")
    assert not notre.pattern().search("Loi n°2015-992 du 17 août 2015")
    assert not notre.pattern().search("Décret n°12015-991")


# --- loading errors -------------------------------------------------------------------------------


def _write_knowledge(folder: Path, competences: str, obligations: str = "") -> Path:
    (folder / "competences").mkdir(parents=True)
    (folder / "laws.toml").write_text(
        '[[lois]]\ncle = "notre"\nnumero = "2015-991"\ndate = 2015-08-07\nnom_court = "NOTRe"\ntitre = "Loi"\n',
        encoding="utf-8",
    )
    (folder / "obligations.toml").write_text(obligations, encoding="utf-8")
    (folder / "competences" / "x.toml").write_text(competences, encoding="utf-8")
    return folder


def test_invalid_entries_are_all_reported_in_french(tmp_path: Path) -> None:
    folder = _write_knowledge(
        tmp_path,
        """
[[competences]]
id = "a"
niveaux = ["canton"]
intitule = "x"
categorie = "optionnelle"
theme = "peche"
base = ["cgct:L1"]
depuis = "2015-13-01"
loi = "maptam"

[[competences]]
id = "a"
niveaux = ["commune"]
intitule = "y"
categorie = "obligatoire"
theme = "dechets"
base = ["cgct/L2224-13"]
depuis = 2015-01-01
loi = "notre"
""",
        '[[obligations]]\nid = "o"\nintitule = "o"\ntheme = "dechets"\nbase = ["cgct/L1"]\nloi = "notre"\n'
        'depuis = 2015-01-01\napplicable_si = "taille >= 3"\n',
    )
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder, documents=["cgct"])
    problems = caught.value.details["problemes"]
    text = "\n".join(problems)
    for expected in (
        "niveau « canton » absent de la taxonomie",
        "catégorie « optionnelle » inconnue",
        "thème « peche » absent de la taxonomie",
        "base légale « cgct:L1 » mal formée",
        "« depuis » absent ou invalide",
        "loi « maptam » absente de laws.toml",
        "identifiant « a » en double",
        "donnée inconnue « taille »",
    ):
        assert expected in text, (expected, problems)
    assert caught.value.code == "connaissances_invalides"


def test_a_basis_outside_the_corpus_is_refused(tmp_path: Path) -> None:
    folder = _write_knowledge(
        tmp_path,
        '[[competences]]\nid = "a"\nniveaux = ["commune"]\nintitule = "x"\ncategorie = "obligatoire"\n'
        'theme = "dechets"\nbase = ["code-civil/1240"]\ndepuis = 2015-01-01\nloi = "notre"\n',
    )
    assert load_knowledge(folder).competences[0].basis[0].ref == "code-civil/1240"
    with pytest.raises(KnowledgeError, match="document « code-civil » absent du corpus"):
        load_knowledge(folder, documents=["cgct"])


# --- rule engine ----------------------------------------------------------------------------------


def _parse(spec: Any) -> Any:
    return parse_condition(spec, facts=FACTS, groups=GROUPS, types=PROFILE_TYPES)


def test_tests_are_parsed_with_groups_and_typed_values() -> None:
    assert _parse("population >= 3 500") == Comparison("population", ">=", 3500, "population >= 3 500")
    test = _parse("type in [commune, epci]")
    assert test.value == ("commune", "communaute-de-communes", "communaute-d-agglomeration")
    assert _parse("type = region").value == ("region",) and _parse("type != region").op == "not in"
    assert _parse("site").value is True and _parse("site = non").value is False
    assert _parse("date < 2021-01-01").value == "2021-01-01"
    combined = _parse({"any": ["population > 1", {"all": ["agents >= 2", "site"]}], "motif": "m"})
    assert isinstance(combined, AnyOf) and isinstance(combined.parts[1], AllOf) and combined.reason == "m"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("taille >= 3", "donnée inconnue « taille »"),
        ("type in [canton]", "type inconnu « canton »"),
        ("type >= commune", "impossible sur le type"),
        ("population >= beaucoup", "nombre entier attendu"),
        ("population in [1, 2]", "impossible sur un nombre"),
        ("date >= 2021-02-30", "date impossible"),
        ("date >= demain", "date AAAA-MM-JJ"),
        ("site >= oui", "n'admet que = ou !="),
        ("site = peut-être", "valeur oui/non attendue"),
        ({"all": []}, "liste non vide"),
        ({"all": ["site"], "motif": "x"}, "« motif » n'est admis"),
        ({"test": "site", "poids": 2}, "clé(s) inconnue(s)"),
        (42, "condition illisible"),
    ],
)
def test_malformed_conditions_are_refused_in_french(spec: Any, message: str) -> None:
    with pytest.raises(RuleSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _parse(spec)


def test_three_valued_logic() -> None:
    condition = _parse({"all": ["type in [commune]", {"test": "population >= 3500", "motif": "trop petit"}]})
    applies = evaluate(condition, {"type": "commune", "population": 3500})
    assert applies.outcome is Outcome.APPLIES and applies.held == ["type in [commune]", "population >= 3500"]
    small = evaluate(condition, {"type": "commune", "population": 3499})
    assert small.outcome is Outcome.DOES_NOT_APPLY and small.reasons == ["trop petit"]
    unknown = evaluate(condition, {"type": "commune"})
    assert unknown.outcome is Outcome.UNDETERMINED and unknown.missing == ["population"]
    # A failing part decides `all` even when another part is unknown; a holding part decides `any`.
    assert evaluate(condition, {"type": "region"}).outcome is Outcome.DOES_NOT_APPLY
    either = _parse({"any": ["type in [region]", "population > 10"]})
    assert evaluate(either, {"type": "region"}).outcome is Outcome.APPLIES
    assert evaluate(either, {"type": "commune"}).missing == ["population"]
    failed = evaluate(either, {"type": "commune", "population": 5})
    assert failed.outcome is Outcome.DOES_NOT_APPLY
    assert "population de 5 habitants : la condition est > 10" in failed.reasons[0]


fact_values = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(PROFILE_TYPES),
        "population": st.integers(0, 3_000_000),
        "agents": st.integers(0, 20_000),
        "date": st.dates(date(2000, 1, 1), date(2035, 12, 31)).map(date.isoformat),
        "criteria": st.dictionaries(
            st.sampled_from(
                [
                    "site_internet",
                    "decisions_algorithmiques",
                    "aom",
                    "agglomeration_100000",
                    "qualite_air_non_respectee",
                    "competence_dechets",
                    "service_eau_assainissement",
                    "reseau_chaleur",
                    "porte_sdtan",
                    "zone_montagne",
                    "commune_membre_3500",
                    "couvert_ppa",
                    "competence_transports_ou_amenagement",
                ]
            ),
            st.booleans(),
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(known=fact_values, filler=st.data())
def test_more_information_never_reverses_a_decided_verdict(
    knowledge: Knowledge, known: dict, filler: Any
) -> None:
    """Kleene monotonicity: filling the missing inputs of a decided verdict never changes it."""
    base = {"type": "commune", **known}
    partial = make_profile(
        knowledge,
        base["type"],
        base.get("population"),
        base.get("agents"),
        base.get("date"),
        base.get("criteria"),
    )
    complete = make_profile(
        knowledge,
        base["type"],
        base.get("population", filler.draw(st.integers(0, 3_000_000))),
        base.get("agents", filler.draw(st.integers(0, 20_000))),
        base.get("date", "2026-06-01"),
        {cid: filler.draw(st.booleans()) for cid in knowledge.criteria} | dict(base.get("criteria", {})),
    )
    for obligation in knowledge.obligations:
        before = evaluate_obligation(obligation, knowledge, partial)[0]
        after = evaluate_obligation(obligation, knowledge, complete)[0]
        assert after.outcome is not Outcome.UNDETERMINED
        if before.outcome is not Outcome.UNDETERMINED:
            assert after.outcome is before.outcome, obligation.id
        else:
            assert before.missing


# --- thresholds, property-tested at their edges ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(population=st.integers(0, 2_000_000))
@example(population=3499)
@example(population=3500)
@example(population=3501)
def test_open_data_starts_at_3500_inhabitants_for_a_commune(knowledge: Knowledge, population: int) -> None:
    outcome = _verdict(knowledge, "donnees-ouvertes", type="commune", population=population, agents=200)
    assert outcome is (Outcome.APPLIES if population >= 3500 else Outcome.DOES_NOT_APPLY)


@settings(max_examples=200, deadline=None)
@given(
    agents=st.integers(0, 50_000), kind=st.sampled_from(["commune", "region", "communaute-d-agglomeration"])
)
@example(agents=49, kind="commune")
@example(agents=50, kind="commune")
@example(agents=51, kind="commune")
def test_open_data_starts_at_50_agents(knowledge: Knowledge, agents: int, kind: str) -> None:
    outcome = _verdict(knowledge, "donnees-ouvertes", type=kind, population=100_000, agents=agents)
    assert outcome is (Outcome.APPLIES if agents >= 50 else Outcome.DOES_NOT_APPLY)


def test_open_data_population_rule_only_binds_collectivites_territoriales(knowledge: Knowledge) -> None:
    assert (
        _verdict(knowledge, "donnees-ouvertes", type="syndicat", population=900, agents=60) is Outcome.APPLIES
    )
    missing = evaluate_obligation(
        next(o for o in knowledge.obligations if o.id == "donnees-ouvertes"),
        knowledge,
        make_profile(knowledge, "commune", population=8000),
    )[0]
    assert missing.outcome is Outcome.UNDETERMINED and missing.missing == ["agents"]
    small = evaluate_obligation(
        next(o for o in knowledge.obligations if o.id == "donnees-ouvertes"),
        knowledge,
        make_profile(knowledge, "commune", population=3499, agents=10),
    )[0]
    assert any("3 500" in reason for reason in small.reasons) and any("50 agents" in r for r in small.reasons)


@pytest.mark.parametrize(
    ("obligation", "kind", "threshold", "strict"),
    [
        ("strategie-numerique-responsable", "commune", 50_000, True),
        ("strategie-numerique-responsable", "communaute-d-agglomeration", 50_000, True),
        ("pcaet", "communaute-de-communes", 20_000, True),
        ("rapport-egalite-femmes-hommes", "commune", 20_000, True),
        ("commission-accessibilite", "commune", 5_000, False),
        ("bilan-ges", "commune", 50_000, True),
        ("rapport-developpement-durable", "metropole", 50_000, True),
        ("transmission-electronique-actes-communes", "commune", 50_000, True),
        ("teleprocedure-urbanisme", "commune", 3_500, True),
        ("site-cineraire", "commune", 2_000, False),
        ("debat-orientation-budgetaire", "commune", 3_500, False),
    ],
)
@settings(max_examples=60, deadline=None)
@given(offset=st.integers(-2_000, 2_000))
@example(offset=-1)
@example(offset=0)
@example(offset=1)
def test_population_thresholds_follow_the_wording(
    knowledge: Knowledge, obligation: str, kind: str, threshold: int, strict: bool, offset: int
) -> None:
    """« plus de N » excludes N itself; « N habitants et plus » includes it."""
    population = threshold + offset
    outcome = _verdict(knowledge, obligation, type=kind, population=population, agents=100, date="2026-01-01")
    subject = population > threshold if strict else population >= threshold
    assert outcome is (Outcome.APPLIES if subject else Outcome.DOES_NOT_APPLY)


@settings(max_examples=100, deadline=None)
@given(day=st.dates(date(2021, 1, 1), date(2027, 12, 31)))
@example(day=date(2024, 12, 31))
@example(day=date(2025, 1, 1))
@example(day=date(2025, 1, 2))
@example(day=date(2021, 11, 16))
@example(day=date(2021, 11, 17))
def test_deadlines_and_start_dates_around_the_profile_date(knowledge: Knowledge, day: date) -> None:
    obligation = next(o for o in knowledge.obligations if o.id == "strategie-numerique-responsable")
    profile = make_profile(knowledge, "commune", population=60_000, agents=900, date=day.isoformat())
    verdict, deadlines = evaluate_obligation(obligation, knowledge, profile)
    if day < date(2021, 11, 17):
        assert verdict.outcome is Outcome.DOES_NOT_APPLY and "2021-11-17" in verdict.reasons[0]
    else:
        assert verdict.outcome is Outcome.APPLIES
    strategy = next(d for d in deadlines if d.date == "2025-01-01")
    assert strategy.passed is (day > date(2025, 1, 1))
    program = next(d for d in deadlines if d.date == "2023-01-01")
    assert program.passed is (day > date(2023, 1, 1))


def test_gender_equality_report_binds_departements_and_regions_without_threshold(
    knowledge: Knowledge,
) -> None:
    for kind in ("departement", "region"):
        assert (
            _verdict(knowledge, "rapport-egalite-femmes-hommes", type=kind, population=1) is Outcome.APPLIES
        )
    assert _verdict(knowledge, "rapport-egalite-femmes-hommes", type="syndicat", population=90_000) is (
        Outcome.DOES_NOT_APPLY
    )


def test_no_mobility_plan_for_each_intercommunality_in_ile_de_france(knowledge: Knowledge) -> None:
    def verdict(ile_de_france: bool) -> Outcome:
        criteria = {"agglomeration_100000": True, "ile_de_france": ile_de_france}
        return _verdict(knowledge, "plan-de-mobilite", type="communaute-d-agglomeration", criteria=criteria)

    assert verdict(True) is Outcome.DOES_NOT_APPLY and verdict(False) is Outcome.APPLIES


def test_mountain_usages_strategy_is_dated_by_the_montagne_law(knowledge: Knowledge) -> None:
    obligation = next(o for o in knowledge.obligations if o.id == "strategie-usages-numeriques-montagne")
    assert (obligation.law, obligation.since) == ("loi-2016-1888", "2016-12-30")
    sdtan = next(c for c in knowledge.competences if c.id == "sdtan")
    assert [(c.date, c.law) for c in sdtan.changes][-2:] == [
        ("2016-10-09", "republique-numerique"),
        ("2016-12-30", "loi-2016-1888"),
    ]


def test_water_2025_change_does_not_rest_on_article_4(knowledge: Knowledge) -> None:
    for cid in ("commune-eau-potable", "commune-assainissement", "cc-eau", "cc-assainissement"):
        competence = next(c for c in knowledge.competences if c.id == cid)
        change = next(c for c in competence.changes if c.law == "eau-assainissement-2025")
        assert not change.basis, cid
        assert "article 2" in change.summary and "absent du corpus" in competence.note, cid


@pytest.mark.parametrize(("population", "subject"), [(999, False), (1_000, True), (1_001, True)])
def test_council_rules_of_procedure_from_1000_inhabitants(
    knowledge: Knowledge, population: int, subject: bool
) -> None:
    outcome = _verdict(knowledge, "reglement-interieur-conseil", type="commune", population=population)
    assert outcome is (Outcome.APPLIES if subject else Outcome.DOES_NOT_APPLY)


def test_breadth_of_the_levels_and_obligations(knowledge: Knowledge) -> None:
    assert len(knowledge.competences_of("commune")) >= 25
    assert len(knowledge.competences_of("departement")) >= 22
    assert len(knowledge.competences_of("region")) >= 20
    assert len(knowledge.obligations) >= 32


def test_a_deadline_may_concern_only_some_subjects(knowledge: Knowledge) -> None:
    pcaet = next(o for o in knowledge.obligations if o.id == "pcaet")
    big = evaluate_obligation(
        pcaet, knowledge, make_profile(knowledge, "metropole", 600_000, date="2016-06-01")
    )[1]
    small = evaluate_obligation(
        pcaet, knowledge, make_profile(knowledge, "communaute-de-communes", 30_000, date="2016-06-01")
    )[1]
    assert [(d.date, d.concerns) for d in big][0] == ("2016-12-31", Outcome.APPLIES)
    assert [(d.date, d.concerns) for d in small][0] == ("2016-12-31", Outcome.DOES_NOT_APPLY)
    assert not big[0].passed


# --- profiles -------------------------------------------------------------------------------------


def test_profile_inputs_are_checked(knowledge: Knowledge) -> None:
    with pytest.raises(ProfileError) as caught:
        make_profile(knowledge, "canton")
    assert caught.value.code == "type_inconnu" and "commune" in caught.value.details["acceptes"]
    with pytest.raises(ProfileError, match="Critère"):
        make_profile(knowledge, "commune", criteria={"piscine": True})
    with pytest.raises(ProfileError, match="entier positif"):
        make_profile(knowledge, "commune", population=-1)
    with pytest.raises(ProfileError, match="Date invalide"):
        make_profile(knowledge, "commune", date="2025-02-30")


def test_worked_example_commune_of_8000(knowledge: Knowledge, lookup: CorpusLookup) -> None:
    result = evaluate_profile(
        knowledge, make_profile(knowledge, "commune", 8000, 120, "2026-01-01"), lookup
    ).to_dict(knowledge)
    by_id = {
        item["id"]: status
        for status in ("applicables", "non_applicables", "indetermines")
        for item in result[status]
    }
    assert by_id["donnees-ouvertes"] == "applicables"
    assert by_id["commission-accessibilite"] == "applicables"
    assert by_id["strategie-numerique-responsable"] == "non_applicables"
    assert by_id["mise-en-ligne-documents-budgetaires"] == "indetermines"
    assert by_id["pcaet"] == "non_applicables"
    open_data = next(i for i in result["applicables"] if i["id"] == "donnees-ouvertes")
    assert open_data["base"][0] == "crpa/L312-1-1"
    assert open_data["passages"][0]["trouve"] and open_data["passages"][0]["statut"] == "en_vigueur"
    assert "publient en ligne" in open_data["passages"][0]["extrait"]
    assert len(by_id) == len(knowledge.obligations)
    json.dumps(result, ensure_ascii=False)


# --- citations ------------------------------------------------------------------------------------


def test_locate_ignores_case_accents_and_line_breaks() -> None:
    text = "I. ― La communauté de communes exerce\nde plein droit les compétences : 7° Eau, sans préjudice"
    start, end = locate(text, "EXERCE de plein   droit") or (0, 0)
    assert text[start:end] == "exerce\nde plein droit"
    assert locate(text, "8° Eau") is None
    assert excerpt("un deux trois quatre", 3, 9) == "… deux …"


def _folded_with_map_per_character(text: str) -> tuple[str, list[int]]:
    """The reference: one character at a time."""
    out: list[str] = []
    positions: list[int] = []
    previous_space = True
    for index, char in enumerate(text):
        if char.isspace():
            if not previous_space:
                out.append(" ")
                positions.append(index)
            previous_space = True
            continue
        previous_space = False
        for folded in fold(char):
            out.append(folded)
            positions.append(index)
    return "".join(out), positions


@settings(max_examples=400)
@given(
    st.text(alphabet=st.sampled_from("aÉé œŒæ\u00a0\t\n\x1c\u2028ßİ°’-.Σﬁ…\u0301"), max_size=40)
    | st.text(max_size=40)
)
def test_folded_map_matches_folding_one_character_at_a_time(text: str) -> None:
    assert _folded_with_map(text) == _folded_with_map_per_character(text)


def _locate_per_character(text: str, anchor: str) -> tuple[int, int] | None:
    needle, _ = _folded_with_map_per_character(anchor.strip())
    haystack, positions = _folded_with_map_per_character(text)
    found = haystack.find(needle.strip()) if needle else -1
    if found < 0:
        return None
    return positions[found], positions[found + len(needle.strip()) - 1] + 1


@settings(max_examples=400)
@given(
    text=st.text(alphabet=st.sampled_from("aeÉé œŒ\u00a0\n\x1cßİ°-.ΣΑςﬁ…\u0301"), max_size=30),
    anchor=st.text(alphabet=st.sampled_from("aeÉé œ\u00a0°-.σςfi…\u0301"), min_size=1, max_size=4),
)
def test_locate_matches_the_per_character_search(text: str, anchor: str) -> None:
    assert locate(text, anchor) == _locate_per_character(text, anchor)


@settings(max_examples=400)
@given(
    text=st.text(alphabet=st.sampled_from("aeÉé ’\u00a0\n\t\x1c°-."), max_size=30),
    anchor=st.text(alphabet=st.sampled_from("aeÉé ’\u00a0°-."), min_size=1, max_size=4),
)
def test_locate_in_texts_folded_in_place_matches_the_per_character_search(text: str, anchor: str) -> None:
    assert locate(text, anchor) == _locate_per_character(text, anchor)


def test_cite_picks_the_part_holding_the_anchor(lookup: CorpusLookup) -> None:
    (whole,) = lookup.passages_of_article("cgct", "L5214-16")
    first = replace(whole, id="cgct/L5214-16#1", text="I. — Aménagement de l'espace.")
    second = replace(whole, id="cgct/L5214-16#2", text="… 7° Eau, sans préjudice de la loi n° 2018-702.")
    citation = cite(LegalBasis("cgct", "L5214-16", "7° eau"), [first, second])
    assert citation.passage_id == "cgct/L5214-16#2" and citation.excerpt.startswith("… 7° Eau")
    assert citation.anchor_found and citation.status == "en_vigueur" and citation.version_date == "2020-10-28"
    assert cite(LegalBasis("cgct", "L5214-16", "absent"), [first, second]).passage_id == "cgct/L5214-16#1"
    assert not cite(LegalBasis("cgct", "L0"), []).found


# --- law impact -----------------------------------------------------------------------------------


def _line(date_: str, change: str, links: dict[str, list[str]], author: str = "Plusieurs textes") -> dict:
    return {
        "article": "L1",
        "legiarti": "1",
        "version_date": date_,
        "amended_by": author,
        "change": change,
        "text_changed": True,
        "version_links": links,
    }


def test_history_credits_new_entries_and_skips_cumulative_relists() -> None:
    notre = Law("notre", "2015-991", "2015-08-07", "NOTRe", "t")
    lines = [
        _line("2010-01-01", "added", {"Créé par": ["Loi n°2010-1 du 1 janvier 2010 - art. 1"]}),
        _line("2015-08-09", "modified", {"Modifié par": ["Loi n°2015-991 du 7 août 2015 - art. 64"]}),
        _line("2017-01-29", "modified", {"Modifié par": ["Loi n°2017-86 du 27 janvier 2017 - art. 1"]}),
        # Cumulative list: re-lists several older entries; only the new one is credited.
        _line(
            "2018-01-01",
            "modified",
            {
                "Modifié par": [
                    "Loi n°2010-1 du 1 janvier 2010 - art. 1",
                    "Loi n°2015-991 du 7 août 2015 - art. 64",
                    "Loi n°2018-702 du 3 août 2018 - art. 3",
                ]
            },
        ),
        _line("2019-01-01", "modified", {"Modifié par": ["Loi n°2019-1 du 1 janvier 2019 - art. 2"]}),
        # A deferred provision coming back alone is credited again.
        _line("2020-01-01", "modified", {"Modifié par": ["Loi n°2015-991 du 7 août 2015 - art. 64"]}),
        _line("2021-01-01", "removed", {"Abrogé par": ["Loi n°2015-991 du 7 août 2015 - art. 9"]}),
    ]
    events = history_events(lines, notre)["L1"]
    assert [(e.date, e.kind) for e in events] == [
        ("2015-08-09", "modifie"),
        ("2020-01-01", "modifie"),
        ("2021-01-01", "abroge"),
    ]
    author = history_events([_line("2016-01-01", "added", {}, author="Loi n°2015-991 du 7 août 2015")], notre)
    assert [(e.kind, e.source) for e in author["L1"]] == [("cree", "auteur")]


def test_entries_listed_before_the_law_exists_are_read_for_what_they_are() -> None:
    notre = Law("notre", "2015-991", "2015-08-07", "NOTRe", "t")
    lines = [
        # LEGI announces a deferred version (VD) and a later abrogation on versions older than the law.
        _line("2010-12-18", "added", {"Modifié par": ["Loi n°2015-991 du 7 août 2015 - art. 44 (VD)"]}),
        _line("2011-01-01", "modified", {"Abrogé par": ["Loi n°2015-991 du 7 août 2015 - art. 3"]}),
        _line("2015-08-01", "modified", {"Modifié par": ["Loi n°2015-991 du 7 août 2015 - art. 107"]}),
    ]
    events = history_events(lines, notre)["L1"]
    assert [(e.date, e.kind, e.estimated_date) for e in events] == [
        ("2015-08-01", "modifie", False),  # retroactive entry into force: kept as the source dates it
        ("2015-08-07", "abroge", True),
    ]


def test_piste_links_give_created_articles() -> None:
    law = Law("republique-numerique", "2016-1321", "2016-10-07", "RN", "t")
    tree = {
        "children": [
            {
                "type": "section",
                "data": {"title": "Titre"},
                "children": [
                    {
                        "type": "article",
                        "data": {
                            "num": "L312-1-1",
                            "lienModifications": [
                                {
                                    "textTitle": "LOI n°2016-1321 du 7 octobre 2016 - art. 6 (V)",
                                    "linkType": "CREE",
                                    "dateDebutCible": "2016-10-09",
                                }
                            ],
                        },
                    }
                ],
            }
        ]
    }
    events = piste_events(tree, law)
    assert [(e.date, e.kind, e.source) for e in events["L312-1-1"]] == [("2016-10-09", "cree", "legifrance")]


@pytest.fixture(scope="session")
def notre_impact(knowledge: Knowledge, lookup: CorpusLookup) -> Any:
    return law_impact(knowledge.laws["notre"], lookup)


def test_notre_impact_on_communautes_de_communes_lists_l5214_16(notre_impact: Any) -> None:
    articles = {a.article_id: a for a in notre_impact.for_level("communaute-de-communes")}
    assert "cgct/L5214-16" in articles
    events = articles["cgct/L5214-16"].events
    assert {e.date for e in events} == {"2015-08-09", "2020-01-01"}  # 2018-01-01 re-lists older texts only
    assert all("2015-991" in e.text for e in events)
    assert all("communaute-de-communes" in a.levels for a in articles.values())
    regional = {a.article_id for a in notre_impact.for_level("region")}
    assert "transports/L3111-1" in regional and "cgct/L4251-12" in regional


def test_impact_report_groups_by_level_and_theme(knowledge: Knowledge, lookup: CorpusLookup) -> None:
    report = impact_report(knowledge, "notre", lookup, level="communaute-de-communes")
    assert [group["niveau"] for group in report["niveaux"]] == ["communaute-de-communes"]
    themes = {t["theme"]: [a["article_id"] for a in t["articles"]] for t in report["niveaux"][0]["themes"]}
    assert "cgct/L5214-16" in themes["eau-assainissement"]
    assert report["total_articles"] == report["niveaux"][0]["total_articles"]
    later = impact_report(knowledge, "reen", lookup)
    assert later["total_articles"] == 0 and "2020-10-28" in later["remarques"][0]
    numerique = impact_report(knowledge, "republique-numerique", lookup)
    created = [
        a
        for group in numerique["niveaux"]
        for theme in group["themes"]
        for a in theme["articles"]
        if a["article_id"] == "crpa/L312-1-1"
    ]
    assert created and created[0]["natures"] == ["cree"]
    with pytest.raises(Exception, match="Loi inconnue"):
        impact_report(knowledge, "loi-imaginaire", lookup)
