"""Metadata and operations routes: documents, taxonomy, index manifest, health and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from service.api.routes.common import API_ERRORS, error_responses
from service.api.schemas import (
    DocumentList,
    DocumentSummary,
    IndexManifest,
    Liveness,
    Readiness,
    TaxonomyOut,
    TaxonomyTerm,
)
from service.deps import IndexStateDep, RetrieverDep, SettingsDep, reject_unknown_query
from service.errors import ApiError, error_response
from service.first_run import index_status

router = APIRouter(
    dependencies=[Depends(reject_unknown_query)],
    prefix="/v1",
    tags=["métadonnées"],
    responses=error_responses(*API_ERRORS),
)
health_router = APIRouter(
    dependencies=[Depends(reject_unknown_query)],
    tags=["exploitation"],
)


@router.get(
    "/documents",
    operation_id="list_documents",
    summary="Lister les documents",
    response_model=DocumentList,
)
async def list_documents(retriever: RetrieverDep) -> DocumentList:
    """Documents de l'index : titre, nom court, type, dates de version, nombres de passages et d'articles."""
    documents = [DocumentSummary(**d) for d in retriever.documents()]
    return DocumentList(build_id=retriever.build_id, count=len(documents), documents=documents)


@router.get(
    "/documents/{doc_key}",
    operation_id="get_document",
    summary="Lire la fiche d'un document",
    response_model=DocumentSummary,
    responses=error_responses(404),
)
async def get_document(
    retriever: RetrieverDep, doc_key: Annotated[str, Path(max_length=100, examples=["cgct"])]
) -> DocumentSummary:
    """Un document de l'index avec ses dates de version et ses nombres de passages par statut."""
    documents = retriever.documents()
    for document in documents:
        if document["key"] == doc_key:
            return DocumentSummary(**document)
    allowed = [d["key"] for d in documents]
    raise ApiError(
        404,
        f"Document inconnu : {doc_key}. Documents de l'index : {', '.join(allowed)}.",
        code="document_introuvable",
        details={"document": doc_key, "acceptes": allowed},
    )


@router.get(
    "/taxonomy",
    operation_id="get_taxonomy",
    summary="Niveaux et thèmes",
    response_model=TaxonomyOut,
)
async def get_taxonomy(state: IndexStateDep) -> TaxonomyOut:
    """Niveaux de collectivité et thèmes (identifiant et libellé), valeurs des filtres `niveau` et `theme`."""
    from indexer.text.tagging import load_taxonomy

    taxonomy = load_taxonomy()
    kinds = state.retriever.facets()["kinds"] if state.retriever is not None else []
    return TaxonomyOut(
        version=taxonomy.version,
        levels=[TaxonomyTerm(id=t.id, label=t.label) for t in taxonomy.levels],
        themes=[TaxonomyTerm(id=t.id, label=t.label) for t in taxonomy.themes],
        kinds=kinds,
    )


@router.get(
    "/index",
    operation_id="get_index_manifest",
    summary="Manifeste de l'index chargé",
    response_model=IndexManifest,
)
async def get_index_manifest(retriever: RetrieverDep) -> IndexManifest:
    """Version de format, modèle, dimension, nombres de passages, empreintes du corpus et des fichiers."""
    return IndexManifest.model_validate(retriever.manifest)


@health_router.get("/livez", operation_id="livez", summary="Vivacité", response_model=Liveness)
async def livez() -> Liveness:
    """Le processus répond (ne vérifie pas l'index)."""
    return Liveness()


@health_router.get(
    "/readyz",
    operation_id="readyz",
    summary="Disponibilité",
    response_model=Readiness,
    responses=error_responses(503),
)
async def readyz(state: IndexStateDep, settings: SettingsDep) -> Response | Readiness:
    """200 quand un index valide est chargé ; 503 (forme d'erreur commune) avant, ou s'il n'a pas pu l'être."""
    retriever = state.retriever
    if retriever is None:
        cause = state.error.code if state.error is not None else "chargement_en_cours"
        message = (
            f"Index non chargé ({state.error.code}) : {state.error.message}"
            if state.error is not None
            else "Index en cours de chargement."
        )
        return error_response(503, "index_indisponible", message, {"cause": cause}, {"Retry-After": "5"})
    status = index_status(retriever, settings)
    return Readiness(
        build_id=retriever.build_id,
        passages=int(retriever.manifest.get("counts", {}).get("passages", 0)),
        loaded_at=state.loaded_at,
        mode_effectif=status["mode_effectif"],
        construction=status["construction"],
    )


@health_router.get(
    "/metrics",
    operation_id="metrics",
    summary="Métriques Prometheus",
    response_class=Response,
    responses={
        200: {
            "description": "Format texte Prometheus.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 403),
    },
)
async def metrics(request: Request, state: IndexStateDep) -> Response:
    """Requêtes par route et statut, latences, durée des recherches, état de l'index."""
    registry = request.app.state.metrics
    if state.retriever is not None:
        manifest = state.retriever.manifest
        registry.index_loaded(
            state.retriever.build_id,
            str((manifest.get("model") or {}).get("id", "")),
            int((manifest.get("counts") or {}).get("passages", 0)),
        )
    else:
        registry.ready.set(0)
    return Response(registry.render(), media_type=registry.content_type)
