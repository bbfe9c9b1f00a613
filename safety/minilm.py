"""The packaged all-MiniLM-L6-v2 split in two for the safety models that fine-tune it: a frozen bottom
(the embeddings and the lower layers, exactly as memory ships them) and the top layers that training
replaces. Only what training changed is shipped, as int8 steps from the packaged weights (``packed``).

Used by the intent detectors (``safety.intent``: self-harm and harm to others, three layers trained) and the cross-encoder judge
(``safety.cross_encoder``, all six), and for the default judge's sentence embeddings (``SentenceEmbedder``, none trained).
The packaged model is loaded once per process for all of them.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.core.errors import KeepsakeError

DELTA_STEPS = 8  # int8 steps per standard deviation of a row's change from the packaged weights


def in_length_order(texts: Sequence[str], read: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``read`` over ``texts`` shortest first, its answers back in the order given. A batch is padded to its longest
    text, so texts of like length read together: a third less time over a suite's mix of one-liners and letters."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    read_in_order = read([texts[i] for i in order])
    out = np.empty_like(read_in_order)
    out[order] = read_in_order
    return out


class Reader:
    """MiniLM with its lower ``frozen`` layers kept as they are and the rest (``top``) its own, to train or load.

    The packaged model is loaded once per process and shared (``packaged``): no reader changes it, each has a copy
    of the layers it trains. The frozen bottom is the same for every reader with the same split, so a message's
    hidden states after it are remembered for the next reader (``bottom(..., remember=True)``): the two intent
    detectors read every request, and the second one runs only its own top layers."""

    def __init__(self, frozen: int, max_tokens: int, path: Path | None = None, device: str = "cpu",
                 own_top: bool = True) -> None:
        from memory.embedder import packaged_model_dir

        path = path or packaged_model_dir()
        self.shared = packaged(path, device)
        self.torch, self.bert = self.shared.torch, self.shared.bert
        # A reader's own: a fast tokenizer used from two threads at once fails ("Already borrowed").
        self.tokenizer = self.shared.auto_tokenizer.from_pretrained(str(path), local_files_only=True)
        self.device = device
        self.max_tokens = max_tokens
        self.frozen = frozen
        # Its own copy of the layers it trains or loads (``own_top``); else the packaged layers themselves.
        self.top = copy.deepcopy(self.bert.encoder.layer[frozen:]) if own_top else self.bert.encoder.layer[frozen:]
        self.dim = self.bert.config.hidden_size

    def tokens(self, texts: Sequence[str]) -> dict:
        batch = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens, padding=True,
                               return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def _mask(self, attention):  # noqa: ANN001, ANN202
        return (1.0 - attention[:, None, None, :].float()) * -1e4

    @staticmethod
    def _run(layer, h, m):  # noqa: ANN001, ANN205
        out = layer(h, m)
        return out[0] if isinstance(out, tuple) else out  # transformers 4 returns a tuple, 5 the tensor

    def bottom(self, batch: dict, remember: bool = False):  # noqa: ANN201
        """Hidden states after the frozen layers (no gradient: they are never trained); with ``remember``, from or
        into the last few batches any reader of this split ran."""
        key = (self.frozen, tuple(batch["input_ids"].shape), batch["input_ids"].cpu().numpy().tobytes()) if remember else None
        if key and (h := self.shared.recalled(key)) is not None:
            return h
        with self.torch.no_grad():
            h = self.bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
            m = self._mask(batch["attention_mask"])
            for layer in self.bert.encoder.layer[:self.frozen]:
                h = self._run(layer, h, m)
        if key:
            self.shared.remember(key, h)
        return h

    def pooled(self, h, attention):  # noqa: ANN001, ANN201
        """The top layers over frozen hidden states, mean-pooled over the real tokens."""
        m = self._mask(attention)
        for layer in self.top:
            h = self._run(layer, h, m)
        weight = attention[:, :, None].to(h.dtype)
        return (h * weight).sum(1) / weight.sum(1).clamp(min=1.0)

    def packaged_top(self) -> dict[str, np.ndarray]:
        """The packaged weights of the layers this reader trains (what ``packed`` measures changes from)."""
        layers = self.bert.encoder.layer[self.frozen:]
        return {k: v.detach().cpu().numpy().copy() for k, v in layers.state_dict().items()}

    def load_top(self, w, unfit: KeepsakeError) -> None:  # noqa: ANN001
        """Put trained top layers (a ``np.load``-ed file in ``packed`` form) in place; ``unfit`` when they do not fit."""
        torch = self.torch
        try:
            state = {k: torch.from_numpy(v) for k, v in unpacked(w, self.packaged_top()).items()}
            missing, unexpected = self.top.load_state_dict(state, strict=False)
        except (KeyError, ValueError, RuntimeError):  # a layer the model lacks, or a tensor of another shape
            raise unfit from None
        if missing or unexpected:
            raise unfit


class SentenceEmbedder(Reader):
    """The packaged model's sentence embedding (mean-pooled, unit length, ``ST_TOKENS`` read: what memory's embedder
    computes with sentence-transformers, equal to float rounding) from the shared model and its remembered frozen
    states: a request the intent detectors have read runs only the upper, packaged layers here. The default judge
    embeds requests and replies with it (``safety.intent.sentence_embedder``), and the cross-encoder's training its
    near-copy check."""

    ST_TOKENS = 256
    name = "st:all-MiniLM-L6-v2"  # memory.embedder.PACKAGED_NAME: the same model's vectors, whichever code computes them
    dim = 384

    def __init__(self, frozen: int, path: Path | None = None, device: str = "cpu") -> None:
        super().__init__(frozen, self.ST_TOKENS, path, device, own_top=False)  # nothing here trains them
        self._lock = threading.Lock()  # one tokenizer: two threads at once fail ("Already borrowed")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return in_length_order(texts, self._embed)

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = []
        with self._lock, self.torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = self.tokens(texts[start:start + 32])
                v = self.pooled(self.bottom(batch, remember=True), batch["attention_mask"])
                out.append(self.torch.nn.functional.normalize(v, dim=-1).cpu().numpy())
        vectors = np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), dtype=np.float32)
        vectors[[not t.strip() for t in texts]] = 0.0  # as memory's embedder: "" is no text, not its special tokens
        return vectors


class Packaged:
    """The packaged model, loaded once, and the frozen hidden states of the last ``REMEMBERED`` batches."""

    REMEMBERED = 8

    def __init__(self, path: Path, device: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.torch = torch
        self.auto_tokenizer = AutoTokenizer
        # float32 whatever the file holds: the shipped changes are measured from these weights.
        self.bert = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager",
                                              dtype=torch.float32).to(device).eval()
        self._states: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def recalled(self, key: tuple):  # noqa: ANN201
        with self._lock:
            return self._states.get(key)

    def remember(self, key: tuple, h) -> None:  # noqa: ANN001
        with self._lock:
            self._states[key] = h
            while len(self._states) > self.REMEMBERED:
                self._states.popitem(last=False)


@functools.cache
def packaged(path: Path, device: str) -> Packaged:
    return Packaged(path, device)


def packed(trained: dict[str, np.ndarray], packaged: dict[str, np.ndarray],
           steps: float = DELTA_STEPS) -> dict[str, np.ndarray]:
    """The trained top layers as what fine-tuning changed, in int8 with one scale per row (``steps`` to a
    standard deviation of the row's change): the change is small and compresses to about a third of the
    layers in float16 (3.6 MB against 9.9 for three layers), and moves the logits by about 0.01."""
    out = {}
    for key, value in trained.items():
        change = value.astype(np.float32) - packaged[key]
        spread = change.std(axis=-1, keepdims=True) if change.ndim == 2 else np.array(change.std())
        scale = (spread / steps + 1e-12).astype(np.float32)
        out[f"delta.{key}"] = np.clip(np.round(change / scale), -127, 127).astype(np.int8)
        out[f"scale.{key}"] = scale
    return out


def unpacked(w, packaged: dict[str, np.ndarray]) -> dict[str, np.ndarray]:  # noqa: ANN001
    """The trained layers back from ``packed`` form (a ``np.load``-ed file)."""
    keys = [k[len("delta."):] for k in w.files if k.startswith("delta.")]
    return {k: packaged[k] + w[f"delta.{k}"].astype(np.float32) * w[f"scale.{k}"] for k in keys}
