"""Hand-made documents and passages shared by the bundle, store, retriever and service tests."""

from __future__ import annotations

from indexer.models import Document, Link, Passage, Status

DOCS = {
    "cgct": ("Code général des collectivités territoriales", "CGCT", "code"),
    "reen": (
        "LOI n° 2021-1485 du 15 novembre 2021 visant à réduire l'empreinte environnementale du numérique",
        "Loi REEN",
        "loi",
    ),
    "handicap-2005": (
        "LOI n° 2005-102 du 11 février 2005 pour l'égalité des droits et des chances",
        "Loi handicap 2005",
        "loi",
    ),
    "guide-nr": ("Guide stratégie numérique responsable", "Guide numérique responsable", "guide"),
}


def make_document(key: str) -> Document:
    title, short_name, kind = DOCS[key]
    return Document(
        key=key,
        title=title,
        short_name=short_name,
        kind=kind,
        official_id="",
        url=f"https://example.org/{key}",
        format="test",
        path=f"{key}.json",
        version_date="2025-07-13" if kind != "code" else "2020-10-28",
        source="tests",
        licence="Licence Ouverte 2.0",
    )


def make_passage(
    doc_key: str,
    article: str,
    text: str,
    *,
    part: int = 0,
    status: Status = Status.EN_VIGUEUR,
    date_debut: str = "",
    date_fin: str = "",
    levels: list[str] | None = None,
    themes: list[str] | None = None,
    header: str = "",
    title: str = "",
) -> Passage:
    title_, short_name, kind = DOCS[doc_key]
    pid = f"{doc_key}/{article}" + (f"#{part}" if part else "")
    return Passage(
        id=pid,
        doc_key=doc_key,
        doc_title=title_,
        short_name=short_name,
        kind=kind,
        article=article,
        part=part,
        text=text,
        header=header or f"{short_name} > art. {article}",
        heading_path=["Partie législative", "Titre Ier"],
        status=status,
        date_debut=date_debut,
        date_fin=date_fin,
        version_date="2020-10-28",
        links=[Link(kind="modifie", text="Loi n°2015-991 du 7 août 2015 - art. 64", date="2015-08-07")],
        url=f"https://www.legifrance.gouv.fr/{pid}",
        pages=[],
        levels=levels or [],
        themes=themes or [],
        tag_reasons={t: ["mot-clé"] for t in (themes or [])},
        title=title,
        amended_by=["Loi n°2015-991 du 7 août 2015"],
    )


def sample_passages() -> list[Passage]:
    """A dozen passages covering statuses, dates, split articles, levels and themes."""
    return [
        make_passage(
            "cgct",
            "L5214-16",
            "La communauté de communes exerce de plein droit au lieu et place des communes membres les "
            "compétences relevant de chacun des groupes suivants : aménagement de l'espace, développement "
            "économique, collecte et traitement des déchets des ménages.",
            levels=["intercommunalite"],
            themes=["competences"],
            date_debut="2020-01-01",
            date_fin="2999-01-01",
        ),
        make_passage(
            "cgct",
            "L5216-5",
            "La communauté d'agglomération exerce de plein droit au lieu et place des communes membres "
            "les compétences suivantes : développement économique et mobilité.",
            part=1,
            levels=["intercommunalite"],
            themes=["competences", "mobilite"],
        ),
        make_passage(
            "cgct",
            "L5216-5",
            "La communauté d'agglomération peut en outre exercer des compétences optionnelles : voirie, "
            "assainissement, eau, protection de l'environnement.",
            part=2,
            levels=["intercommunalite"],
            themes=["competences", "eau"],
        ),
        make_passage(
            "cgct",
            "L1425-1",
            "Les collectivités territoriales et leurs groupements peuvent établir et exploiter des "
            "infrastructures et des réseaux de communications électroniques.",
            levels=["commune", "departement", "region"],
            themes=["numerique"],
        ),
        make_passage(
            "cgct",
            "L1414-7",
            "Les contrats de partenariat et marchés de partenariat public privé sont soumis à une "
            "procédure de publicité.",
            status=Status.ABROGE,
            date_debut="2010-01-01",
            date_fin="2016-04-01",
            levels=["commune"],
            themes=["commande-publique"],
        ),
        make_passage(
            "cgct",
            "L2224-13",
            "Les communes ou les établissements publics de coopération intercommunale assurent la "
            "collecte et le traitement des déchets des ménages.",
            levels=["commune", "intercommunalite"],
            themes=["dechets"],
        ),
        make_passage(
            "cgct",
            "L2121-29",
            "Le conseil municipal règle par ses délibérations les affaires de la commune.",
            levels=["commune"],
            themes=["gouvernance"],
        ),
        make_passage(
            "cgct",
            "L5217-2",
            "La métropole exerce de plein droit les compétences en matière de mobilité et de voirie.",
            status=Status.A_VENIR,
            date_debut="2030-01-01",
            date_fin="2999-01-01",
            levels=["intercommunalite"],
            themes=["competences", "mobilite"],
        ),
        make_passage(
            "reen",
            "35",
            "Les communes et les établissements publics de coopération intercommunale de plus de 50 000 "
            "habitants définissent une stratégie numérique responsable.",
            levels=["commune", "intercommunalite"],
            themes=["numerique"],
        ),
        make_passage(
            "reen",
            "1",
            "Les formations d'ingénieurs comportent un module relatif à la sobriété numérique.",
            themes=["numerique"],
        ),
        make_passage(
            "handicap-2005",
            "47",
            "Les services de communication au public en ligne des collectivités territoriales doivent "
            "être accessibles aux personnes handicapées.",
            levels=["commune", "departement", "region"],
            themes=["numerique", "accessibilite"],
        ),
        make_passage(
            "guide-nr",
            "introduction",
            "La sobriété numérique des collectivités réduit l'empreinte environnementale des services "
            "numériques.",
            part=1,
            title="Introduction",
            header="Guide numérique responsable > Introduction",
            levels=["commune"],
            themes=["numerique"],
        ),
    ]
