"""Query encoders: embed a few short questions fast, without importing torch when possible.

Importing ``sentence_transformers`` pulls in torch, transformers, scikit-learn and scipy: about 10 s and
~550 MB of RSS on the 2-core target machine, far over the warm-start (3 s) and memory (1 GB) budgets.
Queries are short (a few dozen tokens), so a plain numpy forward pass of the BERT encoder is as fast as
torch for them. :class:`NumpyBertEncoder` runs all-MiniLM-L6-v2 (and any fine-tuned BERT run saved by
sentence-transformers with mean pooling) from its ``model.safetensors`` and ``tokenizer.json``; it is
checked against sentence-transformers in the tests (cosine >= 0.9999). Other architectures, weights in
16-bit floats or Hub ids fall back to :class:`TorchEncoder`, which wraps :func:`medqa.models.load_model`.

Corpus embeddings are computed once and cached on disk (:mod:`medqa.retrieval.dense`), by ONNX Runtime
(:mod:`medqa.retrieval.onnx_encoder`, which builds its graph from this module's weights and checks itself
against :class:`NumpyBertEncoder`), else by :class:`NumpyBertEncoder` one batch per core, else by torch
(:func:`medqa.models.encode`).

A long query shares its forward pass with a second thread (:class:`_Split`, from
:data:`SPLIT_MIN_TOKENS` tokens; fourteenth session). A long message (an e-mail of 40 words or more,
18% of the consumer questions) took 27 ms to embed on one thread, and made the hybrid search's p95 36
ms against the 30 ms goal. Measured over the 396 consumer questions, one encode each, AMD Zen 5, 2
cores (p50, one thread -> two): under 32 tokens 7.3 -> 8.0 ms (these products read the weights more
than they compute, so halving their rows only adds the hand-over), 32-63 tokens 11.9 -> 10.6 ms,
64-127 26.4-26.8 -> 18.1-20.5 ms, 128 and more 34 -> 21-24 ms; rows equal to 1e-7. Search p95 36.5 ->
27.1 ms (``bench/bench_ask.py``).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medqa import models, system
from medqa.errors import ModelLoadError

ProgressCallback = Callable[[int, int], None]

#: Most tokens (rows x padded length) in one forward pass: bounds the memory of long batches.
_TOKENS_PER_BATCH = 1024
#: Texts tokenised at once (:meth:`NumpyBertEncoder.token_ids`): bounds the tokenizer's memory.
TOKENIZE_CHUNK = 1024
#: A query's forward pass of at least this many tokens (rows x padded length) is shared with a second
#: thread (:class:`_Split`); shorter ones cost less than handing half to a thread (module docstring).
SPLIT_MIN_TOKENS = 64

_split_pool: ThreadPoolExecutor | None = None
_split_pool_lock = threading.Lock()


def _second_thread() -> ThreadPoolExecutor | None:
    """The one extra thread queries share their forward pass with (``None`` on a single core)."""
    global _split_pool
    if system.usable_cpus() < 2:
        return None
    with _split_pool_lock:
        if _split_pool is None:
            _split_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medqa-encode")
        return _split_pool


class _Split:
    """A forward pass's work done on the calling thread, or halved between it and a second thread.

    Token rows are independent everywhere but in attention, and attention heads are independent there,
    so each half is computed exactly as the whole pass computes it. Each thread's BLAS runs on one
    thread (:func:`single_thread_blas`), as corpus builds run one batch per core: numpy releases the GIL
    in its products, and two independent halves degrade gracefully on a busy CPU where two BLAS threads
    waiting for each other inside every product do not.
    """

    def __init__(self, pool: ThreadPoolExecutor | None) -> None:
        self.pool = pool

    def rows(self, work: Callable[..., Any], *arrays: np.ndarray) -> Any:
        """``work(*arrays)`` over token rows; its result (an array, or a tuple of arrays) joined by rows."""
        if self.pool is None or len(arrays[0]) < 2:
            return work(*arrays)
        half = len(arrays[0]) // 2
        other = self.pool.submit(work, *(array[half:] for array in arrays))
        first, second = work(*(array[:half] for array in arrays)), other.result()
        if isinstance(first, tuple):
            return tuple(np.concatenate(parts) for parts in zip(first, second, strict=True))
        return np.concatenate([first, second])

    def heads(self, work: Callable[[slice], np.ndarray], count: int) -> np.ndarray:
        if self.pool is None or count < 2:
            return work(slice(0, count))
        half = count // 2
        other = self.pool.submit(work, slice(half, count))
        return np.concatenate([work(slice(0, half)), other.result()], axis=1)


class QueryEncoder(Protocol):
    """Turns texts into L2-normalised float32 rows."""

    dimension: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, workers: int = 1) -> np.ndarray: ...


_blas_controller: object | None = None


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run BLAS on one thread: for query-sized products, OpenBLAS threads cost more than they save.

    Measured on the 2-core machine under load: one query's forward pass took 100-300 ms with the
    default threads and 16 ms with one.
    """
    global _blas_controller
    try:
        if _blas_controller is None:
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()  # after numpy is imported, so it sees OpenBLAS
        limiter = _blas_controller.limit(limits=1, user_api="blas")  # type: ignore[attr-defined]
    except Exception:  # threadpoolctl missing or unable to see the library: run as is
        limiter = contextlib.nullcontext()
    with limiter:
        yield


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


