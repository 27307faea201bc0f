"""A small view of the real corpus (symlinks, nothing copied): a few CGCT articles and two short laws."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

SUBSET_DOCUMENTS = ("cgct", "reen", "handicap-2005")
# CGCT articles on intercommunal powers, transfers and returns of competences, waste, municipal councils and
# digital networks: enough for questions whose answer is a known CGCT article, few enough to parse in seconds.
CGCT_PREFIXES = ("L5214-", "L5216-", "L2224-1", "L1111-", "L2121-2", "L1425-", "L5217-2", "L5211-17")


def _toml_value(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def make_subset_corpus(real: Path, target: Path) -> Path:
    """Write `target/manifest.toml` for the subset and symlink the files it names.

    Args:
        real: the real corpus folder.
        target: an empty folder.

    Returns:
        `target`, usable as `QFQ_CORPUS_DIR`.
    """
    real = real.resolve()
    manifest = tomllib.loads((real / "manifest.toml").read_text(encoding="utf-8"))
    entries = [d for d in manifest["documents"] if d["key"] in SUBSET_DOCUMENTS]
    lines = ["# Sous-ensemble du corpus réel pour les tests du service (liens symboliques).", ""]
    for entry in entries:
        lines.append("[[documents]]")
        lines += [f"{key} = {_toml_value(str(value))}" for key, value in entry.items()]
        lines.append("")
        source = real / entry["path"]
        if source.is_dir():
            for path in sorted(source.rglob("Article *.md")):
                number = path.name.removeprefix("Article ").split(" - ")[0]
                if number.startswith(CGCT_PREFIXES):
                    link = target / path.relative_to(real)
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(path)
        else:
            link = target / entry["path"]
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
        for extra in (entry.get("amendments"), f"structure/{entry['key']}.structure.jsonl"):
            if extra and (real / extra).is_file():
                (target / extra).parent.mkdir(parents=True, exist_ok=True)
                (target / extra).symlink_to(real / extra)
    (target / "manifest.toml").write_text("\n".join(lines), encoding="utf-8")
    return target
