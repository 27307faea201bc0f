"""Answers from the curated knowledge: subjects named, levels, categories, rule verdicts, and no answer
when the question is not about who holds what (or when the knowledge has nothing for the level named)."""

from __future__ import annotations

import pytest

from indexer.knowledge.answer import Answerer, curated_answerer, facts_in
from indexer.knowledge.load import load_knowledge
from indexer.knowledge.model import Subject
from indexer.knowledge.rules import Outcome
from indexer.text.normalize import fold
from indexer.text.tagging import load_taxonomy


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    return Answerer(load_knowledge(), load_taxonomy())


def test_the_issue_question_names_the_community_its_mandatory_competence_and_article(
    answerer: Answerer,
) -> None:
    answer = answerer.answer(
        "Notre communauté de communes doit-elle gérer la collecte des ordures ménagères ?"
    )
    assert answer is not None
    assert answer.entry_ids == ["cc-dechets"]
    assert answer.levels == ["communaute-de-communes"]
    assert [m.phrase for m in answer.subjects] == ["ordures ménagères"]
    competence = answer.competences[0]
    assert competence.category == "obligatoire"
    assert [b.ref for b in competence.basis] == ["cgct/L5214-16"]
    assert competence.law == "notre"


@pytest.mark.parametrize(
    "question",
    [
        "Quels sont les horaires de la piscine municipale ?",
        "Que dit l'article L. 1425-1 du CGCT ?",
        "Quelle licence choisir pour publier nos données publiques ?",
        "Les grands parkings doivent-ils être couverts d'ombrières photovoltaïques ?",  # a thing, not a level
        "La région doit-elle gérer l'eau potable ?",  # nothing curated for that level
        "Qui organise les transports en commun en Île-de-France ?",  # a territory with its own regime
        "Le maire peut-il réglementer la circulation sur la route qui traverse le village ?",  # « qui » relative
    ],
)
def test_no_answer_when_the_question_is_not_about_who_holds_what(answerer: Answerer, question: str) -> None:
    assert answerer.answer(question) is None


def test_without_a_level_every_level_holding_the_competence_is_shown(answerer: Answerer) -> None:
    answer = answerer.answer("Qui s'occupe de la GEMAPI ?")
    assert answer is not None and answer.levels_named == []
    assert {"commune", "communaute-de-communes", "metropole"} <= set(answer.levels)
    assert all(set(c.levels) & set(answer.levels) for c in answer.competences)
    taxonomy_order = load_taxonomy().level_ids()
    assert answer.levels == sorted(answer.levels, key=taxonomy_order.index)


def test_a_group_of_levels_stands_for_its_members(answerer: Answerer) -> None:
    answer = answerer.answer(
        "Mon intercommunalité est-elle compétente pour les aires d'accueil des gens du voyage ?"
    )
    assert answer is not None and answer.levels_named == ["epci-fp"]
    assert "commune" not in answer.levels and "communaute-d-agglomeration" in answer.levels
    assert {c.id for c in answer.competences} >= {"cc-gens-du-voyage", "ca-gens-du-voyage"}


def test_two_subjects_are_answered_together(answerer: Answerer) -> None:
    answer = answerer.answer(
        "Ma communauté de communes doit-elle reprendre l'eau potable et l'assainissement ?"
    )
    assert answer is not None
    assert [m.subject.id for m in answer.subjects] == ["eau-potable", "assainissement"]
    assert answer.entry_ids == ["cc-eau", "cc-assainissement"]


def test_a_more_specific_expression_wins_over_the_words_it_contains(answerer: Answerer) -> None:
    answer = answerer.answer("Qui gère les eaux pluviales dans une communauté d'agglomération ?")
    assert answer is not None and answer.entry_ids == ["ca-eaux-pluviales"]


def test_facts_of_the_question_go_to_the_rule_engine(answerer: Answerer) -> None:
    small = answerer.answer("Une commune de 2 000 habitants doit-elle publier ses données en open data ?")
    large = answerer.answer(
        "Une commune de 12 000 habitants et 300 agents doit-elle publier ses données en open data ?"
    )
    assert small is not None and large is not None
    assert small.facts == {"type": "commune", "population": 2000}
    assert small.verdicts["donnees-ouvertes"].verdict.outcome is Outcome.DOES_NOT_APPLY
    assert small.verdicts["donnees-ouvertes"].verdict.reasons
    assert large.verdicts["donnees-ouvertes"].verdict.outcome is Outcome.APPLIES
    undecided = answerer.answer("Une commune de 5 000 habitants doit-elle publier ses données en open data ?")
    assert undecided is not None
    assert undecided.verdicts["donnees-ouvertes"].verdict.outcome is Outcome.UNDETERMINED
    assert undecided.verdicts["donnees-ouvertes"].verdict.missing == ["agents"]


def test_the_competences_of_a_level_are_listed_when_asked(answerer: Answerer) -> None:
    every = answerer.answer("Quelles compétences exerce une communauté urbaine ?")
    mandatory = answerer.answer("Quelles sont les compétences obligatoires d'une communauté urbaine ?")
    assert every is not None and mandatory is not None
    assert all("communaute-urbaine" in c.levels for c in every.competences)
    assert {c.category for c in mandatory.competences} == {"obligatoire"}
    assert set(mandatory.entry_ids) < set(every.entry_ids)


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("une commune de 5 000 habitants", {"population": 5000}),
        ("commune de 12000 habitants et 60 agents", {"population": 12000, "agents": 60}),
        ("ville de 3\u202f500 habitants", {"population": 3500}),
        ("une commune rurale", {}),
    ],
)
def test_facts_are_read_from_the_text(text: str, facts: dict[str, int]) -> None:
    assert facts_in(fold(text)) == facts


