"""Search results as files for trainers: a cited Markdown sheet, a CSV table for spreadsheets, or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from fastapi.responses import Response

from indexer.text.normalize import fold
from service.api.schemas import ExportFormat, SearchResponse
from service.api.schemas_knowledge import Answer, CitedPassage, MechanismOut

MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
EXCERPT_CHARS = 1500
CSV_COLUMNS = (
    "rang",
    "citation",
    "document",
    "nom_court",
    "article",
    "partie",
    "statut",
    "date_version",
    "lien",
    "score",
    "passage_id",
    "extrait",
)
# A spreadsheet runs a cell starting with one of these as a formula: such cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def file_name(query: str, extension: str) -> str:
    """A safe download name from the question, e.g. `qfq-competences-communaute-communes.md`."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(query).lower()).strip("-")[:60].strip("-")
    return f"qfq-{slug or 'recherche'}.{extension}"


def _filters_line(response: SearchResponse) -> str:
    f = response.filters
    parts = [
        f"niveau : {', '.join(f.niveau)}" if f.niveau else "",
        f"thème : {', '.join(f.theme)}" if f.theme else "",
        f"document : {', '.join(f.document)}" if f.document else "",
        f"type : {', '.join(f.type)}" if f.type else "",
        f"en vigueur le {f.date}" if f.date else "",
        "dispositions abrogées exclues" if f.en_vigueur else "dispositions abrogées incluses",
    ]
    return " ; ".join(p for p in parts if p)


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return f"{cut} […]"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


VERDICTS = {"applicable": "s'applique", "non_applicable": "ne s'applique pas", "indetermine": "à préciser"}


def _answer_rows(answer: Answer) -> list[tuple[str, str, CitedPassage]]:
    """(heading, detail, cited passage) of every citation of the answer, in order."""
    rows = []
    for level in answer.niveaux:
        for competence in level.competences:
            heading = f"{level.libelle} : {competence.intitule} — compétence {competence.categorie_libelle}"
            detail = f"depuis le {competence.depuis} ({competence.loi.nom_court})"
            rows += [(heading, detail, cited) for cited in competence.passages]
    for obligation in answer.obligations:
        verdict = f" : {VERDICTS.get(obligation.statut, obligation.statut)}" if obligation.statut else ""
        detail = f"conditions : {obligation.conditions}"
        rows += [(f"{obligation.intitule}{verdict}", detail, cited) for cited in obligation.passages]
    return rows


def _answer_markdown(answer: Answer) -> list[str]:
    lines = ["## Réponse : " + " ; ".join(subject.intitule for subject in answer.sujets), ""]
    current = ""
    for heading, detail, cited in _answer_rows(answer):
        if heading != current:
            lines += [f"**{heading}** ({detail})", ""]
            current = heading
        lines += _cited_markdown(cited, excerpt=True)
    lines += [f"*Réponse tirée des connaissances curées (reconnu : {_quoted(answer.pourquoi.mots)}).*", ""]
    return lines


def _quoted(words: Sequence[str]) -> str:
    """« a », « b »: the expressions recognised in a question, as the sheets cite them."""
    return "« " + " », « ".join(words) + " »"


def _cited_markdown(cited: CitedPassage, *, excerpt: bool) -> list[str]:
    """A passage the knowledge cites: citation, status and link (then its excerpt), or that it is missing."""
    if not cited.trouve:
        return [f"- {cited.article_id} : article absent de l'index.", ""]
    link = f" <{cited.url}>" if cited.url else ""
    lines = [f"- {cited.citation}, {cited.statut_libelle or ''}{link}", ""]
    if excerpt:
        lines += [f"> {_excerpt(cited.extrait)}", ""]
    return lines


def _mechanism_markdown(mechanism: MechanismOut) -> list[str]:
    lines = [f"## Mécanisme : {mechanism.intitule}", "", mechanism.resume, ""]
    for cited in mechanism.passages:
        lines += _cited_markdown(cited, excerpt=False)
    lines += [
        f"*Mécanisme tiré des connaissances curées (reconnu : {_quoted(mechanism.pourquoi.mots)}).*",
        "",
    ]
    return lines


