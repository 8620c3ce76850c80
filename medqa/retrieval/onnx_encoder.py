"""Corpus embeddings through ONNX Runtime: the torch-free encoder for index builds, in fp32 or int8.

A cold index of the full corpus embeds 31-33 thousand texts (2.5 million tokens, 57 TFLOP). The numpy
encoder (:class:`~medqa.retrieval.encoder.NumpyBertEncoder`) runs them at about 60-86 texts/s on 2
cores without native bf16: 365-490 s. ONNX Runtime runs the same BERT graph with its own matrix kernels
(MLAS) and fused attention, normalisation and GELU. :class:`OnnxBertEncoder` builds that graph from the
model folder's ``model.safetensors`` (the numpy encoder's weights: no export step, no torch, the same
check of what a folder may hold) and runs it on every core.

Measured (eighteenth session, AMD Zen 5 with AVX512-BF16, 2 cores; ``bench/bench_ask.py --build-only``,
``bench/results/ask_build_zen5.txt``, and whole full-corpus builds of 31,355 distinct texts with the base
model by ``python -m medqa index``):

* **fp32**, what index builds use (:func:`medqa.retrieval.dense.embed_corpus`): cosine to the numpy
  encoder >= 0.9999; 147 texts/s on the bench's sample against 83 for the numpy encoder one batch per
  core, 267 GFLOP/s, 61% of ONNX Runtime's own fp32 matrix-product peak (434 GFLOP/s; numpy's BLAS
  reaches 233 on the same shape). The whole build: **199 s** (about 490 s before; torch bf16 196 s).
  The trainer's fp32 distillation targets use it too.
* **int8** (:data:`INT8`, a choice: ``--precision int8``): the weights of the query/key/value,
  attention-output and first feed-forward products quantised per column (symmetric int8), the
  activations quantised as they come, one scale per product (ONNX Runtime's ``DynamicQuantizeMatMul``).
  The second feed-forward product (1,536 -> 384) stays in fp32: quantised too, it is a third faster
  again, but the smallest cosine to fp32 falls to 0.987 (the floor is 0.99); kept in fp32, 0.993-0.995
  (mean 0.997). 216 texts/s, the whole build **158 s**. Why it is not the default: ``embed_corpus``.
  Only the corpus side would be int8: questions are embedded in fp32 by the numpy encoder.

int8 products are computed differently on CPUs with and without VNNI instructions (without them, the
kernels can saturate), so int8 is checked on each machine and each corpus before it is used
(:meth:`OnnxBertEncoder.check_int8`): a seeded sample of the texts to embed is embedded by both paths,
and int8 is used only when every sampled cosine to the fp32 numpy encoder is at least
:data:`INT8_MIN_COSINE`; otherwise the build runs in fp32 and says so.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from medqa import system
from medqa.errors import ModelLoadError
from medqa.retrieval.encoder import NumpyBertEncoder, ProgressCallback, length_batches, padded_batch

FP32 = "fp32"
INT8 = "int8"
#: The int8 graph is used only when each sampled text's embedding has at least this cosine to fp32.
INT8_MIN_COSINE = 0.99
#: Texts of the corpus embedded both ways for that check (seeded sample).
INT8_CHECK_TEXTS = 32
#: Most tokens (rows x padded length) per forward pass: attention holds rows x heads x length^2 scores
#: (100 MB for 32 texts of 256 tokens). Caps of 2,048, 4,096 and 8,192 tokens with batches of 16, 32
#: and 64 texts were measured on 1,500 corpus texts in int8: 2,048 is as fast as any (200-250 texts/s
#: across two rounds; 8,192 with 64 texts, 173-177) and holds the least.
TOKENS_PER_BATCH = 2048

_OPSET = 17
_CONTRIB = "com.microsoft"


@lru_cache(maxsize=1)
def onnx_available() -> bool:
    """Whether ``onnxruntime`` and ``onnx`` can be imported (both are in the server's requirements)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _quantize_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-column int8 weights of an (in, out) matrix and each column's scale."""
    scale = np.abs(weight).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return quantized, scale


class _GraphBuilder:
    """The nodes and initializers of one ONNX graph (a thin layer over ``onnx.helper``)."""

    def __init__(self) -> None:
        import onnx
        from onnx import helper, numpy_helper

        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def constant(self, name: str, array: np.ndarray) -> str:
        array = np.asarray(array)  # not ascontiguousarray: it turns a scalar into a vector
        self.initializers.append(
            self.numpy_helper.from_array(array if array.flags.c_contiguous else array.copy(), name)
        )
        return name

    def ints(self, name: str, values: list[int]) -> str:
        return self.constant(name, np.asarray(values, dtype=np.int64))

    def op(self, kind: str, *inputs: str, domain: str = "", **attributes) -> str:
        self._count += 1
        output = f"{kind.lower()}_{self._count}"
        self.nodes.append(
            self.helper.make_node(kind, list(inputs), [output], domain=domain or None, **attributes)
        )
        return output

    def linear(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray, quantize: bool) -> str:
        """``x @ weight + bias``; in int8 (dynamically quantised activations) when ``quantize``."""
        bias_name = self.constant(f"{name}.bias", bias.astype(np.float32))
        if not quantize:
            return self.op("Add", self.op("MatMul", x, self.constant(f"{name}.weight", weight)), bias_name)
        quantized, scale = _quantize_columns(weight)
        return self.op(
            "DynamicQuantizeMatMul",
            x,
            self.constant(f"{name}.weight_int8", quantized),
            self.constant(f"{name}.scale", scale),
            self.constant(f"{name}.zero_point", np.zeros(scale.shape, dtype=np.int8)),
            bias_name,
            domain=_CONTRIB,
        )

    def layer_norm(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            x,
            self.constant(f"{name}.weight", weight.astype(np.float32)),
            self.constant(f"{name}.bias", bias.astype(np.float32)),
            axis=-1,
            epsilon=eps,
        )

    def model_bytes(self, inputs: list, outputs: list) -> bytes:
        graph = self.helper.make_graph(self.nodes, "medqa_bert", inputs, outputs, self.initializers)
        model = self.helper.make_model(
            graph,
            opset_imports=[self.helper.make_opsetid("", _OPSET), self.helper.make_opsetid(_CONTRIB, 1)],
            producer_name="medqa",
        )
        return model.SerializeToString()


def bert_graph(encoder: NumpyBertEncoder, *, int8: bool) -> bytes:
    """The serialised ONNX model of a BERT encoder with mean pooling, from the numpy encoder's weights.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x length); output ``pooled`` (float32,
    batch x hidden, not normalised), computed as :meth:`NumpyBertEncoder._forward` computes it.
    """
    weights = encoder._weights
    hidden, heads, eps = encoder.dimension, encoder.heads, encoder.eps
    head_dim = hidden // heads
    g = _GraphBuilder()
    tensor = g.onnx.TensorProto

    mask = g.op("Cast", "attention_mask", to=tensor.FLOAT)
    length = g.op("Gather", g.op("Shape", "input_ids"), g.ints("one", [1]), axis=0)
    positions = g.op(
        "Slice",
        g.constant("position", weights["position"]),
        g.ints("zero", [0]),
        length,
        g.ints("zero_axis", [0]),
    )
    x = g.op("Add", g.op("Gather", g.constant("word", weights["word"]), "input_ids", axis=0), positions)
    x = g.op("Add", x, g.constant("token_type", weights["token_type"][0]))
    x = g.layer_norm(x, "embeddings", weights["emb_ln_w"], weights["emb_ln_b"], eps)
    # -1e9 on padded keys, broadcast over heads and query rows: (batch, 1, 1, length).
    blocked = g.op(
        "Mul", g.op("Sub", g.constant("ones", np.float32(1.0)), mask), g.constant("minus", np.float32(-1e9))
    )
    key_bias = g.op("Unsqueeze", blocked, g.ints("head_axes", [1, 2]))
    split_shape = g.ints("split_shape", [0, 0, 3, heads, head_dim])
    merged_shape = g.ints("merged_shape", [0, 0, hidden])
    scale = g.constant("scale", np.float32(1.0 / math.sqrt(head_dim)))
    for index, layer in enumerate(weights["layers"]):
        name = f"layer{index}"
        qkv = g.linear(x, f"{name}.qkv", layer["qkv_w"], layer["qkv_b"], int8)
        # (batch, length, 3, heads, head_dim) -> (3, batch, heads, length, head_dim)
        parts = g.op("Transpose", g.op("Reshape", qkv, split_shape), perm=[2, 0, 3, 1, 4])
        query, key, value = (
            g.op("Gather", parts, g.constant(f"{name}.part{part}", np.int64(part)), axis=0)
            for part in range(3)
        )
        scores = g.op("MatMul", g.op("Mul", query, scale), g.op("Transpose", key, perm=[0, 1, 3, 2]))
        weights_of_keys = g.op("Softmax", g.op("Add", scores, key_bias), axis=-1)
        context = g.op("Transpose", g.op("MatMul", weights_of_keys, value), perm=[0, 2, 1, 3])
        attended = g.linear(
            g.op("Reshape", context, merged_shape), f"{name}.out", layer["out_w"], layer["out_b"], int8
        )
        x = g.layer_norm(g.op("Add", x, attended), f"{name}.ln1", layer["ln1_w"], layer["ln1_b"], eps)
        inner = g.linear(x, f"{name}.inter", layer["inter_w"], layer["inter_b"], int8)
        # GELU, erf form: x/2 * (1 + erf(x/sqrt(2)))
        erf = g.op("Erf", g.op("Mul", inner, g.constant(f"{name}.rsqrt2", np.float32(1 / math.sqrt(2)))))
        activated = g.op(
            "Mul", g.op("Mul", inner, g.constant(f"{name}.half", np.float32(0.5))), g.op("Add", erf, "ones")
        )
        # The second feed-forward product stays fp32: quantised, the smallest cosine falls below 0.99.
        output = g.linear(activated, f"{name}.ffn", layer["ffn_w"], layer["ffn_b"], quantize=False)
        x = g.layer_norm(g.op("Add", output, x), f"{name}.ln2", layer["ln2_w"], layer["ln2_b"], eps)
    token_weights = g.op("Unsqueeze", mask, g.ints("last_axis", [2]))
    summed = g.op("ReduceSum", g.op("Mul", x, token_weights), g.ints("token_axis", [1]), keepdims=0)
    counts = g.op(
        "Max",
        g.op("ReduceSum", token_weights, "token_axis", keepdims=0),
        g.constant("tiny", np.float32(1e-9)),
    )
    g.nodes.append(g.helper.make_node("Div", [summed, counts], ["pooled"]))
    inputs = [
        g.helper.make_tensor_value_info(name, tensor.INT64, ["batch", "length"])
        for name in ("input_ids", "attention_mask")
    ]
    outputs = [g.helper.make_tensor_value_info("pooled", tensor.FLOAT, ["batch", hidden])]
    return g.model_bytes(inputs, outputs)


class OnnxBertEncoder:
    """A BERT encoder with mean pooling run by ONNX Runtime on every core, in fp32 or int8."""

    def __init__(
        self,
        folder: str | Path,
        *,
        max_length: int | None = None,
        precision: str = FP32,
        threads: int | None = None,
    ) -> None:
        """Build the graph of a model folder and open a session for it.

        Args:
            folder: a sentence-transformers folder the numpy encoder supports (BERT + mean pooling).
            max_length: tokens kept per text (default: the folder's ``max_seq_length``).
            precision: :data:`FP32` or :data:`INT8` (use :meth:`check_int8` before trusting int8).
            threads: ONNX Runtime's threads (default: the cores this process may use).

        Raises:
            ModelLoadError: the folder is not a model the numpy encoder supports, or ONNX Runtime
                cannot run its graph.
            ValueError: an unknown precision.
        """
        if precision not in (FP32, INT8):
            raise ValueError(f"precision must be {FP32!r} or {INT8!r}, not {precision!r}")
        import onnxruntime

        self.reference = NumpyBertEncoder(folder, max_length=max_length)
        self.dimension = self.reference.dimension
        self.max_length = self.reference.max_length
        self.precision = precision
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or system.usable_cpus()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about unused initializers are not the user's concern
        try:
            self._session = onnxruntime.InferenceSession(
                bert_graph(self.reference, int8=precision == INT8),
                options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as error:  # ONNX Runtime's own error types (Fail, InvalidGraph ...) share no base
            raise ModelLoadError(f"ONNX Runtime cannot run {Path(folder).name}: {error}") from error
        self._lock = threading.Lock()  # one run at a time: the session already uses every core

    def check_int8(self, texts: Sequence[str], *, sample: int = INT8_CHECK_TEXTS, seed: int = 0) -> float:
        """The smallest cosine between this encoder's and the fp32 numpy encoder's embeddings of a seeded
        sample of ``texts`` (1.0 for no texts)."""
        texts = list(texts)
        if not texts:
            return 1.0
        rows = np.random.default_rng(seed).choice(len(texts), size=min(sample, len(texts)), replace=False)
        chosen = [texts[row] for row in rows]
        return float(np.min(np.sum(self.encode(chosen) * self.reference.encode(chosen), axis=1)))

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: ProgressCallback | None = None,
        workers: int = 1,
    ) -> np.ndarray:
        """Embed texts (normalised float32 rows), in batches of similar length.

        ``workers`` is for the interface: the session already runs every product on every core, and
        scales nearly linearly (64-65 texts/s on one thread, 122 on two, on the bench's sample), so a
        batch per core, as the numpy encoder runs, would gain little.
        """
        del workers
        token_ids = self.reference.token_ids(texts)
        result = np.zeros((len(token_ids), self.dimension), dtype=np.float32)
        done = 0
        for rows in length_batches(token_ids, batch_size, TOKENS_PER_BATCH):
            if progress is not None and done:
                progress(done, len(token_ids))
            ids, mask = padded_batch(token_ids, rows)
            with self._lock:
                result[rows] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            done += len(rows)
        if progress is not None and token_ids:
            progress(len(token_ids), len(token_ids))
        result /= np.maximum(np.linalg.norm(result, axis=1, keepdims=True), 1e-12)
        return result
