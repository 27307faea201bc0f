"""Tests of article references found in queries."""

from __future__ import annotations

import pytest

from indexer.text.article_refs import ArticleResolver, canonical_article

DOCUMENTS = [
    {
        "key": "cgct",
        "title": "Code général des collectivités territoriales",
        "short_name": "CGCT",
        "kind": "code",
    },
    {
        "key": "environnement",
        "title": "Code de l'environnement",
        "short_name": "Code de l'environnement",
        "kind": "code",
    },
    {
        "key": "notre",
        "title": "LOI n° 2015-991 du 7 août 2015 portant nouvelle organisation territoriale de la République",
        "short_name": "Loi NOTRe",
        "kind": "loi",
    },
    {
        "key": "ltecv",
        "title": "LOI n° 2015-992 du 17 août 2015 relative à la transition énergétique",
        "short_name": "LTECV",
        "kind": "loi",
    },
    {
        "key": "reen",
        "title": "LOI n° 2021-1485 du 15 novembre 2021 visant à réduire l'empreinte environnementale du numérique",
        "short_name": "Loi REEN",
        "kind": "loi",
    },
    {
        "key": "handicap-2005",
        "title": "LOI n° 2005-102 du 11 février 2005 pour l'égalité des droits",
        "short_name": "Loi handicap 2005",
        "kind": "loi",
    },
]
ARTICLES = [
    ("cgct", "L5214-16"),
    ("cgct", "L1425-1"),
    ("cgct", "L211-7"),
    ("environnement", "L211-7"),
    ("environnement", "R*122-2"),
    ("notre", "64"),
    ("ltecv", "64"),
    ("ltecv", "188"),
    ("reen", "35"),
    ("reen", "1"),
    ("handicap-2005", "47"),
    ("handicap-2005", "47-1"),
    ("cgct", "LO1112-12"),
]


@pytest.fixture(scope="module")
def resolver() -> ArticleResolver:
    return ArticleResolver(DOCUMENTS, ARTICLES)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("L. 5214-16", "L5214-16"),
        ("l5214-16", "L5214-16"),
        ("1er", "1"),
        ("R*122-2", "R122-2"),
        ("4 bis", "4BIS"),
    ],
)
def test_canonical_article(raw: str, canonical: str) -> None:
    assert canonical_article(raw) == canonical


@pytest.mark.parametrize(
    ("query", "targets"),
    [
        ("L5214-16", [("cgct", "L5214-16")]),
        ("que dit l'article L. 5214-16 ?", [("cgct", "L5214-16")]),
        ("article L.1425-1 du CGCT", [("cgct", "L1425-1")]),
        ("L211-7", [("cgct", "L211-7"), ("environnement", "L211-7")]),
        ("article L. 211-7 du code de l'environnement", [("environnement", "L211-7")]),
        ("R. 122-2 du code de l'environnement", [("environnement", "R*122-2")]),
        ("article 35 de la loi REEN", [("reen", "35")]),
        ("l'article 1er de la loi REEN", [("reen", "1")]),
        ("art. 47 de la loi de 2005", [("handicap-2005", "47")]),
        ("article 47-1 de la loi du 11 février 2005", [("handicap-2005", "47-1")]),
        ("article L.O. 1112-12 du CGCT", [("cgct", "LO1112-12")]),
        ("LO1112-12", [("cgct", "LO1112-12")]),
        ("article 64 de la loi NOTRe", [("notre", "64")]),
        ("article 64 de la loi n° 2015-992", [("ltecv", "64")]),
        ("article 188 de la loi du 17 août 2015", [("ltecv", "188")]),
        ("article 188 d'une loi de 2015", [("ltecv", "188")]),
    ],
)
def test_references_resolve_to_existing_articles(
    resolver: ArticleResolver, query: str, targets: list
) -> None:
    refs = resolver.resolve(query)
    assert [t for ref in refs for t in ref.targets] == targets


@pytest.mark.parametrize(
    "query",
    [
        "article 35",  # no document named
        "notre commune doit-elle publier ses données ?",  # "notre" is not the NOTRe law
        "article 99 de la loi REEN",  # no such article
        "L9999-1",
        "la loi de 2015 sur les compétences",
    ],
)
def test_no_reference(resolver: ArticleResolver, query: str) -> None:
    assert resolver.resolve(query) == []


def test_documents_named(resolver: ArticleResolver) -> None:
    assert resolver.documents_named("notre commune") == []
    assert resolver.documents_named("la loi NOTRe") == ["notre"]
    assert resolver.documents_named("Code général des collectivités territoriales") == ["cgct"]
    assert set(resolver.documents_named("une loi de 2015")) == {"notre", "ltecv"}
