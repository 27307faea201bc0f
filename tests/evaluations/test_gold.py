"""The public gold set loads, covers the corpus and the taxonomy, and judges only existing in-force texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.gold_checks import articles_not_in_force, judged_articles
from helpers.paths import REPO

from evaluations.gold import GoldError, available_splits, load_gold, load_qrels, load_queries
from evaluations.metrics import document_of
from indexer.models import Document

GOLD = REPO / "evaluations" / "datasets" / "qfq-dev"


@pytest.fixture(scope="module")
def splits():
    return {name: load_gold(GOLD, name) for name in ("dev", "test")}


def test_the_public_set_has_enough_questions_split_in_two_disjoint_halves(splits) -> None:
    queries = load_queries(GOLD)
    dev, test = set(splits["dev"].queries), set(splits["test"].queries)
    assert available_splits(GOLD) == ["dev", "test"]
    assert len(queries) >= 120
    assert not dev & test
    assert dev | test == set(queries)
    assert min(len(dev), len(test)) >= 0.4 * len(queries)


def test_every_question_has_a_primary_answer_and_plain_text(splits) -> None:
    for split in splits.values():
        for query_id, judged in split.qrels.items():
            assert max(judged.values()) == 2, query_id
            assert set(judged.values()) <= {1, 2}, query_id
            text = split.queries[query_id].text
            assert 15 <= len(text) <= 200 and text.endswith("?"), query_id


def test_every_level_and_theme_of_the_taxonomy_is_covered() -> None:
    from indexer.text.tagging import load_taxonomy

    taxonomy = load_taxonomy()
    levels, themes = set(taxonomy.level_ids()), set(taxonomy.theme_ids())
    seen_levels: set[str] = set()
    seen_themes: set[str] = set()
    for query in load_queries(GOLD).values():
        metadata = query.extra["metadata"]
        assert set(metadata["niveaux"]) <= levels, query.id
        assert set(metadata["themes"]) <= themes, query.id
        seen_levels.update(metadata["niveaux"])
        seen_themes.update(metadata["themes"])
    assert seen_levels == levels
    assert seen_themes == themes


def test_every_theme_appears_in_both_splits(splits) -> None:
    for split in splits.values():
        primary = {q.extra["metadata"]["themes"][0] for q in split.queries.values()}
        assert len(primary) == 14, split.split


def test_every_document_of_the_corpus_is_judged(corpus_documents: dict[str, Document]) -> None:
    judged = {
        document_of(cid) for name in ("dev", "test") for j in load_qrels(GOLD, name).values() for cid in j
    }
    assert judged <= set(corpus_documents)
    laws_and_codes = {key for key, doc in corpus_documents.items() if doc.kind in {"loi", "code"}}
    assert len(laws_and_codes) == 25
    assert laws_and_codes <= judged
    assert set(corpus_documents) <= judged


def test_every_judged_article_exists_and_is_in_force(corpus_dir: Path, corpus_documents) -> None:
    # Only documents judged article by article are parsed (not the PDF guides, judged as a whole), and only
    # parsed, not split or tagged: the status of a passage is the status of its article.
    wanted = judged_articles(GOLD)
    problems = articles_not_in_force(wanted, corpus_dir, corpus_documents)
    assert not problems, problems


# --- any folder in BEIR's layout, and clear errors on malformed ones ---------------------------------


def write_gold(folder: Path, queries: list[dict | str], qrels: str, split: str = "test") -> Path:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    lines = [q if isinstance(q, str) else json.dumps(q, ensure_ascii=False) for q in queries]
    (folder / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return folder


HEADER = "query-id\tcorpus-id\tscore\n"


def test_a_foreign_beir_folder_loads_with_its_filters(tmp_path: Path) -> None:
    folder = write_gold(
        tmp_path / "autre",
        [
            {"_id": "1", "text": "Qui gère l'eau ?", "title": "", "metadata": {"source": "x"}},
            {"_id": 2, "text": "Et les déchets ?", "niveau": "commune", "themes": ["dechets"]},
            {
                "_id": "3",
                "text": "Non jugée",
                "filters": {"document": ["cgct", "reen"], "date": "2024-01-01"},
            },
        ],
        HEADER + "1\tcgct/L2224-7-1\t2\n2\tcgct\t1\n2\tenvironnement/L541-1\t0\n",
    )
    gold = load_gold(folder, "test")
    assert gold.name == "autre" and sorted(gold.queries) == ["1", "2"]
    assert gold.qrels == {"1": {"cgct/L2224-7-1": 2}, "2": {"cgct": 1, "environnement/L541-1": 0}}
    assert gold.queries["2"].filters.levels == ("commune",)
    assert gold.queries["2"].filters.themes == ("dechets",)
    third = load_queries(folder)["3"].filters
    assert third.documents == ("cgct", "reen") and third.date == "2024-01-01"


@pytest.mark.parametrize(
    ("queries", "qrels", "code", "words"),
    [
        (['{"_id": "1", "text": "ok"}', "{pas du json"], HEADER, "ligne_invalide", "ligne 2"),
        ([{"_id": "1"}], HEADER, "ligne_invalide", "text"),
        ([{"_id": "1", "text": "a"}, {"_id": "1", "text": "b"}], HEADER, "identifiant_double", "double"),
        ([{"_id": "1", "text": "a", "niveau": 3}], HEADER, "filtre_invalide", "niveau"),
        ([{"_id": "1", "text": "a"}], "qid\tdoc\tscore\n1\tx/1\t1\n", "entete_invalide", "en-tête"),
        ([{"_id": "1", "text": "a"}], HEADER + "1\tx/1\n", "ligne_invalide", "trois colonnes"),
        ([{"_id": "1", "text": "a"}], HEADER + "1\tx/1\tdeux\n", "score_invalide", "non entier"),
        ([{"_id": "1", "text": "a"}], HEADER + "1\tx/1\t1\n1\tx/1\t2\n", "jugement_double", "déjà jugé"),
        ([{"_id": "1", "text": "a"}], HEADER + "9\tx/1\t1\n", "question_inconnue", "9"),
        ([{"_id": "1", "text": "a"}], HEADER, "jugements_absents", "aucun jugement"),
    ],
)
def test_malformed_folders_fail_with_a_french_message(
    tmp_path: Path, queries: list, qrels: str, code: str, words: str
) -> None:
    folder = write_gold(tmp_path / "jeu", queries, qrels)
    with pytest.raises(GoldError) as caught:
        load_gold(folder, "test")
    assert caught.value.code == code
    assert words in caught.value.message


def test_missing_files_and_unknown_splits_are_explained(tmp_path: Path) -> None:
    with pytest.raises(GoldError, match="introuvable") as caught:
        load_gold(tmp_path / "absent", "test")
    assert caught.value.code == "jeu_introuvable"
    (tmp_path / "vide").mkdir()
    with pytest.raises(GoldError, match="queries.jsonl"):
        load_gold(tmp_path / "vide", "test")
    folder = write_gold(tmp_path / "jeu", [{"_id": "1", "text": "a"}], HEADER + "1\tx/1\t1\n", split="dev")
    with pytest.raises(GoldError, match="disponibles dans .* : dev") as caught:
        load_gold(folder, "test")
    assert caught.value.code == "decoupage_inconnu"


# --- expected answers from the curated knowledge (metadata.reponse) ----------------------------------


@pytest.fixture(scope="module")
def knowledge():
    from indexer.knowledge.load import load_knowledge

    return load_knowledge()


def expected_answers() -> dict[str, dict | None]:
    return {qid: query.extra["metadata"]["reponse"] for qid, query in load_queries(GOLD).items()}


def test_every_question_has_an_expected_answer_made_of_known_entries_and_levels(knowledge) -> None:
    from indexer.text.tagging import load_taxonomy

    levels = set(load_taxonomy().level_ids())
    known = {c.id for c in knowledge.competences} | {o.id for o in knowledge.obligations}
    problems = []
    for query in load_queries(GOLD).values():
        metadata = query.extra["metadata"]
        if "reponse" not in metadata:
            problems.append(f"{query.id} : clé « reponse » absente")
            continue
        answer = metadata["reponse"]
        if answer is None:
            continue
        if not isinstance(answer, dict) or set(answer) != {"entrees", "niveaux"}:
            problems.append(f"{query.id} : « reponse » doit valoir null ou {{entrees, niveaux}}")
            continue
        entries, named = answer["entrees"], answer["niveaux"]
        if not isinstance(entries, list) or not entries:
            problems.append(f"{query.id} : « entrees » doit être une liste non vide")
            continue
        if len(set(entries)) != len(entries):
            problems.append(f"{query.id} : entrée en double")
        if unknown := sorted(set(entries) - known):
            problems.append(f"{query.id} : entrées inconnues de corpus/knowledge : {unknown}")
        if not isinstance(named, list) or not set(named) <= levels:
            problems.append(f"{query.id} : niveaux hors de la taxonomie : {named}")
    assert not problems, problems


def test_expected_competences_belong_to_the_levels_the_question_names(knowledge) -> None:
    competences = {c.id: c for c in knowledge.competences}
    problems = []
    for query_id, answer in expected_answers().items():
        if not answer or not answer["niveaux"]:
            continue
        named = set(answer["niveaux"])
        for level in answer["niveaux"]:
            named.update(knowledge.groups.get(level, ()))
        for entry in answer["entrees"]:
            competence = competences.get(entry)
            if competence is not None and not set(competence.levels) & named:
                problems.append(
                    f"{query_id} : {entry} ({', '.join(competence.levels)}) hors de {answer['niveaux']}"
                )
    assert not problems, problems


def test_both_splits_have_questions_with_an_expected_answer(splits) -> None:
    answers = expected_answers()
    for split in splits.values():
        answered = [qid for qid in split.queries if answers[qid] is not None]
        assert len(answered) >= 20, f"{split.split} : {len(answered)} questions avec une réponse attendue"