def render_markdown(response: SearchResponse, generated_at: datetime | None = None) -> str:
    """A French sheet: the question, each excerpt with its citation, status, version date and link.

    Args:
        response: the search answer.
        generated_at: the time written on the sheet (now by default).

    Returns:
        Markdown text.
    """
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# {response.query}",
        "",
        f"*Fiche produite le {when} par « Qui fait quoi » (index {response.build_id}). "
        f"Filtres : {_filters_line(response)}.*",
        "",
    ]
    if response.reponse is not None:
        lines += _answer_markdown(response.reponse)
    for mechanism in response.mecanismes:
        lines += _mechanism_markdown(mechanism)
    if not response.hits:
        lines += ["Aucun passage ne correspond à la question avec ces filtres.", ""]
    for hit in response.hits:
        lines += [
            f"## {hit.rank}. {hit.citation}",
            "",
            f"- **Document** : {hit.document_title} ({hit.short_name})",
            f"- **Article** : {hit.article}" + (f" — {hit.title}" if hit.title else ""),
            f"- **Statut** : {hit.status_label}",
            f"- **Version du** : {hit.version_date}",
            f"- **Lien** : <{hit.url}>" if hit.url else "- **Lien** : (aucun)",
            "",
        ]
        lines += [f"> {line}" if line else ">" for line in _excerpt(hit.text).splitlines()]
        lines.append("")
    if response.hits:
        lines += [
            "## Références",
            "",
            "| # | Référence | Statut | Version | Lien |",
            "|---|---|---|---|---|",
        ]
        for hit in response.hits:
            link = f"[source]({hit.url})" if hit.url else ""
            lines.append(
                f"| {hit.rank} | {_cell(hit.citation)} | {hit.status_label} | {hit.version_date} | {link} |"
            )
        lines.append("")
    return "\n".join(lines)


def _safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_document(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV for French spreadsheets: `;`-separated, CRLF, UTF-8 with a BOM so Excel reads accents.

    Cells that a spreadsheet would run as a formula (starting with =, +, -, @) get a leading quote.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_cell(value) for value in row])
    return "\ufeff" + buffer.getvalue()


def _cited_row(label: str, cited: CitedPassage, note: str) -> tuple[object, ...]:
    """A CSV row for a passage cited by the knowledge (the answer card or a mechanism card)."""
    return (
        label,
        cited.citation,
        "",
        "",
        cited.article_id,
        "",
        cited.statut_libelle,
        cited.version_date,
        cited.url,
        "",
        cited.passage_id,
        f"{note}. {cited.extrait}",
    )


def _csv_rows(response: SearchResponse) -> Iterator[tuple[object, ...]]:
    if response.reponse is not None:
        for heading, detail, cited in _answer_rows(response.reponse):
            yield _cited_row("réponse", cited, f"{heading} ({detail})")
    for mechanism in response.mecanismes:
        for cited in mechanism.passages:
            yield _cited_row("mécanisme", cited, mechanism.intitule)
    for hit in response.hits:
        yield (
            hit.rank,
            hit.citation,
            hit.document_title,
            hit.short_name,
            hit.article,
            hit.part,
            hit.status_label,
            hit.version_date,
            hit.url,
            f"{hit.scores.score:.6f}".replace(".", ","),  # French spreadsheets read a decimal comma
            hit.passage_id,
            hit.text,
        )


def render_csv(response: SearchResponse) -> str:
    """One row per hit (see `csv_document`); the knowledge's answer, when there is one, comes first: one row
    per cited article, ranked « réponse »."""
    return csv_document(CSV_COLUMNS, _csv_rows(response))


def render_json(response: SearchResponse) -> str:
    """The search answer as indented JSON."""
    return json.dumps(response.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def export_response(response: SearchResponse, fmt: ExportFormat) -> Response:
    """The file answer for `fmt`, with its media type and a download name."""
    renderers = {"md": render_markdown, "csv": render_csv, "json": render_json}
    body = renderers[fmt](response)
    return Response(
        content=body.encode("utf-8"),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(response.query, fmt)}"',
            "X-Build-Id": response.build_id,
        },
    )
