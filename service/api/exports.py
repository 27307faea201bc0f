"""Search results as files for trainers: a cited Markdown sheet, a CSV table for spreadsheets, or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

from fastapi.responses import Response

from indexer.text.normalize import fold
from service.api.schemas import ExportFormat, SearchResponse

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


def render_csv(response: SearchResponse) -> str:
    """One row per hit, semicolon-separated (French spreadsheets), UTF-8 with a BOM so Excel reads accents.

    Cells that a spreadsheet would run as a formula (starting with =, +, -, @) get a leading quote.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for hit in response.hits:
        row = (
            hit.rank,
            hit.citation,
            hit.document_title,
            hit.short_name,
            hit.article,
            hit.part,
            hit.status_label,
            hit.version_date,
            hit.url,
            f"{hit.scores.score:.6f}",
            hit.passage_id,
            hit.text,
        )
        writer.writerow([_safe_cell(value) for value in row])
    return "\ufeff" + buffer.getvalue()


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
