"""The one place that builds encoders from settings: fake, sentence-transformers (torch) or ONNX."""

from __future__ import annotations

from indexer.embedding.base import Encoder, LazyEncoder, SplitEncoder
from indexer.embedding.fake import FakeEncoder
from indexer.embedding.onnx_backend import OnnxEncoder
from indexer.embedding.packaged.onnx_graph import ONNX_FILE
from indexer.embedding.packaged.prepare import prepare_variant, variant_identity
from indexer.embedding.packaged.source import PACKAGED_MODEL, PASSAGE_PREFIX, QUERY_PREFIX
from indexer.embedding.torch_backend import (
    SentenceTransformerEncoder,
    folder_prefixes,
    folder_weights_hash,
    load_sentence_transformer_folder,
    resolve_model_folder,
)
from indexer.errors import ModelError
from indexer.settings import Settings


def load_encoder(settings: Settings) -> Encoder:
    """Build the encoder the settings name (`QFQ_MODEL`, `QFQ_MODEL_BACKEND`, `QFQ_QUERY_BACKEND`).

    For the packaged model, questions are encoded by the `QFQ_QUERY_BACKEND` variant when it differs from
    the passages' one, each variant loaded only when it first encodes (`LazyEncoder`); other models encode
    both with `QFQ_MODEL_BACKEND`.
    """
    if settings.model.startswith("fake"):
        dim = int(settings.model.split("-")[-1]) if settings.model.count("-") else 64
        return FakeEncoder(dim)
    if settings.model != PACKAGED_MODEL or settings.query_backend == settings.model_backend:
        return load_sentence_transformer_encoder(settings)

    # Each side is loaded when it first encodes: a build embeds passages only, the service questions only.
    # The identity of a side is read without preparing its folder when it is recorded (`variant_identity`).
    def lazy(backend: str) -> LazyEncoder:
        side = settings.model_copy(update={"model_backend": backend})
        model_id, weights_hash, dim = variant_identity(settings, backend)
        return LazyEncoder(
            lambda: load_sentence_transformer_encoder(side),
            model_id=model_id,
            weights_hash=weights_hash,
            dim=dim,
        )

    passages, queries = lazy(settings.model_backend), lazy(settings.query_backend)
    return SplitEncoder(passages, queries)


def load_sentence_transformer_encoder(settings: Settings) -> Encoder:
    """Build the real encoder named by the settings, preparing the packaged model on first use.

    Args:
        settings: `model`, `model_backend`, `threads`, `batch_size`, `models_dir`.

    Returns:
        A `SentenceTransformerEncoder`, or an `OnnxEncoder` for the packaged model with the onnx backend.

    Raises:
        ModelError: the model cannot be prepared or loaded.
    """
    if settings.model == PACKAGED_MODEL:
        prepared = prepare_variant(settings, settings.model_backend)
        if settings.model_backend in ("onnx", "onnx-fp32"):
            return OnnxEncoder(
                prepared.path / ONNX_FILE,
                prepared.path / "tokenizer.json",
                model_id=prepared.model_id,
                weights_hash=prepared.weights_hash,
                dim=prepared.dim,
                threads=settings.threads,
                batch_size=settings.batch_size,
                query_prefix=QUERY_PREFIX,
                passage_prefix=PASSAGE_PREFIX,
                padded_batches=settings.model_backend == "onnx-fp32",
            )
        model = load_sentence_transformer_folder(prepared.path, threads=settings.threads)
        return SentenceTransformerEncoder(
            model,
            model_id=prepared.model_id,
            weights_hash=prepared.weights_hash,
            batch_size=settings.batch_size,
            query_prefix=QUERY_PREFIX,
            passage_prefix=PASSAGE_PREFIX,
        )
    if settings.model_backend == "onnx":  # onnx-fp32, the default, means torch for another model
        raise ModelError(
            f"Le moteur « {settings.model_backend} » n'est disponible que pour le modèle fourni « {PACKAGED_MODEL} ». "
            "Utilisez QFQ_MODEL_BACKEND=torch avec un autre modèle.",
            code="moteur_non_pris_en_charge",
        )
    folder, model_id = resolve_model_folder(settings.model)
    query_prefix, passage_prefix = folder_prefixes(folder, settings.model)
    model = load_sentence_transformer_folder(folder, threads=settings.threads)
    return SentenceTransformerEncoder(
        model,
        model_id=model_id,
        weights_hash=folder_weights_hash(folder),
        batch_size=settings.batch_size,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
    )
