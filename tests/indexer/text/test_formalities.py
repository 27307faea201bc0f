"""The courtesy forms of written questions are removed; other questions are left as typed."""

from __future__ import annotations

import pytest

from indexer.text.formalities import strip_formalities


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "M. Jean-Pierre Dupont attire l'attention de Mme la ministre de la cohésion des territoires et des "
            "relations avec les collectivités territoriales sur la fourrière animale. Il lui demande de bien "
            "vouloir préciser la procédure applicable.",
            "la fourrière animale. la procédure applicable.",
        ),
        (
            "Sur le devenir des compétences optionnelles. Mme Y appelle l'attention de M. le ministre chargé "
            "des collectivités territoriales sur les conséquences de la loi. Elle lui demande si ces "
            "compétences restent acquises ?",
            "Sur le devenir des compétences optionnelles. les conséquences de la loi. si ces compétences "
            "restent acquises ?",
        ),
        (
            "M. X interroge M. le ministre de l'intérieur sur le sort des contrats. En conséquence, il lui "
            "demande quelles règles s'appliquent.",
            "le sort des contrats. quelles règles s'appliquent.",
        ),
        (
            "Mme Z demande à Mme la ministre des outre-mer si une commune peut déléguer la voirie.",
            "si une commune peut déléguer la voirie.",
        ),
    ],
)
def test_the_forms_of_a_written_question_go(question: str, expected: str) -> None:
    assert strip_formalities(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Notre communauté de communes doit-elle gérer la collecte des ordures ménagères ?",
        "Qui demande l'avis du ministre sur le schéma régional ?",
        "Le maire attire-t-il l'attention du préfet sur un arrêté illégal ?",
        "Il lui demande.",
    ],
)
def test_other_questions_are_left_as_typed(question: str) -> None:
    assert strip_formalities(question) == question
