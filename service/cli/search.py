"""`qfq search`: answer a question from the published index, as readable French text or JSON."""

from __future__ import annotations

import json
import textwrap
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from indexer.errors import QfqError
from indexer.models import STATUS_LABELS, Status
from service.cli.output import EXIT_FAILURE, EXIT_USAGE, cli_settings, fail

_EXCERPT_CHARS = 420


def _values(options: list[str] | None) -> tuple[str, ...]:
    return tuple(part.strip() for value in options or [] for part in value.split(",") if part.strip())


def _check_taxonomy(levels: tuple[str, ...], themes: tuple[str, ...]) -> None:
    # Checked before the model loads, so a typo costs no waiting.
    try:
        from indexer.text.tagging import load_taxonomy

        taxonomy = load_taxonomy()
    except (ImportError, OSError, KeyError, ValueError):
        return  # the retriever checks against the values present in the index
    for label, option, wanted, allowed in (
        ("niveau", "--niveau", levels, taxonomy.level_ids()),
        ("thème", "--theme", themes, taxonomy.theme_ids()),
    ):
        unknown = [v for v in wanted if v not in allowed]
        if unknown:
            raise QfqError(
                f"Valeur de {label} inconnue pour {option} : {', '.join(unknown)}. "
                f"Valeurs possibles : {', '.join(allowed)}.",
                code="filtre_invalide",
            )


def _score_line(hit) -> str:  # noqa: ANN001 - indexer.search.retriever.Hit, imported lazily
    parts = [f"score {hit.score:.4f}".replace(".", ",")]
    if hit.dense_score is not None:
        rank = f", rang {hit.dense_rank}" if hit.dense_rank else ""
        parts.append(f"dense {hit.dense_score:.3f}{rank}".replace(".", ","))
    rank = f", rang {hit.lexical_rank}" if hit.lexical_rank else ""
    parts.append(f"lexical {hit.lexical_score:.2f}{rank}".replace(".", ","))
    parts.append(f"fusion {hit.fused_score:.4f}".replace(".", ","))
    if hit.level_match:
        parts.append("niveau de la question")
    return " · ".join(parts)


def _period(start: str, end: str) -> str:
    # Légifrance writes 2999-01-01 as the end of a version still in force.
    if end.startswith("2999"):
        end = ""
    if start and end:
        return f"version en vigueur du {start} au {end}"
    if start:
        return f"version en vigueur depuis le {start}"
    return f"version en vigueur jusqu'au {end}" if end else ""


def render_text(result, console: Console) -> None:  # noqa: ANN001 - indexer.search.retriever.SearchResult
    """Print a search result as numbered, cited French paragraphs."""
    if not result.hits:
        console.print("Aucun passage ne correspond à la question avec ces filtres.")
        return
    for number, hit in enumerate(result.hits, start=result.offset + 1):
        passage = hit.passage
        status = STATUS_LABELS.get(Status(passage.status), str(passage.status))
        title = Text(f"{number}. {passage.citation()}", style="bold")
        if passage.part:
            title.append(f", partie {passage.part}", style="bold")
        title.append(f" — {status}", style="red" if passage.status == Status.ABROGE else "green")
        if hit.article_match:
            title.append("  [article cité dans la question]", style="magenta")
        console.print(title)
        lines: list[Text] = []
        if passage.heading_path:
            lines.append(Text(" > ".join(passage.heading_path[-3:]), style="dim"))
        excerpt = textwrap.shorten(passage.text, _EXCERPT_CHARS, placeholder=" […]")
        body = Text("« " + excerpt + " »")
        body.highlight_words(hit.matched_terms, style="bold yellow", case_sensitive=True)
        lines.append(body)
        period = _period(passage.date_debut, passage.date_fin)
        if period:
            lines.append(Text(period, style="dim"))
        if passage.url:
            lines.append(Text(passage.url, style="blue"))
        lines.append(Text(_score_line(hit), style="dim"))
        if hit.other_parts:
            lines.append(Text(f"autres parties : {', '.join(hit.other_parts)}", style="dim"))
        for line in lines:
            console.print(Padding(line, (0, 0, 0, 3)))
        console.print()
    shown = len(result.hits)
    console.print(
        Text(
            f"{shown} résultat(s) sur {result.total_candidates} candidats · {result.took_ms:.0f} ms · "
            f"mode {result.mode}"
            + (
                " (lexical : l'index n'a pas encore ses vecteurs)"
                if result.effective_mode != result.mode
                else ""
            )
            + (f" · niveaux reconnus : {', '.join(result.query_levels)}" if result.query_levels else ""),
            style="dim",
        )
    )


VERDICTS = {"applicable": "s'applique", "non_applicable": "ne s'applique pas", "indetermine": "à préciser"}


def _quoted(words: list[str]) -> str:
    """« a », « b »: the expressions recognised in the question."""
    return "« " + " », « ".join(words) + " »"


def _citation_lines(passages: list[dict[str, Any]]) -> list[Text]:
    lines = []
    for cited in passages:
        if cited["trouve"]:
            status = f" — {cited['statut_libelle']}" if cited.get("statut_libelle") else ""
            lines.append(Text(f"{cited['citation']}{status}", style="bold"))
            lines.append(Text(cited["extrait"]))
        else:
            lines.append(Text(f"{cited['article_id']} : article absent de l'index.", style="yellow"))
    return lines


