"""Turns the indexer's records (passages, hits, results) into API models, with highlighted terms."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, cast

from indexer.models import STATUS_LABELS, Passage, Status
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Hit, SearchResult
from service.api.schemas import (
    AppliedFilters,
    LinkOut,
    Mode,
    PassageDetail,
    Scores,
    SearchHit,
    SearchParams,
    SearchResponse,
    SigleOut,
)
from service.api.schemas_knowledge import Answer, MechanismOut


def status_label(status: str) -> str:
    """French label of a status value, e.g. "abrogé"."""
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


# A maximal run of word characters and hyphens: with terms made only of such characters, the whole-word
# matches of `_terms_pattern` are exactly the runs equal to a term.
_WORD_RUN = re.compile(r"[\w-]+")


@lru_cache(maxsize=1024)
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    # Whole words only: "commune" must not light up inside "communes" unless that word matched too.
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def _marked(text: str, matches: Iterable[re.Match[str]]) -> str:
    out: list[str] = []
    last = 0
    for match in matches:
        out.append(html.escape(text[last : match.start()], quote=False))
        out.append(f"<mark>{html.escape(match.group(0), quote=False)}</mark>")
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def highlight(text: str, terms: Sequence[str]) -> str:
    """HTML-escape `text` and wrap each whole-word occurrence of `terms` in `<mark>`.

    Args:
        text: the passage text.
        terms: words as written in the passage (the retriever's `matched_terms`).

    Returns:
        Safe HTML: everything escaped except the `<mark>` tags added here.
    """
    wanted = tuple(dict.fromkeys(t for t in terms if t))
    if not wanted:
        return html.escape(text, quote=False)
    if all(_WORD_RUN.fullmatch(t) for t in wanted):
        # One scan with a fixed pattern: compiling an alternation of the page's words cost milliseconds per
        # hit, each hit's words being a new pattern.
        chosen = set(wanted)
        return _marked(text, (m for m in _WORD_RUN.finditer(text) if m.group(0) in chosen))
    pattern = _terms_pattern(wanted)
    return _marked(text, pattern.finditer(text) if pattern is not None else ())


def filters_of(params: SearchParams) -> SearchFilters:
    """The retriever filters named by the API parameters."""
    return SearchFilters(
        levels=tuple(params.niveau),
        themes=tuple(params.theme),
        documents=tuple(params.document),
        kinds=tuple(params.type),
        include_abrogated=not params.en_vigueur,
        date=params.date,
    )


def hit_out(hit: Hit, rank: int) -> SearchHit:
    """API model of one hit."""
    p = hit.passage
    return SearchHit(
        rank=rank,
        passage_id=p.id,
        article_id=p.article_id,
        article=p.article,
        part=p.part,
        title=p.title,
        text=p.text,
        highlighted=highlight(p.text, hit.matched_terms),
        matched_terms=list(hit.matched_terms),
        doc_key=p.doc_key,
        document_title=p.doc_title,
        short_name=p.short_name,
        kind=p.kind,
        heading_path=list(p.heading_path),
        version_date=p.version_date,
        status=str(p.status),  # type: ignore[arg-type]
        status_label=status_label(str(p.status)),
        url=p.url,
        citation=p.citation(),
        levels=list(p.levels),
        themes=list(p.themes),
        article_match=hit.article_match,
        level_match=hit.level_match,
        other_parts=list(hit.other_parts),
        scores=Scores(
            score=hit.score,
            dense=hit.dense_score,
            lexical=hit.lexical_score,
            fused=hit.fused_score,
            dense_rank=hit.dense_rank,
            lexical_rank=hit.lexical_rank,
        ),
    )


def search_response(
    result: SearchResult,
    params: SearchParams,
    build_id: str,
    answer: dict[str, Any] | None = None,
    mechanisms: Sequence[dict[str, Any]] = (),
) -> SearchResponse:
    """API model of a page of results, with the knowledge's answer (`Answer.to_dict`) when there is one and
    the mechanisms the question names (`MechanismMatch.to_dict`)."""
    return SearchResponse(
        query=result.query,
        mode=params.mode,
        mode_effectif=cast(Mode, result.effective_mode),
        k=params.k,
        offset=result.offset,
        total_candidates=result.total_candidates,
        filters=AppliedFilters(
            niveau=list(result.filters.levels),
            theme=list(result.filters.themes),
            document=list(result.filters.documents),
            type=list(result.filters.kinds),
            en_vigueur=not result.filters.include_abrogated,
            date=result.filters.date,
        ),
        niveaux_reconnus=list(result.query_levels),
        sigles_developpes=[SigleOut(sigle=a, developpement=e) for a, e in result.acronyms],
        reponse=Answer.model_validate(answer) if answer is not None else None,
        mecanismes=[MechanismOut.model_validate(m) for m in mechanisms],
        build_id=build_id,
        took_ms=round(result.took_ms, 2),
        hits=[hit_out(hit, result.offset + i + 1) for i, hit in enumerate(result.hits)],
    )


def passage_out(passage: Passage, article_parts: Sequence[str]) -> PassageDetail:
    """API model of a passage with all its metadata."""
    p = passage
    return PassageDetail(
        passage_id=p.id,
        article_id=p.article_id,
        article=p.article,
        part=p.part,
        title=p.title,
        text=p.text,
        header=p.header,
        doc_key=p.doc_key,
        document_title=p.doc_title,
        short_name=p.short_name,
        kind=p.kind,
        heading_path=list(p.heading_path),
        version_date=p.version_date,
        status=str(p.status),  # type: ignore[arg-type]
        status_label=status_label(str(p.status)),
        date_debut=p.date_debut,
        date_fin=p.date_fin,
        url=p.url,
        citation=p.citation(),
        pages=list(p.pages),
        levels=list(p.levels),
        themes=list(p.themes),
        tag_reasons={k: list(v) for k, v in p.tag_reasons.items()},
        links=[LinkOut(kind=link.kind, text=link.text, date=link.date) for link in p.links],
        amended_by=list(p.amended_by),
        article_parts=list(article_parts),
    )
