"""The matrix as files: .ods and .xlsx read back with the same libraries hold the JSON's cells; CSV for French
spreadsheets; proper media types and download names."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers.api_checks import assert_error_shape
from odfdo import Document
from openpyxl import load_workbook

from indexer.search.retriever import Retriever
from service.api.matrix_exports import DETAIL_COLUMNS
from service.app import create_app
from service.settings import ServiceSettings

PARAMS = [("niveau", "commune"), ("niveau", "communaute-de-communes"), ("niveau", "region")]


def _expected(matrix: dict) -> tuple[list[list[str]], list[list[str]]]:
    """The grid and the detail rows, built from the JSON alone."""
    levels = matrix["niveaux"]
    grid = [["Thème", "Sujet", *(level["libelle"] for level in levels)]]
    detail = []
    for group in matrix["themes"]:
        for row in group["lignes"]:
            cells = [row["cellules"][level["id"]] for level in levels]
            grid.append(
                [group["libelle"], row["intitule"], *(c["categorie_libelle"] if c else "" for c in cells)]
            )
            for level, cell in zip(levels, cells, strict=True):
                if cell:
                    detail.append(
                        [group["libelle"], row["intitule"], level["libelle"], cell["categorie_libelle"],
                         ", ".join(cell["base"]), cell["version_date"] or "", cell["url"] or ""]
                    )  # fmt: skip
    return grid, detail


@pytest.fixture(scope="module")
def client_module(fake_settings: ServiceSettings, retriever: Retriever) -> Iterator[TestClient]:
    with TestClient(create_app(fake_settings, retriever=retriever)) as client:
        yield client


@pytest.fixture(scope="module")
def matrix_json(client_module: TestClient) -> dict:
    got = client_module.get("/v1/matrice", params=PARAMS)
    assert got.status_code == 200
    return got.json()


def test_ods_file_holds_the_same_cells_as_the_json(client_module: TestClient, matrix_json: dict) -> None:
    got = client_module.get("/v1/matrice", params=[*PARAMS, ("format", "ods")])
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/vnd.oasis.opendocument.spreadsheet"
    assert got.headers["content-disposition"] == (
        'attachment; filename="qfq-matrice-commune-communaute-de-communes-region.ods"'
    )
    document = Document(io.BytesIO(got.content))
    grid, detail = _expected(matrix_json)
    sheet = document.body.get_table(name="Matrice")
    values = [[v if v is not None else "" for v in row] for row in sheet.get_values()]
    assert values[: len(grid)] == grid
    footer = " ".join(str(v) for row in values[len(grid) :] for v in row if v)
    assert "Légende" in footer and "cgct (version du 2020-10-28)" in footer
    rows = document.body.get_table(name="Détail").get_values()
    assert tuple(rows[0]) == DETAIL_COLUMNS
    assert [[v or "" for v in row[:7]] for row in rows[1:]] == detail
    # Read from the file: the communauté de communes column holds waste collection as obligatoire.
    waste = next(row for row in values if row[1] == "Collecte et traitement des déchets ménagers")
    assert values[0][3] == "Communauté de communes" and waste[3] == "obligatoire"
    assert ["Déchets", "Collecte et traitement des déchets ménagers", "Communauté de communes", "obligatoire",
            "cgct/L5214-16", "2020-10-28"] in [[v or "" for v in row[:6]] for row in rows]  # fmt: skip


def test_xlsx_file_holds_the_same_cells_as_the_json(client_module: TestClient, matrix_json: dict) -> None:
    got = client_module.get("/v1/matrice", params=[*PARAMS, ("format", "xlsx")])
    assert got.status_code == 200
    assert got.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    assert got.headers["content-disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(got.content))
    assert workbook.sheetnames == ["Matrice", "Détail", "Légende"]
    grid, detail = _expected(matrix_json)
    values = [
        [v if v is not None else "" for v in row] for row in workbook["Matrice"].iter_rows(values_only=True)
    ]
    assert values[: len(grid)] == grid
    rows = list(workbook["Détail"].iter_rows(values_only=True))
    assert tuple(rows[0]) == DETAIL_COLUMNS
    assert [[v or "" for v in row[:7]] for row in rows[1:]] == detail
    linked = next(index for index, row in enumerate(detail) if row[6])
    link = workbook["Détail"].cell(row=linked + 2, column=DETAIL_COLUMNS.index("lien") + 1)
    assert link.hyperlink is not None and link.hyperlink.target == detail[linked][6]


def test_csv_is_for_french_spreadsheets(client_module: TestClient, matrix_json: dict) -> None:
    got = client_module.get("/v1/matrice", params=[*PARAMS, ("format", "csv"), ("theme", "dechets")])
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"].endswith('-dechets.csv"')
    assert got.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig")), delimiter=";"))
    assert tuple(rows[0]) == DETAIL_COLUMNS
    _, detail = _expected(matrix_json)
    waste = [row for row in detail if row[0] == "Déchets"]
    assert [row[:7] for row in rows[1:]] == waste and waste
    cc = next(row for row in rows[1:] if row[2] == "Communauté de communes")
    assert cc[3] == "obligatoire" and cc[4] == "cgct/L5214-16" and cc[5] == "2020-10-28"


def test_unknown_format_is_refused_in_french(client_module: TestClient) -> None:
    error = assert_error_shape(
        client_module.get("/v1/matrice", params={"format": "pdf"}), 422, "parametre_invalide"
    )
    assert error["message"]
