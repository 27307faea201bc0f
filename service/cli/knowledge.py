"""`qfq profil`, `qfq competences` and `qfq impact`: the curated knowledge on the command line, in French."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from indexer.errors import QfqError
from service.citations_check import with_warning
from service.cli.output import EXIT_USAGE, cli_settings, fail

KIND_PLURALS = {
    "cree": "créé(s)",
    "modifie": "modifié(s)",
    "abroge": "abrogé(s)",
    "transfere": "transféré(s)",
    "codifie": "codifié(s)",
}


def _kind_label(kind: str) -> str:
    return KIND_PLURALS.get(kind, kind).removesuffix("(s)")


def _criteria(values: list[str] | None) -> dict[str, bool]:
    answers: dict[str, bool] = {}
    for value in values or []:
        name, sep, answer = value.partition("=")
        answer = answer.strip().lower()
        if not sep or answer not in ("oui", "non"):
            raise QfqError(
                f"Critère mal écrit : « {value} » (attendu : nom=oui ou nom=non, ex. site_internet=oui).",
                code="critere_invalide",
            )
        answers[name.strip()] = answer == "oui"
    return answers


def _number(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _print_profile(result: dict[str, Any]) -> None:
    profile = result["profil"]
    size = []
    if profile["population"] is not None:
        size.append(f"{_number(profile['population'])} habitants")
    if profile["agents"] is not None:
        size.append(f"{_number(profile['agents'])} agents")
    typer.echo(
        f"{profile['type_libelle']}" + (f", {', '.join(size)}" if size else "") + f" — au {profile['date']}"
    )
    sections = (
        ("applicables", "Obligations applicables"),
        ("indetermines", "À préciser (informations manquantes)"),
        ("non_applicables", "Obligations qui ne s'appliquent pas"),
    )
    for key, title in sections:
        typer.echo(f"\n{title} ({len(result[key])}) :")
        for item in result[key]:
            typer.echo(f"  - {item['intitule']}")
            typer.echo(f"    base : {', '.join(item['base'])} ({item['loi']['nom_court']})")
            if item["motifs"]:
                typer.echo(f"    motif : {' ; '.join(item['motifs'])}")
            if item["manquants"]:
                for missing in item["manquants"]:
                    typer.echo(f"    à préciser : {missing['donnee']} — {missing['libelle']}")
            if item["prochaine_echeance"]:
                deadline = item["prochaine_echeance"]
                typer.echo(f"    échéance : {deadline['date']} — {deadline['objet']}")
    typer.echo("\nCritères possibles (--critere nom=oui|non) : " + ", ".join(result["criteres_disponibles"]))


def profil(
    type_: Annotated[
        str, typer.Option("--type", help="Type de collectivité, ex. commune, communaute-d-agglomeration.")
    ],
    population: Annotated[int | None, typer.Option("--population", min=0, help="Nombre d'habitants.")] = None,
    agents: Annotated[
        int | None, typer.Option("--agents", min=0, help="Agents en équivalents temps plein.")
    ] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="Date d'évaluation AAAA-MM-JJ (aujourd'hui).")
    ] = None,
    critere: Annotated[
        list[str] | None,
        typer.Option("--critere", help="Réponse à un critère, ex. site_internet=oui (répétable)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Un objet JSON : applicables, non_applicables, indetermines.")
    ] = False,
) -> None:
    """Les obligations qui s'appliquent à une collectivité, celles qui ne s'appliquent pas et celles à préciser."""
    from indexer.index.lookup import default_lookup
    from indexer.knowledge.load import load_knowledge
    from indexer.knowledge.profile import evaluate_profile, make_profile

    settings = cli_settings()
    try:
        knowledge = load_knowledge()
        profile = make_profile(knowledge, type_, population, agents, date, _criteria(critere))
        result = with_warning(
            evaluate_profile(knowledge, profile, default_lookup(settings)).to_dict(knowledge)
        )
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_profile(result)
    if result["avertissement"]:
        typer.echo(f"Attention : {result['avertissement']}", err=True)


def competences(
    niveau: Annotated[str, typer.Option("--niveau", help="Niveau, ex. communaute-de-communes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Réponse en JSON.")] = False,
) -> None:
    """Les compétences d'un niveau de collectivité, par thème, avec leur base légale."""
    from indexer.index.lookup import default_lookup
    from indexer.knowledge.competences import competences_report
    from indexer.knowledge.load import load_knowledge

    try:
        knowledge = load_knowledge()
        report = competences_report(knowledge, niveau, default_lookup(cli_settings()) if as_json else None)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    if as_json:
        report = with_warning(report)
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        if report["avertissement"]:
            typer.echo(f"Attention : {report['avertissement']}", err=True)
        return
    typer.echo(f"{report['libelle']} : {report['total']} compétences")
    for theme in report["themes"]:
        typer.echo(f"\n{theme['libelle']} :")
        for item in theme["competences"]:
            typer.echo(f"  - [{item['categorie_libelle']}] {item['intitule']}")
            typer.echo(
                f"    base : {', '.join(item['base'])} — depuis le {item['depuis']} ({item['loi']['nom_court']})"
            )
            for change in item["changements"]:
                typer.echo(f"    {change['date']} ({change['loi']['nom_court']}) : {change['resume']}")


