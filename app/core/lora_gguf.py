"""LoRA adapters as GGUF files that llama.cpp loads beside its base model, and the check that they fit.

A LoRA adapter adds ``B @ A`` (scaled by ``alpha / rank``) to a weight matrix. PyTorch keeps
``A`` as (rank, in) and ``B`` as (out, rank); GGUF stores tensors with their dimensions reversed,
so the same arrays land as llama.cpp's ``ne = [in, rank]`` and ``[rank, out]``: what its adapter
loader expects for ``blk.N.<tensor>.weight.lora_a`` / ``.lora_b`` (names from the ``gguf``
package's own name map, the one llama.cpp's converters use).

One trap: llama.cpp's converter reorders the rows of the query and key projections of
llama-architecture models (each head's two rotary halves are interleaved, ``LlamaModel.permute`` in
``convert_hf_to_gguf.py``) and transformers undoes that when it loads such a GGUF. A LoRA delta on
those matrices must get the same row order as the GGUF's weights; the row order is all ``B`` holds
(``P (W + B A) = P W + (P B) A``), so only ``B`` is permuted. Forget it and the adapter still
loads, silently wrong: ``tests/test_finetune.py`` compares llama.cpp with PyTorch to catch that.

Supported architectures (``SUPPORTED``): ``llama`` (Llama 2/3, Mistral, SmolLM, TinyLlama and other
GGUFs that call themselves llama), tested end to end; ``qwen2`` and ``qwen3``, whose converter does
not permute, follow the same path but no such model is at hand to test with. Others are refused.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import ModelLoadError, PersonaError
from app.core.files import WriteError

# Architecture (as the GGUF names it) -> whether its q/k rows are permuted by llama.cpp's converter.
SUPPORTED = {"llama": True, "qwen2": False, "qwen3": False}
# The projections a persona adapter trains, attention and MLP of every block: transformers' module
# name -> llama.cpp's tensor name in each block.
TARGETS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
           "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
NOTES = "keepsake.finetune."  # prefix of the fine-tune's figures kept in the adapter (perplexities, steps)


@dataclass(frozen=True)
class BaseModel:
    """What an adapter needs to know of its base GGUF."""

    path: Path
    arch: str
    n_head: int
    n_head_kv: int
    n_blocks: int
    shapes: dict[str, tuple[int, ...]]  # tensor name -> ggml shape (ne: the row length first)


def _value(reader, key: str):  # noqa: ANN001, ANN202
    field = reader.get_field(key)
    return field.contents() if field is not None else None


def read_base(path: Path) -> BaseModel:
    """The architecture, head counts and tensor shapes of a base GGUF.

    Cached per file version: the reader parses the whole vocabulary too, seconds for a 49k-token one.
    """
    path = Path(path)
    st = path.stat()
    return _read_base(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _read_base(path: Path, mtime_ns: int, size: int) -> BaseModel:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except Exception as exc:  # the reader raises assorted errors on damaged headers
        raise ModelLoadError(f"cannot read the base model {path}: {exc}") from None
    arch = _value(reader, "general.architecture") or "unknown"
    return BaseModel(
        path=Path(path), arch=arch,
        n_head=int(_value(reader, f"{arch}.attention.head_count") or 0),
        n_head_kv=int(_value(reader, f"{arch}.attention.head_count_kv") or _value(reader, f"{arch}.attention.head_count") or 0),
        n_blocks=int(_value(reader, f"{arch}.block_count") or 0),
        shapes={t.name: tuple(int(n) for n in t.shape) for t in reader.tensors},
    )


def require_supported(base: BaseModel) -> None:
    """Refuse, with the list, an architecture whose adapter layout is not known here."""
    if base.arch not in SUPPORTED:
        raise PersonaError(f"fine-tuning supports GGUF models of architecture {', '.join(sorted(SUPPORTED))}; "
                           f"{base.path.name} is {base.arch!r}")


def adapter_bytes(base: BaseModel, rank: int) -> int:
    """Size of a float32 adapter of ``rank`` on every target of ``base``, from its shapes alone."""
    targets = {f".{name}.weight" for name in TARGETS.values()}
    return 4 * rank * sum(s[0] + s[1] for name, s in base.shapes.items()
                          if name.startswith("blk.") and name[name.index(".", 4):] in targets)


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Rows in llama.cpp's rotary order: per head, (half 0, half 1) becomes interleaved pairs.

    Example with one head of 4 rows: rows [a, b, c, d] (halves [a, b] and [c, d]) become [a, c, b, d].
    """
    rows = weights.shape[0]
    return weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def gguf_name(base: BaseModel, module: str) -> str:
    """llama.cpp's tensor name of a transformers module: ``model.layers.3.self_attn.q_proj`` -> ``blk.3.attn_q``."""
    name = _name_map(base.arch, base.n_blocks).get_name(module)
    if name is None:
        raise PersonaError(f"no llama.cpp tensor corresponds to {module} in a {base.arch} model")
    return name


