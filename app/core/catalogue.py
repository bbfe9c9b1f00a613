"""The model catalogue (``catalogue.toml``) and which of its models suits this machine.

The pick is a rule of thumb, not a measurement: a chat model decodes at roughly (weight bytes the CPU
can stream per second) / (file size), and that rate grows with cores and with the widest SIMD kernels
this llama.cpp build was compiled with, up to what memory can deliver. We keep the models that fit in
free RAM and free disk and would decode at reading speed, and take the highest-ranked of them. With a
GPU build the speed limit is lifted (layers are offloaded) and only memory and disk count.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import ModelNotFound

CATALOGUE = Path(__file__).with_name("catalogue.toml")
READING_SPEED = 6.0  # tokens/s: a reply appears about as fast as a person reads it
# Bytes of quantized weights one core streams through llama.cpp's matmul kernels per second, by the
# widest SIMD level in the build; measured figures on current x86 cores are 4-7 GB/s per thread.
PER_CORE_GBPS = {"AVX512": 6.5, "AVX2": 5.0, "AVX": 2.5}
BASELINE_GBPS = 1.5  # plain SSE or an unknown CPU
MEMORY_GBPS = 40.0  # dual-channel DDR4/DDR5: the ceiling however many cores decode
GPU_GBPS = 300.0
RAM_RESERVE_GB = 1.5  # the rest of Keepsake (embedder, database, page) and the system
DISK_RESERVE_GB = 1.0


class Entry(BaseModel):
    """One downloadable GGUF chat model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Short name used on the command line, e.g. llama3.2-3b.")
    title: str
    repo: str = Field(description="Hugging Face repository, owner/name.")
    file: str = Field(description="The GGUF file in that repository.")
    quantization: str
    params_b: float = Field(gt=0, description="Parameters, in billions.")
    size_gb: float = Field(gt=0, description="Download size.")
    ram_gb: float = Field(gt=0, description="Memory needed with a 4096-token context.")
    context: int = Field(gt=0, description="Longest context the model was trained for, in tokens.")
    licence: str
    languages: list[str]
    good_at: str
    rank: int = Field(description="Conversation quality in character; higher is better.")


@cache
def entries() -> tuple[Entry, ...]:
    """Every catalogue entry, in file order."""
    with CATALOGUE.open("rb") as f:
        return tuple(Entry.model_validate(row) for row in tomllib.load(f)["model"])


def find(name: str) -> Entry:
    """The entry called ``name``; the error lists the valid names."""
    for entry in entries():
        if entry.name == name.lower():
            return entry
    raise ModelNotFound(f"no model {name!r} in the catalogue; choose one of: {', '.join(e.name for e in entries())} "
                        "(or give REPO/FILE for any GGUF on the Hugging Face Hub)")


def by_file(file: str) -> Entry | None:
    """The entry whose GGUF file is called ``file``, if any (to name downloaded files)."""
    return next((e for e in entries() if e.file == file), None)


@dataclass(frozen=True)
class Machine:
    """What decides which model runs well here."""

    cores: int
    ram_free_gb: float
    disk_free_gb: float
    simd: str  # the widest SIMD level the llama.cpp build uses: AVX512, AVX2, AVX or ""
    gpu_offload: bool

    @property
    def stream_gbps(self) -> float:
        """Weight bytes per second decoding can stream (see the module docstring)."""
        if self.gpu_offload:
            return GPU_GBPS
        return min(self.cores * PER_CORE_GBPS.get(self.simd, BASELINE_GBPS), MEMORY_GBPS)

    def decode_estimate(self, entry: Entry) -> float:
        """Rough decode tokens/s for ``entry``: weights are read once per token."""
        return self.stream_gbps / entry.size_gb

    def fits(self, entry: Entry) -> list[str]:
        """Why ``entry`` does not suit this machine; empty when it does."""
        why = []
        if entry.ram_gb > self.ram_free_gb - RAM_RESERVE_GB:
            why.append(f"needs {entry.ram_gb:.1f} GB RAM, {self.ram_free_gb:.1f} GB free")
        if entry.size_gb > self.disk_free_gb - DISK_RESERVE_GB:
            why.append(f"needs {entry.size_gb:.1f} GB disk, {self.disk_free_gb:.1f} GB free")
        if self.decode_estimate(entry) < READING_SPEED:
            why.append(f"about {self.decode_estimate(entry):.1f} tokens/s here, slower than reading ({READING_SPEED:.0f})")
        return why


def build_simd(system_info: str) -> str:
    """The widest SIMD level named as on (``= 1``) in llama.cpp's system info.

    >>> build_simd("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 0 | FMA = 1 |")
    'AVX2'
    """
    flags = {part.split("=")[0].strip().split(":")[-1].strip()
             for part in system_info.split("|") if part.strip().endswith("= 1")}
    return next((level for level in ("AVX512", "AVX2", "AVX") if level in flags), "")


def probe(home: Path) -> Machine:
    """This machine as llama.cpp will use it: usable cores, free RAM, free disk under ``home``."""
    import llama_cpp
    import psutil

    from app.core import cpu_backend

    cpu_backend.load()  # so that the system info names the kernels chosen for this CPU
    folder = Path(home)
    while not folder.exists() and folder != folder.parent:  # the data directory may not exist yet
        folder = folder.parent
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return Machine(cores=cores, ram_free_gb=psutil.virtual_memory().available / 1e9,
                   disk_free_gb=shutil.disk_usage(folder).free / 1e9,
                   simd=build_simd(llama_cpp.llama_print_system_info().decode(errors="replace")),
                   gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()))


def recommend(machine: Machine, language: str | None = None) -> Entry | None:
    """The highest-ranked entry that fits ``machine`` (and speaks ``language``); None if none does."""
    suitable = [e for e in entries() if not machine.fits(e) and (language is None or language in e.languages)]
    return max(suitable, key=lambda e: e.rank, default=None)
