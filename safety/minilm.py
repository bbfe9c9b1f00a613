"""The packaged all-MiniLM-L6-v2 split in two for the safety models that fine-tune it: a frozen bottom
(the embeddings and the lower layers, exactly as memory ships them) and the top layers that training
replaces. Only what training changed is shipped, as int8 steps from the packaged weights (``packed``).

Used by the intent detectors (``safety.intent``: self-harm and harm to others, three layers trained) and the cross-encoder judge
(``safety.cross_encoder``, all six).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.errors import KeepsakeError

DELTA_STEPS = 8  # int8 steps per standard deviation of a row's change from the packaged weights


class Reader:
    """MiniLM with its lower ``frozen`` layers kept as they are and the rest (``top``) trainable."""

    def __init__(self, frozen: int, max_tokens: int, path: Path | None = None, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from memory.embedder import packaged_model_dir

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        path = path or packaged_model_dir()
        self.torch = torch
        self.device = device
        self.max_tokens = max_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        # float32 whatever the file holds: the shipped changes are measured from these weights.
        self.bert = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager",
                                              dtype=torch.float32).to(device).eval()
        self.frozen = frozen
        self.top = self.bert.encoder.layer[frozen:]
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

    def bottom(self, batch: dict):  # noqa: ANN201
        """Hidden states after the frozen layers (no gradient: they are never trained)."""
        with self.torch.no_grad():
            h = self.bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
            m = self._mask(batch["attention_mask"])
            for layer in self.bert.encoder.layer[:self.frozen]:
                h = self._run(layer, h, m)
        return h

    def pooled(self, h, attention):  # noqa: ANN001, ANN201
        """The top layers over frozen hidden states, mean-pooled over the real tokens."""
        m = self._mask(attention)
        for layer in self.top:
            h = self._run(layer, h, m)
        weight = attention[:, :, None].to(h.dtype)
        return (h * weight).sum(1) / weight.sum(1).clamp(min=1.0)

    def packaged_top(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.top.state_dict().items()}

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
