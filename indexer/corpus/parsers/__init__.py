"""Parser registry: one parser per corpus `format`, chosen by name."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from indexer.errors import CorpusError
from indexer.models import Article, Document


class Parser(Protocol):
    """Turns one corpus document into articles (or guide sections, or PDF pages)."""

    format: str

    def parse(self, doc: Document, corpus_dir: Path) -> list[Article]: ...


def _registry() -> dict[str, Parser]:
    from indexer.corpus.parsers.ansvar import AnsvarJsonParser
    from indexer.corpus.parsers.lexlib import LexlibMarkdownParser
    from indexer.corpus.parsers.markdown import MarkdownGuideParser
    from indexer.corpus.parsers.pdf import PdfParser
    from indexer.corpus.parsers.piste import LegiPisteJsonParser

    parsers: list[Parser] = [
        LegiPisteJsonParser(),
        AnsvarJsonParser(),
        LexlibMarkdownParser(),
        MarkdownGuideParser(),
        PdfParser(),
    ]
    return {parser.format: parser for parser in parsers}


def known_formats() -> list[str]:
    """Format names the registry knows, e.g. `legi-piste-json`."""
    return sorted(_registry())


def parse_document(doc: Document, corpus_dir: Path) -> list[Article]:
    """Parse one document with the parser registered for its format.

    Raises:
        CorpusError: unknown format, missing or unreadable file; the message names the document and file.
    """
    parser = _registry().get(doc.format)
    if parser is None:
        raise CorpusError(
            f"Document {doc.key} ({doc.path}) : format inconnu « {doc.format} » "
            f"(formats connus : {', '.join(known_formats())}).",
            code="format_inconnu",
            details={"document": doc.key, "fichier": doc.path, "format": doc.format},
        )
    target = corpus_dir / doc.path
    if not target.exists():
        raise CorpusError(
            f"Document {doc.key} : fichier introuvable {doc.path}.",
            code="fichier_introuvable",
            details={"document": doc.key, "fichier": doc.path},
        )
    try:
        return parser.parse(doc, corpus_dir)
    except CorpusError:
        raise
    except Exception as exc:  # a parser failing on bad input must name the document and file
        raise CorpusError(
            f"Document {doc.key} ({doc.path}) illisible : {exc.__class__.__name__}: {exc}",
            code="fichier_illisible",
            details={"document": doc.key, "fichier": doc.path},
        ) from exc
