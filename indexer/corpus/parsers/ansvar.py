"""Parser for Ansvar JSON (laws and codes consolidated from the DILA LEGI export)."""

from __future__ import annotations

import json
from pathlib import Path

from indexer.errors import CorpusError
from indexer.models import Article, Document, Status
from indexer.text.normalize import normalize_whitespace


class AnsvarJsonParser:
    """`{"provisions": [{"provision_ref", "section", "title", "content"}]}`; every provision is in force."""

    format = "ansvar-json"

    def parse(self, doc: Document, corpus_dir: Path) -> list[Article]:
        path = corpus_dir / doc.path
        data = json.loads(path.read_text(encoding="utf-8"))
        provisions = data.get("provisions") if isinstance(data, dict) else None
        if not isinstance(provisions, list):
            raise CorpusError(
                f"Document {doc.key} ({doc.path}) : pas de liste « provisions ».",
                code="structure_invalide",
                details={"document": doc.key, "fichier": doc.path},
            )
        articles = []
        for provision in provisions:
            number = str(provision.get("section") or "").strip()
            text = normalize_whitespace(str(provision.get("content") or ""))
            if not number or not text:
                continue
            articles.append(
                Article(
                    doc_key=doc.key,
                    number=number,
                    text=text,
                    # The export keeps only provisions in force at its consolidation date.
                    status=Status.EN_VIGUEUR,
                    source_file=doc.path,
                )
            )
        return articles
