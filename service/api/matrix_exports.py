"""The « qui fait quoi » matrix as files a trainer edits and projects: OpenDocument (.ods), .xlsx and CSV.

Each workbook has three sheets: « Matrice » (subjects as rows, levels as columns, the category in each cell,
then the legend, sources and version dates), « Détail » (one row per filled cell: legal basis, version date,
link, note, last change) and « Légende ». The CSV is the « Détail » table, for French spreadsheet software.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi.responses import Response

from service.api.exports import csv_document

MatrixFormat = Literal["json", "ods", "xlsx", "csv"]
MATRIX_MEDIA_TYPES: dict[str, str] = {
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
DETAIL_COLUMNS = (
    "theme",
    "sujet",
    "niveau",
    "categorie",
    "base_legale",
    "version_du",
    "lien",
    "depuis",
    "note",
    "dernier_changement_date",
    "dernier_changement_loi",
    "dernier_changement_resume",
)
NO_CELL = ""  # a level without a described competence on the subject: an empty cell


def grid(matrix: dict[str, Any]) -> list[list[str]]:
    """The « Matrice » sheet's table: a header row, then one row per subject (theme, subject, categories)."""
    levels = matrix["niveaux"]
    rows = [["Thème", "Sujet", *(level["libelle"] for level in levels)]]
    for group in matrix["themes"]:
        for row in group["lignes"]:
            cells = [row["cellules"][level["id"]] for level in levels]
            rows.append(
                [
                    group["libelle"],
                    row["intitule"],
                    *(NO_CELL if cell is None else cell["categorie_libelle"] for cell in cells),
                ]
            )
    return rows


def detail_rows(matrix: dict[str, Any]) -> Iterator[list[str]]:
    """One row per filled cell, in the order of `DETAIL_COLUMNS`."""
    for group in matrix["themes"]:
        for row in group["lignes"]:
            for level in matrix["niveaux"]:
                cell = row["cellules"][level["id"]]
                if cell is None:
                    continue
                change = cell["dernier_changement"]
                yield [
                    group["libelle"],
                    row["intitule"],
                    level["libelle"],
                    cell["categorie_libelle"],
                    ", ".join(cell["base"]),
                    cell["version_date"] or "",
                    cell["url"] or "",
                    cell["depuis"],
                    cell["note"] or "",
                    change["date"],
                    change["loi"],
                    change["resume"] or "",
                ]


def sources_line(matrix: dict[str, Any]) -> str:
    """« Sources : cgct (version du 2020-10-28), … »: each cited document with the version dates of its articles."""
    dates: dict[str, set[str]] = {}
    for group in matrix["themes"]:
        for row in group["lignes"]:
            for cell in row["cellules"].values():
                if cell is None:
                    continue
                for ref in cell["base"]:
                    found = dates.setdefault(ref.split("/", 1)[0], set())
                    if cell["version_date"]:
                        found.add(cell["version_date"])
    parts = [
        f"{doc} (version du {', '.join(sorted(found))})" if found else doc
        for doc, found in sorted(dates.items())
    ]
    return "Sources : " + "; ".join(parts) + "." if parts else "Sources : aucune."


def footer_lines(matrix: dict[str, Any], generated_at: datetime | None = None) -> list[str]:
    """Legend, sources with version dates, and the production line printed under the matrix."""
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d")
    legend = ", ".join(matrix["legende"].values())
    return [
        f"Légende : catégorie de la compétence ({legend}) ; case vide : aucune compétence décrite.",
        sources_line(matrix),
        f"Produit le {when} par « Qui fait quoi » à partir des connaissances curées ; vérifiez la version en "
        "vigueur sur Légifrance avant de citer.",
    ]


def _legend_rows(matrix: dict[str, Any]) -> list[list[str]]:
    return [["Catégorie", "Libellé"], *([key, label] for key, label in matrix["legende"].items())]


def render_ods(matrix: dict[str, Any], generated_at: datetime | None = None) -> bytes:
    """The matrix as an OpenDocument spreadsheet (odfdo)."""
    from odfdo import Document, Table

    document = Document("spreadsheet")
    body = document.body
    body.clear()
    main = grid(matrix)
    sheets: list[tuple[str, list[list[str]]]] = [
        ("Matrice", [*main, [], *([line] for line in footer_lines(matrix, generated_at))]),
        ("Détail", [list(DETAIL_COLUMNS), *detail_rows(matrix)]),
        ("Légende", _legend_rows(matrix)),
    ]
    for name, rows in sheets:
        table = Table(name)
        width = max(len(row) for row in rows)
        table.set_values([[*row, *([None] * (width - len(row)))] for row in rows])
        body.append(table)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_xlsx(matrix: dict[str, Any], generated_at: datetime | None = None) -> bytes:
    """The matrix as an Excel workbook (openpyxl), header bold and frozen, links clickable."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "Matrice"
    for row in grid(matrix):
        sheet.append(row)
    sheet.append([])
    for line in footer_lines(matrix, generated_at):
        sheet.append([line])
    sheet.freeze_panes = "C2"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 40
    detail = workbook.create_sheet("Détail")
    detail.append(list(DETAIL_COLUMNS))
    link_column = DETAIL_COLUMNS.index("lien") + 1
    for values in detail_rows(matrix):
        detail.append(values)
        url = values[link_column - 1]
        if url:
            detail.cell(row=detail.max_row, column=link_column).hyperlink = url
    detail.freeze_panes = "A2"
    for cell in detail[1]:
        cell.font = Font(bold=True)
    legend = workbook.create_sheet("Légende")
    for row in _legend_rows(matrix):
        legend.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render_csv(matrix: dict[str, Any]) -> str:
    """The « Détail » table as CSV for French spreadsheets (see `service.api.exports.csv_document`)."""
    return csv_document(DETAIL_COLUMNS, detail_rows(matrix))


def file_name(levels: list[str], theme: str | None, extension: str) -> str:
    """`qfq-matrice.ods`, `qfq-matrice-dechets.xlsx`, `qfq-matrice-commune-region.csv`…"""
    parts = ["qfq-matrice", *levels, *([theme] if theme else [])]
    return "-".join(parts)[:100] + f".{extension}"


def matrix_file(matrix: dict[str, Any], fmt: str, levels: list[str], theme: str | None) -> tuple[bytes, str]:
    """The file's bytes and its download name."""
    if fmt == "ods":
        body = render_ods(matrix)
    elif fmt == "xlsx":
        body = render_xlsx(matrix)
    else:
        body = render_csv(matrix).encode("utf-8")
    return body, file_name(levels, theme, fmt)


def matrix_response(matrix: dict[str, Any], fmt: str, levels: list[str], theme: str | None) -> Response:
    """The download answer: media type and `Content-Disposition` with the file name."""
    body, name = matrix_file(matrix, fmt, levels, theme)
    return Response(
        content=body,
        media_type=MATRIX_MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
