"""Passage routes: one passage by id, and every passage of one article."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from service.api.presenters import passage_out
from service.api.routes.common import API_ERRORS, error_responses
from service.api.schemas import ArticleDetail, PassageDetail
from service.deps import RetrieverDep, reject_unknown_query, run_blocking
from service.errors import ApiError

router = APIRouter(
    dependencies=[Depends(reject_unknown_query)],
    prefix="/v1",
    tags=["passages"],
    responses=error_responses(*API_ERRORS, 404),
)


@router.get(
    "/passages/{passage_id:path}",
    operation_id="get_passage",
    summary="Lire un passage",
    response_model=PassageDetail,
)
async def get_passage(
    request: Request,
    retriever: RetrieverDep,
    passage_id: Annotated[
        str,
        Path(
            max_length=300,
            description="Identifiant du passage, « # » encodé en %23 (ex. cgct/L5216-5%232).",
            examples=["cgct/L5214-16"],
        ),
    ],
) -> PassageDetail:
    """Un passage avec toutes ses métadonnées (liens, textes modificatifs, étiquettes et leurs raisons)."""
    passage = await run_blocking(request, retriever.get_passage, passage_id)
    if passage is None:
        raise ApiError(
            404,
            f"Passage introuvable : {passage_id}. Les identifiants sont de la forme cgct/L5214-16 "
            "(« # » s'encode %23 dans une adresse).",
            code="passage_introuvable",
            details={"passage": passage_id},
        )
    parts = await run_blocking(request, retriever.passages_of_article, passage.doc_key, passage.article)
    return passage_out(passage, [p.id for p in parts])


@router.get(
    "/documents/{doc_key}/articles/{article:path}",
    operation_id="get_article",
    summary="Lire un article (toutes ses parties)",
    response_model=ArticleDetail,
)
async def get_article(
    request: Request,
    retriever: RetrieverDep,
    doc_key: Annotated[str, Path(max_length=100, examples=["cgct"])],
    article: Annotated[str, Path(max_length=200, examples=["L5214-16"])],
) -> ArticleDetail:
    """Toutes les parties d'un article, dans l'ordre."""
    passages = await run_blocking(request, retriever.passages_of_article, doc_key, article)
    if not passages:
        known = [d["key"] for d in retriever.documents()]
        code, message = (
            ("article_introuvable", f"Article introuvable : {article} dans {doc_key}.")
            if doc_key in known
            else ("document_introuvable", f"Document inconnu : {doc_key}.")
        )
        details: dict = {"doc_key": doc_key, "article": article}
        if doc_key not in known:
            details["acceptes"] = known
        raise ApiError(404, message, code=code, details=details)
    ids = [p.id for p in passages]
    return ArticleDetail(
        article_id=f"{doc_key}/{article}",
        doc_key=doc_key,
        article=article,
        passages=[passage_out(p, ids) for p in passages],
    )