def test_every_curated_entry_belongs_to_a_subject_except_whole_level_summaries() -> None:
    knowledge = load_knowledge()
    covered = {c for s in knowledge.subjects for c in s.competences}
    uncovered = {c.id for c in knowledge.competences} - covered
    assert all(fold(knowledge.competence(c).title).startswith("competences") for c in uncovered), uncovered
    assert {o.id for o in knowledge.obligations} <= {o for s in knowledge.subjects for o in s.obligations}


def test_subjects_name_only_known_entries(tmp_path) -> None:
    import shutil

    from indexer.knowledge.load import KNOWLEDGE_DIR, KnowledgeError

    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    with (folder / "sujets.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            '\n[[sujets]]\nid = "fantome"\nintitule = "Fantôme"\nmots = ["fantôme"]\ncompetences = ["nulle-part"]\n'
        )
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert "compétence « nulle-part » inconnue" in caught.value.message


def test_the_curated_answerer_is_built_once() -> None:
    first = curated_answerer()
    assert first is not None and first is curated_answerer()
    assert isinstance(first.knowledge.subjects[0], Subject)


def test_a_duty_question_about_collectivities_in_general_is_answered(answerer: Answerer) -> None:
    answer = answerer.answer("Quelles collectivités doivent adopter un plan climat-air-énergie territorial ?")
    assert answer is not None and "pcaet" in answer.entry_ids
    assert (
        answerer.answer("Le plan climat-air-énergie territorial doit-il être révisé tous les six ans ?")
        is None
    )


def test_the_grand_paris_is_a_level_not_a_territory_apart(answerer: Answerer) -> None:
    answer = answerer.answer("Quelles sont les compétences de la métropole du Grand Paris ?")
    assert answer is not None and answer.levels_named == ["metropole-du-grand-paris"]
    assert answerer.answer("Qui gère la collecte des déchets ménagers à Paris ?") is None


@pytest.mark.parametrize(
    "question",
    [
        "Selon quelle procédure une communauté de communes reprend-elle la compétence eau ?",
        "À quelle majorité les communes transfèrent-elles la collecte des déchets à la communauté ?",
        "Dans quel délai le conseil municipal doit-il délibérer sur le transfert de la voirie ?",
        "Comment se fait la restitution de la compétence tourisme aux communes ?",
    ],
)
def test_questions_on_how_a_competence_moves_get_no_card(answerer: Answerer, question: str) -> None:
    # The same subjects asked as « who holds it » are answered: only the mechanics are left to the passages.
    assert answerer.answer(question) is None


def test_the_holder_of_the_same_competence_is_still_answered(answerer: Answerer) -> None:
    answer = answerer.answer("Qui gère la collecte des déchets dans une communauté de communes ?")
    assert answer is not None and "cc-dechets" in answer.entry_ids


@pytest.mark.parametrize(
    ("question", "mechanism"),
    [
        ("Comment se fait la restitution de la compétence tourisme aux communes ?", "restitution-competence"),
        (
            "Une commune peut-elle reprendre une compétence transférée à sa communauté ?",
            "restitution-competence",
        ),
        (
            "À quelle majorité les communes transfèrent-elles une compétence facultative ?",
            "transfert-competence",
        ),
        (
            "Une communauté d'agglomération peut-elle verser un fonds de concours à une commune ?",
            "fonds-de-concours",
        ),
        (
            "Qui instruit les autorisations d'urbanisme d'une petite commune ?",
            "instruction-autorisations-urbanisme",
        ),
        ("Une commune peut-elle se retirer de sa communauté de communes ?", "retrait-commune"),
    ],
)
def test_questions_on_how_a_competence_moves_name_a_mechanism(
    answerer: Answerer, question: str, mechanism: str
) -> None:
    named = answerer.mechanisms_named(question)
    assert named and named[0].mechanism.id == mechanism
    assert named[0].phrase in {p for p in named[0].mechanism.phrases}


@pytest.mark.parametrize(
    "question",
    [
        "Qui gère la collecte des déchets dans une communauté de communes ?",
        "horaires de la piscine municipale",
        "Qu'est-ce qu'un syndicat de communes ?",  # what it is, not how a competence moves to one
        "Une commune de Corse peut-elle reprendre une compétence transférée ?",  # a regime of its own
    ],
)
def test_no_mechanism_when_the_question_names_none(answerer: Answerer, question: str) -> None:
    assert answerer.mechanisms_named(question) == []


def test_every_mechanism_summarises_cited_articles(answerer: Answerer) -> None:
    mechanisms = answerer.knowledge.mechanisms
    assert len(mechanisms) >= 10
    for mechanism in mechanisms:
        assert mechanism.summary and mechanism.basis and mechanism.phrases
        # The summary names the articles it summarises, so a reader can check each claim against its source.
        assert any(basis.article in mechanism.summary for basis in mechanism.basis), mechanism.id


def test_a_mechanism_without_legal_basis_is_refused(tmp_path) -> None:
    import shutil

    from indexer.knowledge.load import KNOWLEDGE_DIR, KnowledgeError

    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    with (folder / "mecanismes.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[[mecanismes]]\nid = "vide"\nintitule = "Vide"\nresume = "Rien."\nmots = ["vide"]\n')
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert "un mécanisme cite au moins un article" in caught.value.message