def render_answer(answer: dict[str, Any], console: Console) -> None:
    """Print the knowledge's answer (`Answer.to_dict`) above the passages."""
    subjects = " ; ".join(s["intitule"] for s in answer["sujets"])
    console.print(Text(f"Réponse : {subjects}", style="bold blue"))
    lines: list[Text] = []
    for level in answer["niveaux"]:
        for competence in level["competences"]:
            law = competence["loi"]["nom_court"]
            lines.append(
                Text(
                    f"{level['libelle']} : {competence['intitule']} — compétence {competence['categorie_libelle']}, "
                    f"depuis le {competence['depuis']} ({law})",
                    style="bold",
                )
            )
            lines += _citation_lines(competence["passages"])
            if competence["dernier_changement"]:
                change = competence["dernier_changement"]
                lines.append(
                    Text(
                        f"Dernier changement : {change['date']}, {change['loi']['nom_court']} — {change['resume']}"
                    )
                )
            if competence["note"]:
                lines.append(Text(competence["note"], style="dim"))
    for obligation in answer["obligations"]:
        verdict = f" : {VERDICTS[obligation['statut']]}" if obligation["statut"] else ""
        lines.append(Text(f"{obligation['intitule']}{verdict}", style="bold"))
        lines += [Text(f"- {reason}") for reason in obligation["motifs"]]
        if obligation["manquants"]:
            missing = ", ".join(m["libelle"] for m in obligation["manquants"])
            lines.append(Text(f"Pour conclure, il faut savoir : {missing}."))
        lines.append(Text(f"Conditions : {obligation['conditions']}", style="dim"))
        lines += _citation_lines(obligation["passages"])
    why = answer["pourquoi"]
    reason = _quoted(why["mots"])
    if why["niveaux_reconnus"]:
        reason += " ; niveaux : " + ", ".join(why["niveaux_reconnus"])
    lines.append(Text(f"Pourquoi : {reason}. Vérifiez l'article cité.", style="dim"))
    for line in lines:
        console.print(Padding(line, (0, 0, 0, 3)))
    console.print()


def render_mechanisms(mechanisms: list[dict[str, Any]], console: Console) -> None:
    """Print the mechanisms the question names (`MechanismMatch.to_dict`) above the passages."""
    for mechanism in mechanisms:
        console.print(Text(f"Mécanisme : {mechanism['intitule']}", style="bold blue"))
        lines = [Text(mechanism["resume"]), *_citation_lines(mechanism["passages"])]
        lines.append(
            Text(
                f"Pourquoi : {_quoted(mechanism['pourquoi']['mots'])}. Vérifiez les articles cités.",
                style="dim",
            )
        )
        for line in lines:
            console.print(Padding(line, (0, 0, 0, 3)))
        console.print()


def search(
    question: Annotated[str, typer.Argument(help="La question, en français.")],
    niveau: Annotated[
        list[str] | None,
        typer.Option("--niveau", help="Niveau de collectivité (répétable), ex. commune, region."),
    ] = None,
    theme: Annotated[
        list[str] | None, typer.Option("--theme", help="Thème (répétable), ex. dechets, mobilite.")
    ] = None,
    document: Annotated[
        list[str] | None, typer.Option("--document", help="Clé de document (répétable), ex. cgct, reen.")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="Type de texte (répétable) : code, loi, guide.")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--nombre", min=1, max=100, help="Nombre de résultats.")] = 10,
    offset: Annotated[int, typer.Option("--decalage", min=0, help="Résultats à sauter (pagination).")] = 0,
    tout: Annotated[
        bool, typer.Option("--tout", help="Inclure les textes abrogés (exclus par défaut).")
    ] = False,
    date: Annotated[
        str | None, typer.Option("--date", help="Textes en vigueur à cette date (AAAA-MM-JJ).")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid (défaut), dense ou lexical.")] = "hybrid",
    par_article: Annotated[
        bool, typer.Option("--par-article", help="Un résultat par article (meilleure partie).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Résultats en JSON.")] = False,
) -> None:
    """Cherche les passages qui répondent à une question, avec leurs citations et leurs scores."""
    from indexer.knowledge.answer import curated_answerer
    from indexer.search.ask import Asker
    from indexer.search.filters import SearchFilters
    from indexer.search.retriever import Retriever

    console = Console()
    settings = cli_settings()
    try:
        levels, themes = _values(niveau), _values(theme)
        _check_taxonomy(levels, themes)
        filters = SearchFilters(
            levels=levels,
            themes=themes,
            documents=_values(document),
            kinds=_values(kind),
            include_abrogated=tout,
            date=date,
        )
        retriever = Retriever.open(settings)
        answerer = curated_answerer()
        reply = Asker(retriever, answerer).ask(
            question, k=k, filters=filters, mode=mode, offset=offset, group_by_article=par_article
        )
        result = reply.result
        answer = (
            reply.answer.to_dict(answerer.knowledge, answerer.taxonomy, retriever)
            if reply.answer is not None and answerer is not None
            else None
        )
        mechanisms = [m.to_dict(retriever) for m in reply.mechanisms]
    except QfqError as exc:
        usage = exc.code in {"filtre_invalide", "date_invalide"}
        raise fail(exc, exit_code=EXIT_USAGE if usage else EXIT_FAILURE) from exc
    if as_json:
        data = result.to_dict()
        data["reponse"] = answer
        data["mecanismes"] = mechanisms
        data["build_id"] = retriever.build_id
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        if answer is not None:
            render_answer(answer, console)
        render_mechanisms(mechanisms, console)
        render_text(result, console)
