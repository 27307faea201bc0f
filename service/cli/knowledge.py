"""`qfq profil`, `competences`, `impact`, `matrice` and `changements`: the curated knowledge on the command line,
in French."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

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


MATRIX_FORMATS = ("texte", "json", "ods", "xlsx", "csv")


def _print_matrix(report: dict[str, Any]) -> None:
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


def matrice(
    niveau: Annotated[
        list[str] | None, typer.Option("--niveau", help="Niveau (colonne) à garder, répétable.")
    ] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Thème à garder.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="La matrice en JSON (comme GET /v1/matrice) ; = --format json.")
    ] = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="texte (défaut), json, ou un fichier : ods (OpenDocument), xlsx, csv (tableur français).",
        ),
    ] = "texte",
    sortie: Annotated[
        Path | None,
        typer.Option("--sortie", help="Fichier à écrire (par défaut qfq-matrice….ods|xlsx|csv ici)."),
    ] = None,
) -> None:
    """La matrice « qui fait quoi » : sujets en lignes, niveaux en colonnes, catégorie et base légale ;
    en fichier .ods, .xlsx ou .csv à modifier et projeter."""
    from indexer.index.lookup import default_lookup
    from indexer.knowledge.load import load_knowledge
    from indexer.knowledge.matrix import competence_matrix
    from indexer.text.tagging import load_taxonomy
    from service.api.matrix_exports import matrix_file

    fmt = "json" if as_json else fmt
    if fmt not in MATRIX_FORMATS:
        raise fail(
            f"Format inconnu : « {fmt} ». Formats acceptés : {', '.join(MATRIX_FORMATS)}.",
            code="parametre_invalide",
            exit_code=EXIT_USAGE,
        )
    settings = cli_settings()
    try:
        lookup = default_lookup(settings) if fmt != "texte" else None
        report = competence_matrix(load_knowledge(), load_taxonomy(), lookup, niveau or [], theme)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    if fmt == "json":
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    elif fmt == "texte":
        _print_matrix(report)
    else:
        body, name = matrix_file(report, fmt, niveau or [], theme)
        target = sortie or Path(name)
        try:
            target.write_bytes(body)
        except OSError as exc:
            raise fail(
                f"Écriture impossible dans « {target} » : {exc.strerror}.", code="ecriture_impossible"
            ) from exc
        rows = sum(len(group["lignes"]) for group in report["themes"])
        typer.echo(f"Matrice écrite dans {target} ({rows} sujets, {len(report['niveaux'])} niveaux).")


CHANGE_NOUNS = {"cree": "création(s)", "modifie": "modification(s)", "abroge": "abrogation(s)"}


def _print_changes(report: dict[str, Any]) -> None:
    kinds = ", ".join(f"{n} {CHANGE_NOUNS.get(k, k)}" for k, n in report["par_nature"].items())
    typer.echo(
        f"{report['libelle']} : {report['total_articles']} article(s) changé(s) depuis le {report['depuis']}"
        + (f" ; changements : {kinds}" if kinds else "")
    )
    for group in report["themes"]:
        typer.echo(f"\n{group['libelle']} ({len(group['articles'])}) :")
        for article in group["articles"]:
            typer.echo(f"  {article['nom_court']}, art. {article['article']} :")
            for event in article["evenements"]:
                texts = " ; ".join(event["textes"]) or "texte non nommé dans l'historique"
                estimated = " (date du texte)" if event["date_estimee"] else ""
                typer.echo(f"    {event['date']}{estimated} {event['nature_libelle']} par {texts}")
    if report["evolutions"]:
        typer.echo("\nÉvolutions des connaissances curées :")
        for item in report["evolutions"]:
            typer.echo(
                f"  {item['date']} {item['intitule']} ({item['loi']['nom_court']}) : {item['resume'] or ''}"
            )
            typer.echo(f"    base : {', '.join(item['citations'] or item['base'])}")
    for remark in report["remarques"]:
        typer.echo(f"\nRemarque : {remark}")


def changements(
    niveau: Annotated[str, typer.Option("--niveau", help="Niveau, ex. communaute-de-communes.")],
    depuis: Annotated[
        str | None,
        typer.Option("--depuis", help="Date AAAA-MM-JJ (incluse) ; par défaut les 365 derniers jours."),
    ] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Thème à garder.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Réponse en JSON (comme GET /v1/changements).")
    ] = False,
    atom: Annotated[
        bool, typer.Option("--atom", help="Le flux Atom (comme GET /v1/changements.atom).")
    ] = False,
    adresse: Annotated[
        str | None,
        typer.Option(
            "--adresse", help="Adresse du service dans les liens du flux (http://QFQ_HOST:QFQ_PORT)."
        ),
    ] = None,
) -> None:
    """Veille : articles concernant un niveau créés, modifiés ou abrogés depuis une date, par thème, avec le
    texte modificatif ; évolutions curées ; limites du corpus."""
    from indexer.corpus.lookup import corpus_lookup
    from indexer.index.lookup import default_lookup
    from indexer.knowledge.changes import changes_report
    from indexer.knowledge.load import load_knowledge
    from indexer.text.tagging import load_taxonomy
    from service.api.feeds import render_atom

    settings = cli_settings()
    try:
        taxonomy = load_taxonomy()
        report = changes_report(
            load_knowledge(),
            taxonomy,
            corpus_lookup(settings),
            default_lookup(settings),
            niveau,
            depuis,
            theme,
        )
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    if atom:
        query = urlencode(
            [("niveau", niveau), *([("theme", theme)] if theme else []), ("depuis", report["depuis"])]
        )
        base = (adresse or f"http://{settings.host}:{settings.port}").rstrip("/")
        feed = render_atom(
            report, f"{base}/v1/changements.atom?{query}", f"{base}/changements?{query}", taxonomy.labels()
        )
        typer.echo(feed.decode("utf-8"))
    elif as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_changes(report)
