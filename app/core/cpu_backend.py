"""Picking llama.cpp's CPU kernels for the CPU we run on, at run time.

llama.cpp can be built with ``GGML_BACKEND_DL`` and ``GGML_CPU_ALL_VARIANTS``: instead of
one CPU backend compiled for the build machine (``GGML_NATIVE``, which crashed or computed wrong logits
on AMX/AVX-512 CPUs with this llama.cpp) or for plain AVX2 (safe, but leaves AVX-512 unused), it
builds one backend per x86 level (x64, sse42, haswell = AVX2, skylakex = AVX-512, icelake,
sapphirerapids = AMX, ...) as a shared library, and ggml scores each against the running CPU.
llama-cpp-python 0.3.36 never loads them (abetlen/llama-cpp-python#2069) and llama.cpp then loads no
model at all, so ``load()`` asks ggml to, once, before the first model.

A portable build (no variant libraries next to libggml) registers its CPU backend statically and
``load()`` does nothing; that is what scripts/bootstrap installs. The variants are opt-in:
``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON
-DCMAKE_INSTALL_BINDIR=llama_cpp/lib"`` for the llama-cpp-python build. On the AMX/AVX-512 VM we
develop on, ggml's own scoring picks the sapphirerapids (AMX) kernels, which stop with SIGILL, and the
AVX-512 ones (skylakex, icelake) miscount ("1, 2, 4, 5"); only haswell (AVX2) matches the baseline
x86-64 kernels, so the default stays portable. tests/test_cpu_backend.py runs that check on any
machine with a variant build. ``KEEPSAKE_CPU_VARIANT=haswell`` (say) forces one variant, to compare
kernels or step around a bad one.
"""

from __future__ import annotations

import ctypes
import os
import threading
from functools import cache
from pathlib import Path

_lock = threading.Lock()
_loaded: str | None = None


def variant_dirs() -> list[Path]:
    """Where the variant libraries may be: beside libggml (as scripts/bootstrap installs them), or in
    the ``bin`` folder a default scikit-build install puts them in."""
    import llama_cpp

    package = Path(llama_cpp.__file__).parent
    return [package / "lib", package.parent / "bin"]


def variants() -> list[Path]:
    """The CPU backend variant libraries of this build (empty for a portable build)."""
    return sorted(p for d in variant_dirs() if d.is_dir() for p in d.glob("libggml-cpu-*.so"))


@cache
def _ggml() -> ctypes.CDLL:
    from llama_cpp import _ggml

    lib = _ggml.libggml
    lib.ggml_backend_load.argtypes, lib.ggml_backend_load.restype = [ctypes.c_char_p], ctypes.c_void_p
    lib.ggml_backend_reg_count.argtypes, lib.ggml_backend_reg_count.restype = [], ctypes.c_size_t
    return lib


def _score(path: Path) -> int:
    """ggml's own score of a variant for this CPU (0: this CPU lacks an instruction it needs)."""
    lib = ctypes.CDLL(str(path), mode=os.RTLD_LOCAL)
    score = getattr(lib, "ggml_backend_score", None)
    if score is None:
        return 0
    score.restype = ctypes.c_int
    return score()


def load() -> str | None:
    """Load the best CPU variant (once); returns its name, e.g. ``sapphirerapids``, or None when the
    build has no variants. The choice is ggml's scoring unless KEEPSAKE_CPU_VARIANT names one."""
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        found = {p.name.removeprefix("libggml-cpu-").removesuffix(".so"): p for p in variants()}
        if not found:
            if not _ggml().ggml_backend_reg_count():  # a run-time-loading build whose variants went missing
                from app.core.errors import ModelLoadError

                raise ModelLoadError("this llama.cpp build loads its CPU kernels at run time, but none were found in "
                                     f"{' or '.join(map(str, variant_dirs()))}; reinstall with scripts/bootstrap")
            return None
        wanted = os.environ.get("KEEPSAKE_CPU_VARIANT", "")
        if wanted:
            if wanted not in found:
                from app.core.errors import SettingsError

                raise SettingsError(f"KEEPSAKE_CPU_VARIANT={wanted!r} is not one of this build's CPU variants: "
                                    f"{', '.join(sorted(found))}")
            name = wanted
        else:
            scores = {name: _score(path) for name, path in found.items()}
            name = max(scores, key=lambda n: scores[n])
            if scores[name] <= 0:
                raise RuntimeError(f"no CPU backend variant of this llama.cpp build runs on this CPU: {found}")
        if not _ggml().ggml_backend_load(str(found[name]).encode()):
            raise RuntimeError(f"llama.cpp could not load its CPU backend {found[name]}")
        _loaded = name
        return name
