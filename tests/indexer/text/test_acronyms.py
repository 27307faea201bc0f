"""Tests of the acronym table (`corpus/sigles.toml`) and of their expansion in questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.text.acronyms import expand_acronyms, load_acronyms


def test_the_team_table_loads_and_spells_out_common_acronyms() -> None:
    table = load_acronyms()
    assert len(table) >= 80
    assert table["GEMAPI"].startswith("gestion des milieux aquatiques")
    assert table["SCOT"] == table["SCoT"]  # upper-case spelling added
    assert all(value and value == value.strip() for value in table.values())


def test_a_question_keeps_its_words_and_gets_each_expansion_once() -> None:
    expansion = expand_acronyms("Qui élabore le SRDEII ? Le SRDEII est-il prescriptif ?")
    assert expansion.text.startswith("Qui élabore le SRDEII ? Le SRDEII est-il prescriptif ? (")
    assert expansion.text.count("schéma régional de développement économique") == 1
    assert [a for a, _ in expansion.acronyms] == ["SRDEII"]


def test_several_acronyms_in_order_and_variants_of_case() -> None:
    expansion = expand_acronyms("La GEMAPI, le SAGE et le SCOT")
    assert [a for a, _ in expansion.acronyms] == ["GEMAPI", "SAGE", "SCOT"]
    assert "schéma de cohérence territoriale" in expansion.text


@pytest.mark.parametrize("question", ["un sage conseil", "le ter du quai", "Le Sage de la commune"])
def test_lower_case_words_are_never_taken_for_acronyms(question: str) -> None:
    assert expand_acronyms(question).text == question
    assert expand_acronyms(question).acronyms == ()


def test_a_custom_table_and_a_bad_entry(tmp_path: Path) -> None:
    assert expand_acronyms("Le XYZ", {"XYZ": "x y z"}).text == "Le XYZ (x y z)"
    bad = tmp_path / "sigles.toml"
    bad.write_text('[sigles]\nPLU = ""\n', encoding="utf-8")
    with pytest.raises(ValueError, match="PLU"):
        load_acronyms(bad)