def _gelu_in_place(x: np.ndarray) -> np.ndarray:
    """GELU (erf form) of ``x``, written into ``x`` with two temporaries of its size.

    erf is Abramowitz & Stegun 7.1.26 (max error 1.5e-7, below float32 resolution of the activations).
    Written out in place because the naive expression holds about eight arrays of the FFN's size at
    once: over 100 MB for one batch, which a 1 GB server cannot spare.
    """
    # gelu(x) = x/2 * (1 + erf(x/√2)) = (x + |x| * erf(|x|/√2)) / 2
    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    del t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # poly * exp(-z^2): 1 - erf(|x|/√2)
    np.abs(x, out=z)
    np.subtract(1.0, poly, out=poly)
    poly *= z
    x += poly
    x *= 0.5
    return x


def _plain_mean_pooling(pooling: dict[str, object]) -> bool:
    """Whether a Pooling config is mean pooling alone.

    sentence-transformers 6 saves ``{"pooling_mode": "mean"}``; older versions (and the base model's
    folder) one flag per mode.
    """
    if "pooling_mode" in pooling:
        return pooling["pooling_mode"] == "mean"
    legacy_others = ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    return bool(pooling.get("pooling_mode_mean_tokens", False)) and not any(
        pooling.get(mode, False) for mode in legacy_others
    )


