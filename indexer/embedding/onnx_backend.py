"""Runs the prepared ONNX graphs of multilingual-e5-small with ONNX Runtime: float32 for passages
(`QFQ_MODEL_BACKEND=onnx-fp32`, the default), int8 for questions (`QFQ_QUERY_BACKEND=onnx`).

A graph (see `indexer.embedding.packaged.onnx_graph`) takes token ids and an attention mask and returns
normalised sentence embeddings, so encoding needs neither torch nor sentence-transformers. onnxruntime is
imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.embedding.base import ModelEncoder, ProgressCallback
from indexer.errors import ModelError

_PAD_ID = 1  # XLM-R's <pad>: masked out, any id would do


class OnnxEncoder(ModelEncoder):
    """`Encoder` over an ONNX graph whose output is the pooled, L2-normalised embedding."""

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        *,
        model_id: str,
        weights_hash: str,
        dim: int,
        threads: int,
        batch_size: int,
        query_prefix: str,
        passage_prefix: str,
        max_length: int = 512,
        padded_batches: bool = False,
    ) -> None:
        """`padded_batches`: run texts of similar lengths together, padded to the longest (float32 graph);
        otherwise one text per run (int8 graph: its activations are quantised over the whole run)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: a spinning pool burnt about as much CPU again as the
        # model itself (18 ms of CPU per question instead of 10 on two threads, same vectors), taken from
        # concurrent searches on a 2-core machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelError(
                f"Le modèle ONNX {model_path} ne peut pas être chargé : {error}. "
                "Relancez « qfq model prepare ».",
                code="modele_onnx_illisible",
            ) from error
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        self._padded_batches = padded_batches
        super().__init__(
            model_id=model_id,
            weights_hash=weights_hash,
            dim=dim,
            batch_size=batch_size,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
        )

    def token_ids(self, text: str, *, query: bool = False) -> list[int]:
        """The ids fed to the model for `text` (prefix and special tokens included)."""
        prefix = self._query_prefix if query else self._passage_prefix
        return list(self._tokenizer.encode(prefix + text).ids)

    def _encode(
        self, texts: Sequence[str], prefix: str, batch_size: int, progress: ProgressCallback | None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([prefix + text for text in texts])
        if self._padded_batches:
            self._run_padded([encoding.ids for encoding in encodings], out, batch_size, progress)
            return out
        # One text per run: activations are quantised per tensor, so a text sharing a run with others
        # (or with padding) would get a slightly different vector. Alone, a text always gets the same
        # one; without padding, long passages lose nothing (measured: as fast as batches of 32).
        for start in range(0, len(texts), batch_size):
            rows = range(start, min(start + batch_size, len(texts)))
            for row in rows:
                ids = np.asarray([encodings[row].ids], dtype=np.int64)
                (vector,) = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
                out[row] = vector[0]
            if progress is not None:
                progress(len(rows))
        return out

    def _run_padded(
        self, ids: list[list[int]], out: np.ndarray, batch_size: int, progress: ProgressCallback | None
    ) -> None:
        """Encode `ids` into `out`, longest first, `batch_size` texts per run padded to the run's longest.

        Sorting by token length keeps padding small (padded positions are masked out of attention and
        pooling, so they only cost time); progress is reported once per run.
        """
        order = sorted(range(len(ids)), key=lambda row: -len(ids[row]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            longest = len(ids[rows[0]])
            input_ids = np.full((len(rows), longest), _PAD_ID, dtype=np.int64)
            mask = np.zeros((len(rows), longest), dtype=np.int64)
            for slot, row in enumerate(rows):
                input_ids[slot, : len(ids[row])] = ids[row]
                mask[slot, : len(ids[row])] = 1
            (vectors,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
            out[rows] = vectors
            if progress is not None:
                progress(len(rows))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prefix, self._batch_size, None)

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        return self._encode(texts, self._passage_prefix, batch_size or self._batch_size, progress)
