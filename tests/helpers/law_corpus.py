"""A tiny corpus of made-up laws (Ansvar JSON), for tests that parse or build without the real corpus."""

from __future__ import annotations

import json
from pathlib import Path


def write_law_corpus(folder: Path, laws: dict[str, list[tuple[str, str]]]) -> Path:
    """A corpus of Ansvar-JSON laws: {key: [(article, text)]}."""
    (folder / "lois").mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for key, provisions in laws.items():
        data = {
            "provisions": [
                {"provision_ref": n, "section": n, "title": "", "content": t} for n, t in provisions
            ]
        }
        (folder / "lois" / f"{key}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        lines += [
            "[[documents]]",
            f'key = "{key}"',
            f'title = "LOI n° 2021-{len(lines)} du 1er janvier 2021 relative à {key}"',
            f'short_name = "Loi {key.upper()}"',
            'kind = "loi"',
            'official_id = ""',
            f'url = "https://example.org/{key}"',
            'format = "ansvar-json"',
            f'path = "lois/{key}.json"',
            'version_date = "2025-07-13"',
            'source = "tests"',
            'licence = "Licence Ouverte 2.0"',
            "",
        ]
    (folder / "manifest.toml").write_text("\n".join(lines), encoding="utf-8")
    return folder


LAWS = {
    "eau": [
        ("1", "Les communes assurent la distribution de l'eau potable."),
        ("2", "Le service d'assainissement."),
    ],
    "dechets": [("1", "La collecte des déchets ménagers incombe aux communes ou à leurs groupements.")],
}