def impact(
    loi: Annotated[str, typer.Option("--loi", help="Clé de la loi, ex. notre, maptam, ltecv.")],
    niveau: Annotated[str | None, typer.Option("--niveau", help="Ne garder que ce niveau.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Réponse en JSON.")] = False,
) -> None:
    """Les articles des codes qu'une loi a créés, modifiés ou abrogés, par niveau et thème."""
    from indexer.corpus.lookup import corpus_lookup
    from indexer.knowledge.impact import impact_report
    from indexer.knowledge.load import load_knowledge

    settings = cli_settings()
    try:
        report = impact_report(load_knowledge(), loi, corpus_lookup(settings), level=niveau)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    law = report["loi"]
    kinds = ", ".join(
        f"{count} {KIND_PLURALS.get(kind, kind)}" for kind, count in report["par_nature"].items()
    )
    typer.echo(
        f"{law['titre']} : {report['total_articles']} article(s) touché(s)" + (f" ({kinds})" if kinds else "")
    )
    for group in report["niveaux"]:
        typer.echo(f"\n{group['libelle']} ({group['total_articles']}) :")
        for theme in group["themes"]:
            articles = ", ".join(
                f"{a['article_id']} ({'/'.join(_kind_label(k) for k in a['natures'])} {a['premiere_date']})"
                for a in theme["articles"]
            )
            typer.echo(f"  {theme['libelle']} : {articles}")
    for remark in report["remarques"]:
        typer.echo(f"\nRemarque : {remark}")


SHORT_CATEGORIES = {
    "obligatoire": "oblig.",
    "optionnelle-ou-supplementaire": "option.",
    "partagee": "partagée",
    "chef-de-file": "chef de file",
    "facultative": "facult.",
}


def matrice(
    niveau: Annotated[
        list[str] | None, typer.Option("--niveau", help="Niveau (colonne) à garder, répétable.")
    ] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Thème à garder.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="La matrice en JSON (comme GET /v1/matrice).")
    ] = False,
) -> None:
    """La matrice « qui fait quoi » : sujets en lignes, niveaux en colonnes, catégorie et base légale."""
    from indexer.index.lookup import default_lookup
    from indexer.knowledge.load import load_knowledge
    from indexer.knowledge.matrix import competence_matrix
    from indexer.text.tagging import load_taxonomy

    settings = cli_settings()
    try:
        lookup = default_lookup(settings) if as_json else None
        report = competence_matrix(load_knowledge(), load_taxonomy(), lookup, niveau or [], theme)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    levels = report["niveaux"]
    typer.echo("Colonnes : " + " | ".join(level["libelle"] for level in levels))
    for group in report["themes"]:
        typer.echo(f"\n{group['libelle']}")
        for row in group["lignes"]:
            cells = []
            for level in levels:
                cell = row["cellules"][level["id"]]
                cells.append(
                    "—"
                    if cell is None
                    else f"{SHORT_CATEGORIES[cell['categorie']]} ({', '.join(cell['base'])})"
                )
            typer.echo(f"  {row['intitule']} : " + " | ".join(cells))
    legend = ", ".join(f"{short} = {report['legende'][key]}" for key, short in SHORT_CATEGORIES.items())
    typer.echo(f"\nLégende : {legend} ; — = aucune compétence décrite pour ce niveau.")