def length_batches(
    token_ids: Sequence[np.ndarray], batch_size: int, tokens_per_batch: int
) -> list[np.ndarray]:
    """Row indices of ``token_ids`` in batches of similar length, longest first.

    The first row sets a batch's padded length; long texts go in fewer rows (at most
    ``tokens_per_batch`` rows x length), since attention scores grow with rows x length^2.
    """
    order = np.argsort([-len(ids) for ids in token_ids], kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        length = len(token_ids[order[start]])
        batches.append(order[start : start + max(1, min(batch_size, tokens_per_batch // max(length, 1)))])
        start += len(batches[-1])
    return batches


def padded_batch(token_ids: Sequence[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids and attention mask of some rows, padded to the longest of them (the first of a batch)."""
    length = max(len(token_ids[row]) for row in rows)
    ids = np.zeros((len(rows), length), dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for slot, row in enumerate(rows):
        ids[slot, : len(token_ids[row])] = token_ids[row]
        mask[slot, : len(token_ids[row])] = 1
    return ids, mask


class NumpyBertEncoder:
    """A BERT encoder with mean pooling, run in numpy float32 (inference only)."""

    def __init__(self, folder: str | Path, *, max_length: int | None = None) -> None:
        """Load a model folder.

        Args:
            folder: a sentence-transformers folder (BERT + mean pooling).
            max_length: tokens kept per text (default: the folder's ``max_seq_length``, else 256).

        Raises:
            ModelLoadError: the architecture or pooling is not supported.
        """
        folder = Path(folder)
        max_length_override = max_length
        transformer_dir, pooling = _read_modules(folder)
        config = json.loads((transformer_dir / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
            raise ModelLoadError(f"{folder} is not a plain BERT model (numpy encoder unsupported)")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ModelLoadError(f"{folder} uses relative positions (numpy encoder unsupported)")
        if not _plain_mean_pooling(pooling):
            raise ModelLoadError(f"{folder} does not use plain mean pooling (numpy encoder unsupported)")
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimension = int(config["hidden_size"])
        st_config = transformer_dir / "sentence_bert_config.json"
        if not st_config.is_file():
            st_config = folder / "sentence_bert_config.json"
        max_length = 256
        if st_config.is_file():
            max_length = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length") or 256)
        self.max_length = min(
            max_length_override or max_length, int(config.get("max_position_embeddings", 512))
        )
        self._tokenizer = _load_tokenizer(transformer_dir, self.max_length)
        self._weights = _load_bert_weights(transformer_dir, int(config["num_hidden_layers"]))
        self._lock = threading.Lock()  # the tokenizer's truncation/padding state is shared

    def _forward(self, ids: np.ndarray, mask: np.ndarray, split: _Split | None = None) -> np.ndarray:
        """Mean-pooled embeddings of a padded batch; ``split`` shares the work with a second thread."""
        w = self._weights
        batch, length = ids.shape
        run = split or _Split(None)
        x = w["word"][ids] + w["position"][:length] + w["token_type"][0]
        x = _layer_norm(x, w["emb_ln_w"], w["emb_ln_b"], self.eps).reshape(batch * length, self.dimension)
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        layers = w["layers"]
        first = layers[0]
        qkv = run.rows(lambda rows: rows @ first["qkv_w"] + first["qkv_b"], x)
        for index, layer in enumerate(layers):
            context = run.heads(partial(self._attention, qkv, bias, batch, length), self.heads)
            after = layers[index + 1] if index + 1 < len(layers) else None
            x, qkv = run.rows(partial(self._rest_of_layer, layer=layer, after=after), x, context)
        weights = mask[:, :, None].astype(np.float32)
        x = x.reshape(batch, length, self.dimension)
        return (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def _attention(
        self, qkv: np.ndarray, bias: np.ndarray, batch: int, length: int, heads: slice
    ) -> np.ndarray:
        """Scaled dot-product attention of some heads: (batch * length, their heads x head size)."""
        head_dim = self.dimension // self.heads
        shaped = qkv.reshape(batch, length, 3, self.heads, head_dim)[:, :, :, heads].transpose(2, 0, 3, 1, 4)
        query, key, value = shaped[0], shaped[1], shaped[2]  # (B, heads, L, D)
        scores = query @ key.transpose(0, 1, 3, 2)
        scores *= np.float32(1.0 / math.sqrt(head_dim))
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return (scores @ value).transpose(0, 2, 1, 3).reshape(batch * length, -1)

    def _rest_of_layer(
        self, x: np.ndarray, context: np.ndarray, layer: dict, after: dict | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """What follows attention for some token rows (each row on its own): the output projection,
        the feed-forward block and their norms, then the next layer's query/key/value projection (no
        columns after the last layer)."""
        x = _layer_norm(
            x + context @ layer["out_w"] + layer["out_b"], layer["ln1_w"], layer["ln1_b"], self.eps
        )
        hidden = x @ layer["inter_w"]
        hidden += layer["inter_b"]
        output = _gelu_in_place(hidden) @ layer["ffn_w"]
        del hidden
        output += layer["ffn_b"]
        output += x
        x = _layer_norm(output, layer["ln2_w"], layer["ln2_b"], self.eps)
        return x, (x @ after["qkv_w"] + after["qkv_b"] if after is not None else x[:, :0])

    def token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token ids, truncated to :attr:`max_length`.

        Tokenised :data:`TOKENIZE_CHUNK` texts at a time, keeping only the ids: the tokenizer's Encoding
        objects (tokens, offsets ...) of the full corpus's 31,355 index texts at once took about 400 MB
        of the index-building process's memory, which it kept (eighteenth session; 30 MB in chunks).
        """
        texts = list(texts)
        ids: list[np.ndarray] = []
        with self._lock:
            for start in range(0, len(texts), TOKENIZE_CHUNK):
                chunk = self._tokenizer.encode_batch(texts[start : start + TOKENIZE_CHUNK])
                ids.extend(np.asarray(item.ids, dtype=np.int64) for item in chunk)
        return ids

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: ProgressCallback | None = None,
        workers: int = 1,
    ) -> np.ndarray:
        """Embed texts (normalised float32 rows), in batches of similar length.

        Args:
            texts: the texts, in order.
            batch_size: texts per forward pass.
            progress: called as ``progress(done, total)`` as batches finish (corpus-sized jobs).
            workers: batches run at once, each on one BLAS thread (numpy releases the GIL in its
                products). Corpus builds use one per core: unlike multi-threaded BLAS, whose threads
                wait for each other inside every product (measured 4x slower than one thread when the
                CPU is shared), independent batches degrade gracefully on a busy machine.
        """
        token_ids = self.token_ids(texts)
        result = np.zeros((len(token_ids), self.dimension), dtype=np.float32)
        if not token_ids:
            return result
        with single_thread_blas():  # also for a corpus: two BLAS threads crawl when the CPU is shared
            self._encode_into(result, token_ids, batch_size, progress, max(1, workers))
        # Always normalised, with or without a Normalize module: retrieval compares rows by dot product.
        result /= np.maximum(np.linalg.norm(result, axis=1, keepdims=True), 1e-12)
        return result

    def _encode_into(
        self,
        result: np.ndarray,
        token_ids: list[np.ndarray],
        batch_size: int,
        progress: ProgressCallback | None,
        workers: int = 1,
    ) -> None:
        # A 1,024-token batch peaks near 45 MB of temporaries; smaller batches were no slower here.
        batches = length_batches(token_ids, batch_size, _TOKENS_PER_BATCH)
        # One batch (a query) long enough shares its pass with a second thread; several batches run one
        # per worker instead.
        shared = len(batches) == 1 and len(batches[0]) * len(token_ids[batches[0][0]]) >= SPLIT_MIN_TOKENS
        split = _Split(_second_thread() if shared else None)

        def run(rows: np.ndarray) -> int:
            result[rows] = self._forward(*padded_batch(token_ids, rows), split)
            return len(rows)

        done = 0
        if workers == 1:
            for rows in batches:
                if progress is not None and done:
                    progress(done, len(token_ids))
                done += run(rows)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for finished in pool.map(run, batches):
                    done += finished
                    if progress is not None and done < len(token_ids):
                        progress(done, len(token_ids))
        if progress is not None:
            progress(len(token_ids), len(token_ids))


class TorchEncoder:
    """Any sentence-transformers model, through torch (slower to import, general)."""

    def __init__(self, name: str) -> None:
        self.model = models.load_model(name)
        self.dimension = models._dimension(self.model)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, workers: int = 1) -> np.ndarray:
        """``workers`` is for the interface: torch already runs on every core (:mod:`medqa.models`)."""
        return models.encode(self.model, texts, batch_size=batch_size, precision="fp32")


def _read_modules(folder: Path) -> tuple[Path, dict[str, object]]:
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        raise ModelLoadError(f"{folder} has no modules.json (numpy encoder unsupported)")
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(kind not in ("Normalize",) for kind in kinds[2:]):
        raise ModelLoadError(f"{folder} has modules {kinds} (numpy encoder unsupported)")
    transformer_dir = folder / modules[0].get("path", "")
    pooling_file = folder / modules[1].get("path", "1_Pooling") / "config.json"
    pooling = json.loads(pooling_file.read_text(encoding="utf-8"))
    return transformer_dir, pooling


def _load_tokenizer(folder: Path, max_length: int):
    from tokenizers import Tokenizer

    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelLoadError(f"{folder} has no tokenizer.json (numpy encoder unsupported)")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip


def map_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as read-only arrays mapped from the file, not copied.

    Only the pages a computation touches become resident: a query reads a few rows of the 47 MB
    word-embedding table, so the server does not hold all of it for each model it serves.

    Raises:
        ModelLoadError: the file is truncated, not safetensors, or holds a dtype numpy lacks (bfloat16).
    """
    offset, header = models.safetensors_header(path)
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=offset)
        arrays = {}
        for name, spec in header.items():
            dtype = _SAFETENSORS_DTYPES.get(spec["dtype"])
            if dtype is None:
                raise ModelLoadError(f"{path} holds {spec['dtype']} tensors, which numpy cannot read")
            start, end = spec["data_offsets"]
            arrays[name] = np.asarray(data[start:end]).view(dtype).reshape(spec["shape"])
    except (ValueError, TypeError, KeyError, AttributeError, OSError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path} cannot be read by numpy: {error}") from error
    return arrays


def _load_bert_weights(folder: Path, layers: int) -> dict[str, object]:
    weights_file = folder / "model.safetensors"
    if not weights_file.is_file():
        raise ModelLoadError(f"{folder} has no model.safetensors (numpy encoder unsupported)")
    raw = map_safetensors(weights_file)
    anchor = next((key for key in raw if key.endswith("embeddings.word_embeddings.weight")), None)
    if anchor is None:
        raise ModelLoadError(f"{weights_file} holds no BERT embeddings")
    prefix = anchor[: -len("embeddings.word_embeddings.weight")]

    def get(name: str, transpose: bool = False) -> np.ndarray:
        array = raw[prefix + name].astype(np.float32, copy=False)
        return np.ascontiguousarray(array.T) if transpose else array

    weights: dict[str, object] = {
        "word": get("embeddings.word_embeddings.weight"),
        "position": get("embeddings.position_embeddings.weight"),
        "token_type": get("embeddings.token_type_embeddings.weight"),
        "emb_ln_w": get("embeddings.LayerNorm.weight"),
        "emb_ln_b": get("embeddings.LayerNorm.bias"),
    }
    blocks = []
    for index in range(layers):
        base = f"encoder.layer.{index}."
        attention = base + "attention."
        blocks.append(
            {
                "qkv_w": np.ascontiguousarray(
                    np.concatenate(
                        [get(attention + f"self.{part}.weight") for part in ("query", "key", "value")], axis=0
                    ).T
                ),
                "qkv_b": np.concatenate(
                    [get(attention + f"self.{part}.bias") for part in ("query", "key", "value")]
                ),
                "out_w": get(attention + "output.dense.weight", transpose=True),
                "out_b": get(attention + "output.dense.bias"),
                "ln1_w": get(attention + "output.LayerNorm.weight"),
                "ln1_b": get(attention + "output.LayerNorm.bias"),
                "inter_w": get(base + "intermediate.dense.weight", transpose=True),
                "inter_b": get(base + "intermediate.dense.bias"),
                "ffn_w": get(base + "output.dense.weight", transpose=True),
                "ffn_b": get(base + "output.dense.bias"),
                "ln2_w": get(base + "output.LayerNorm.weight"),
                "ln2_b": get(base + "output.LayerNorm.bias"),
            }
        )
    weights["layers"] = blocks
    return weights  # transposed and fused weights are copies; the rest stay mapped from the file


_encoders: dict[tuple[str, str, str], QueryEncoder] = {}
_lock = threading.Lock()


def load_query_encoder(name: str, *, prefer_numpy: bool = True, allow_torch: bool = True) -> QueryEncoder:
    """The fastest available query encoder for a model, cached per process.

    Args:
        name: a model name as :func:`medqa.models.resolve_model_source` accepts.
        prefer_numpy: try the torch-free numpy encoder first (falls back to torch when unsupported).
        allow_torch: fall back to torch for a model the numpy encoder cannot run. The app's server
            passes ``False``: loading torch there costs about 828 MB (measured), most of Community
            Cloud's 1 GB, so such a model is refused with a clear message instead.

    Raises:
        ModelLoadError: the model cannot be loaded at all, or only with torch when ``allow_torch`` is off.
    """
    source = models.resolve_model_source(name)
    key = (source, models._folder_signature(source), "numpy" if prefer_numpy else "torch")
    with _lock:
        if key in _encoders:
            return _encoders[key]
        encoder: QueryEncoder | None = None
        reason = "it is not a local model folder"
        if prefer_numpy and Path(source).is_dir():
            try:
                encoder = NumpyBertEncoder(source)
            except (ModelLoadError, KeyError, ValueError, OSError, json.JSONDecodeError) as error:
                encoder = None  # an architecture the numpy path does not cover: use torch
                reason = str(error).replace(str(source), "the model")
        if encoder is None:
            if not allow_torch:
                raise ModelLoadError(
                    f"{Path(name).name or name} cannot be used in this app: {reason}. The app answers with a "
                    "torch-free encoder for BERT models with mean pooling (such as all-MiniLM-L6-v2 and runs "
                    "fine-tuned from it), and loading torch for other models would not fit the server's memory."
                )
            encoder = TorchEncoder(name)
        _encoders[key] = encoder
        return encoder