@functools.lru_cache(maxsize=8)
def _name_map(arch: str, n_blocks: int):  # noqa: ANN202
    import gguf

    return gguf.get_tensor_name_map({name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}[arch], n_blocks)


def to_gguf_layout(base: BaseModel, module: str, a: np.ndarray, b: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
    """(tensor name, A, B) as llama.cpp reads them for this module of this base model."""
    if SUPPORTED[base.arch] and module.endswith("q_proj"):
        b = permute_rows(b, base.n_head)
    elif SUPPORTED[base.arch] and module.endswith("k_proj"):
        b = permute_rows(b, base.n_head_kv)
    return gguf_name(base, module) + ".weight", a, b


def write_adapter(path: Path, base: BaseModel, lora: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float,
                  notes: dict[str, float] | None = None) -> None:
    """Write ``lora`` (transformers module name -> (A, B) as float arrays) as a GGUF LoRA adapter.

    ``notes`` (figures such as the perplexities) are kept in the file, for ``read_notes``. Written to
    a temporary name and renamed, so a full disk leaves the previous adapter (or none).
    """
    import gguf

    require_supported(base)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    writer = gguf.GGUFWriter(tmp, base.arch)
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        writer.add_base_model_count(1)
        writer.add_base_model_name(0, base.path.name)
        for key, value in (notes or {}).items():
            writer.add_float32(NOTES + key, float(value))
        for module, (a, b) in sorted(lora.items()):
            name, a, b = to_gguf_layout(base, module, a, b)
            writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
            writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, path)
    except OSError as exc:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write the adapter {path}: {exc.strerror or exc}") from None


def read_notes(adapter: Path) -> dict[str, float]:
    """The figures ``write_adapter`` kept in an adapter (empty for a file that has none or cannot be read)."""
    from gguf import GGUFReader

    try:
        fields = GGUFReader(adapter).fields
    except Exception:  # a damaged file: check_adapter says what is wrong with it
        return {}
    return {key.removeprefix(NOTES): float(field.contents()) for key, field in fields.items() if key.startswith(NOTES)}


def check_adapter(adapter: Path, base: BaseModel) -> None:
    """Raise ModelLoadError unless ``adapter`` is a LoRA GGUF whose every tensor fits ``base``.

    llama.cpp refuses a mismatch too, but says so only in its log; this names the problem.
    """
    from gguf import GGUFReader

    adapter = Path(adapter)
    if not adapter.is_file():
        raise ModelLoadError(f"the LoRA adapter {adapter} is missing; run `personas finetune` again")
    try:
        reader = GGUFReader(adapter)
    except Exception as exc:  # the reader raises assorted errors on damaged files
        raise ModelLoadError(f"the LoRA adapter {adapter} is damaged ({type(exc).__name__}); run `personas finetune` again") from None
    if _value(reader, "general.type") != "adapter" or _value(reader, "adapter.type") != "lora":
        raise ModelLoadError(f"{adapter} is not a LoRA adapter GGUF")
    arch = _value(reader, "general.architecture")
    if arch != base.arch:
        raise ModelLoadError(f"the LoRA adapter {adapter.name} is for a {arch} model, not {base.path.name} ({base.arch})")
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}
    for name, a_shape in shapes.items():
        if not name.endswith(".lora_a"):
            continue
        target = name.removesuffix(".lora_a")
        b_shape, weight = shapes.get(target + ".lora_b"), base.shapes.get(target)
        # ggml shapes: W is [in, out], A is [in, rank], B is [rank, out].
        if weight is None or b_shape is None or (a_shape[0], b_shape[1]) != weight[:2] or a_shape[1] != b_shape[0]:
            raise ModelLoadError(f"the LoRA adapter {adapter.name} does not fit {base.path.name} (tensor {target}); "
                                 "it was trained on another model: run `personas finetune` again for this one")
