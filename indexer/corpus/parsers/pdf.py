"""Parser for PDF guides with pypdf: one unit per page, page numbers kept."""

from __future__ import annotations

import logging
from pathlib import Path

from pypdf import PdfReader

from indexer.errors import CorpusError
from indexer.models import Article, Document
from indexer.text.normalize import normalize_whitespace

# pypdf logs warnings for every oddity of real-world PDFs; they are not errors for us.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def _page_text(raw: str) -> str:
    """pypdf breaks lines inside paragraphs; rejoin them and undo end-of-line hyphenation."""
    lines = [line.strip() for line in raw.replace("\r", "\n").split("\n")]
    paragraphs, current = [], ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
        elif current.endswith("-") and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}".strip()
        # A sentence end followed by a short heading-like line starts a new paragraph.
    if current:
        paragraphs.append(current)
    return normalize_whitespace("\n\n".join(paragraphs))


class PdfParser:
    """A PDF file; every page with text becomes a unit numbered `page-<n>`."""

    format = "pdf"

    def parse(self, doc: Document, corpus_dir: Path) -> list[Article]:
        path = corpus_dir / doc.path
        try:
            reader = PdfReader(str(path))
            pages = list(reader.pages)
        except Exception as exc:
            raise CorpusError(
                f"Document {doc.key} ({doc.path}) : PDF illisible ({exc}).",
                code="pdf_illisible",
                details={"document": doc.key, "fichier": doc.path},
            ) from exc
        articles = []
        for number, page in enumerate(pages, start=1):
            text = _page_text(page.extract_text() or "")
            if len(text) < 20:
                continue
            articles.append(
                Article(
                    doc_key=doc.key,
                    number=f"page-{number}",
                    title=f"page {number}",
                    text=text,
                    pages=[number],
                    source_file=doc.path,
                    is_guide_section=True,
                )
            )
        return articles
