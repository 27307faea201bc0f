"""Corpus -> tagged, split, citable passages: the one entry point the index and the CLI use."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from indexer.corpus.manifest import load_manifest, select_documents
from indexer.corpus.parsers import parse_document
from indexer.corpus.parsers.common import legiarti_url
from indexer.corpus.segment import TokenCounter, split_article
from indexer.errors import CorpusError
from indexer.models import Article, Document, Link, Passage, Status
from indexer.settings import Settings
from indexer.text.headings import heading_context
from indexer.text.tagging import Taxonomy, load_taxonomy, tag_article

log = logging.getLogger(__name__)

AMENDING_LINK_KINDS = frozenset({"cree", "modifie", "abroge", "codifie", "transfere"})
HEADER_ALLOWANCE = 40  # tokens kept for the "I. …" / "1° …" labels a part's header may add
STATUS_RANK = {Status.EN_VIGUEUR: 0, Status.A_VENIR: 1, Status.ABROGE: 2}


@dataclass(frozen=True)
class Problem:
    """A document that could not be loaded, reported with its key and file."""

    doc_key: str
    path: str
    code: str
    message: str


@dataclass
class PassageSet:
    """Passages of a corpus plus the documents they come from and the problems met."""

    documents: list[Document]
    passages: list[Passage] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    articles_per_document: Counter[str] = field(default_factory=Counter)

    def by_document(self) -> Counter[str]:
        return Counter(p.doc_key for p in self.passages)

    def by_status(self) -> Counter[str]:
        return Counter(str(p.status) for p in self.passages)


def pick_in_force(articles: Iterable[Article]) -> list[Article]:
    """Keep one article per number: the one in force wins, then the newest version, then the newest id."""
    chosen: dict[str, Article] = {}
    for article in articles:
        current = chosen.get(article.number)
        if current is None or _preference(article) < _preference(current):
            chosen[article.number] = article
    return list(chosen.values())


def _preference(article: Article) -> tuple:
    # Sorting key: lower is better. Later dates and larger LEGIARTI ids are newer versions.
    return (STATUS_RANK[article.status], _negate(article.date_debut), _negate(article.legi_id))


def _negate(text: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in text)


def _header(doc: Document, article: Article, section: str, item: str) -> str:
    if article.is_guide_section:
        return f"{doc.short_name} — {article.title}"
    parts = [f"{doc.short_name}, art. {article.number}"]
    parts += [label for label in (section, item) if label]
    return " — ".join(parts)


def _amended_by(article: Article) -> list[str]:
    texts = list(article.amending_texts)
    for link in article.links:
        if link.kind in {"cree", "modifie", "transfere"} and link.text not in texts:
            texts.append(link.text)
    return texts


def article_passages(
    doc: Document,
    article: Article,
    *,
    budget: int,
    count: TokenCounter,
    taxonomy: Taxonomy,
) -> list[Passage]:
    """Split, tag and label one article.

    Args:
        doc: the manifest entry of the article's document.
        article: the parsed article.
        budget: maximum model tokens per passage, context header included.
        count: token counter of the embedding model.
        taxonomy: levels and themes used for tagging.

    Returns:
        One passage (`doc/article`) or several parts (`doc/article#n`); guide sections are always `#n`.
    """
    tags = tag_article(article.text, article.heading_path, taxonomy)
    if article.heading_inferred and article.heading_path:
        for term in tags.reasons:
            if any(reason.startswith("titre") for reason in tags.reasons[term]):
                tags.reasons[term].append("titres déduits des articles voisins du même chapitre")
    # The encoder reads the header and the headings' subject line before each part (`Passage.embedding_text`).
    context = heading_context(article.heading_path, skip=article.title)
    header_budget = count(f"{_header(doc, article, '', '')}\n{context}") + HEADER_ALLOWANCE
    parts = split_article(article.text, max(64, budget - header_budget), count)
    links: list[Link] = [link for link in article.links if link.kind in AMENDING_LINK_KINDS]
    url = legiarti_url(article.legi_id) if article.legi_id else doc.url
    split = len(parts) > 1 or article.is_guide_section
    passages = []
    for index, part in enumerate(parts, start=1):
        suffix = f"#{index}" if split else ""
        passages.append(
            Passage(
                id=f"{doc.key}/{article.number}{suffix}",
                doc_key=doc.key,
                doc_title=doc.title,
                short_name=doc.short_name,
                kind=doc.kind,
                article=article.number,
                part=index if split else 0,
                text=part.text,
                header=_header(doc, article, part.section_label, part.item_label),
                heading_path=list(article.heading_path),
                status=article.status,
                date_debut=article.date_debut,
                date_fin=article.date_fin,
                version_date=doc.version_date,
                links=links,
                url=url,
                pages=list(article.pages),
                levels=list(tags.levels),
                themes=list(tags.themes),
                tag_reasons={term: list(reasons) for term, reasons in tags.reasons.items()},
                title=article.title,
                amended_by=_amended_by(article),
            )
        )
    return passages


def _document_passages(
    doc: Document, corpus_dir: Path, budget: int, count: TokenCounter | None, strict: bool
) -> tuple[list[Passage], int, Problem | None]:
    """Parse, split and tag one document; runs in a worker process for the full corpus."""
    prime = None
    if count is None:
        from indexer.embedding.tokenizer import count_tokens, count_tokens_batch

        count, prime = count_tokens, count_tokens_batch
    try:
        articles = pick_in_force(parse_document(doc, corpus_dir))
    except CorpusError as exc:
        if strict:
            raise
        log.warning("%s", exc.message)
        return [], 0, Problem(doc.key, doc.path, exc.code, exc.message)
    if prime is not None:
        prime([article.text for article in articles])  # learn the document's words in one batch
    taxonomy = load_taxonomy()
    passages = [
        passage
        for article in articles
        for passage in article_passages(doc, article, budget=budget, count=count, taxonomy=taxonomy)
    ]
    return passages, len(articles), None


def _document_cost(doc: Document, corpus_dir: Path) -> int:
    path = corpus_dir / doc.path
    if path.is_dir():
        return sum(1 for _ in path.rglob("*")) * 2000
    weight = 20 if doc.format == "pdf" else 1  # text extraction makes PDF bytes dear
    return path.stat().st_size * weight if path.exists() else 0


def load_passages(
    settings: Settings,
    only: set[str] | None = None,
    strict: bool = False,
    count: TokenCounter | None = None,
    workers: int | None = None,
) -> PassageSet:
    """Parse the corpus the settings point at into passages.

    Args:
        settings: `corpus_dir`, `max_passage_tokens` and `threads` are used.
        only: document keys to keep (all when None).
        strict: raise on the first unreadable document instead of reporting it.
        count: token counter; the packaged model tokenizer by default.
        workers: processes parsing documents in parallel; `settings.threads` by default, 1 when a custom
            `count` is given (it may not be picklable).

    Returns:
        Documents, passages in manifest order, and the problems of documents that could not be read.

    Raises:
        ConfigError: the corpus folder or manifest is missing.
        CorpusError: the manifest is invalid, an `only` key is unknown, or (strict) a document is unreadable.
    """
    corpus_dir = settings.require_corpus()
    documents = load_manifest(corpus_dir)
    documents = select_documents(documents, only)
    if workers is None:
        workers = 1 if count is not None else settings.threads
    workers = max(1, min(workers, len(documents)))
    budget = settings.max_passage_tokens
    if workers == 1:
        outcomes = [_document_passages(doc, corpus_dir, budget, count, strict) for doc in documents]
    else:
        # Biggest documents first so that both processes finish together; "spawn" because the parent may
        # already run tokenizer or torch threads, which do not survive fork.
        order = sorted(documents, key=lambda doc: -_document_cost(doc, corpus_dir))
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = {
                doc.key: pool.submit(_document_passages, doc, corpus_dir, budget, None, strict)
                for doc in order
            }
            outcomes = [futures[doc.key].result() for doc in documents]
    result = PassageSet(documents=documents)
    for doc, (passages, article_count, problem) in zip(documents, outcomes, strict=True):
        if problem is not None:
            result.problems.append(problem)
            continue
        result.articles_per_document[doc.key] = article_count
        result.passages.extend(passages)
    return result
