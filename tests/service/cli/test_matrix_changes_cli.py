"""`qfq matrice --format …` writes files read back with the same libraries; `qfq changements` in French."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from odfdo import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from service.cli.main import app

runner = CliRunner()
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def subset_env(subset_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QFQ_CORPUS_DIR", str(subset_corpus))
    monkeypatch.setenv("QFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_matrix_files_hold_the_json_cells(subset_env: Path) -> None:
    arguments = ["matrice", "--niveau", "communaute-de-communes", "--theme", "dechets"]
    shown = runner.invoke(app, [*arguments, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    matrix = json.loads(shown.output)
    expected = [row["cellules"]["communaute-de-communes"] for row in matrix["themes"][0]["lignes"]]
    written = runner.invoke(app, [*arguments, "--format", "ods"])
    assert written.exit_code == 0, written.output
    target = subset_env / "qfq-matrice-communaute-de-communes-dechets.ods"
    assert f"Matrice écrite dans {target.name}" in written.output and target.is_file()
    sheet = Document(io.BytesIO(target.read_bytes())).body.get_table(name="Matrice")
    values = sheet.get_values()
    assert [row[2] or None for row in values[1 : 1 + len(expected)]] == [
        cell["categorie_libelle"] if cell else None for cell in expected
    ]
    out = subset_env / "m.xlsx"
    assert runner.invoke(app, [*arguments, "--format", "xlsx", "--sortie", str(out)]).exit_code == 0
    rows = list(load_workbook(out)["Détail"].iter_rows(values_only=True))
    assert [(r[3], r[4]) for r in rows[1:]] == [
        (c["categorie_libelle"], ", ".join(c["base"])) for c in expected if c
    ]
    refused = runner.invoke(app, ["matrice", "--format", "pdf"])
    assert refused.exit_code == 2 and "Erreur (parametre_invalide) : Format inconnu : « pdf »" in _flat(
        refused.output
    )


def test_changes_in_the_terminal_and_as_a_feed(subset_env: Path) -> None:
    arguments = ["changements", "--niveau", "communaute-de-communes", "--depuis", "2015-01-01"]
    shown = runner.invoke(app, [*arguments, "--theme", "dechets"])
    assert shown.exit_code == 0, shown.output
    assert "Communauté de communes :" in shown.output and "depuis le 2015-01-01" in shown.output
    assert "CGCT, art. L5214-16 :" in shown.output and "modifié par Loi n°2015-991" in shown.output
    assert "Remarque : CGCT" in shown.output and "2020-10-28" in shown.output
    feed = runner.invoke(app, [*arguments, "--atom", "--adresse", "https://intranet.example/qfq/"])
    assert feed.exit_code == 0, feed.output
    root = ET.fromstring(feed.output.encode("utf-8"))
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links["self"] == (
        "https://intranet.example/qfq/v1/changements.atom?niveau=communaute-de-communes&depuis=2015-01-01"
    )
    titles = [entry.findtext(f"{ATOM}title") or "" for entry in root.findall(f"{ATOM}entry")]
    assert any(title.startswith("CGCT, art. L5214-16 :") for title in titles)
    refused = runner.invoke(app, ["changements", "--niveau", "commune", "--depuis", "hier"])
    assert refused.exit_code == 2 and "Erreur (date_invalide) : Date invalide « hier »" in _flat(
        refused.output
    )
