"""The catalogue file, the recommendation rule, and the page's model panel logic (no downloads here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import preferences
from app.cli import main
from app.core import catalogue
from app.core.catalogue import Machine, build_simd, recommend
from app.core.errors import ModelNotFound

TWO_CORES = Machine(cores=2, ram_free_gb=22.0, disk_free_gb=80.0, simd="AVX2", gpu_offload=False)


def test_every_entry_is_complete_and_unique() -> None:
    entries = catalogue.entries()
    assert len(entries) >= 12
    assert len({e.name for e in entries}) == len(entries) and len({(e.repo, e.file) for e in entries}) == len(entries)
    for e in entries:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", e.repo) and e.file.endswith(".gguf") and "/" not in e.file
        assert e.quantization in e.file.upper().replace("-", "_") or e.quantization.lower() in e.file
        assert e.ram_gb > e.size_gb and e.context >= 8192 and e.languages and e.good_at
    assert {"en", "zh"} <= {lang for e in entries for lang in e.languages}
    families = {e.name.split("-")[0].rstrip("0123456789.") for e in entries}
    assert {"qwen", "llama", "gemma", "smollm", "mistral"} <= families


def test_find_names_the_valid_choices() -> None:
    assert catalogue.find("Gemma3-4B").repo == "ggml-org/gemma-3-4b-it-GGUF"
    with pytest.raises(ModelNotFound, match="no model 'gpt-5' in the catalogue; choose one of: qwen2.5-0.5b, "):
        catalogue.find("gpt-5")


@pytest.mark.parametrize("info, level", [
    ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 |", "AVX2"),
    ("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 |", "AVX512"),
    ("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 0 | AVX512 = 0 |", "AVX"),
    ("CPU : NEON = 1 | ARM_FMA = 1 |", ""),
])
def test_simd_level_of_the_build(info: str, level: str) -> None:
    assert build_simd(info) == level


def test_two_cores_get_a_small_model_at_reading_speed() -> None:
    pick = recommend(TWO_CORES)
    assert pick is not None and pick.name == "qwen2.5-1.5b"
    assert TWO_CORES.decode_estimate(pick) >= catalogue.READING_SPEED
    assert any("slower than reading" in why for why in TWO_CORES.fits(catalogue.find("llama3.2-3b")))


@pytest.mark.parametrize("machine, language, expected", [
    (Machine(16, 64.0, 500.0, "AVX512", False), None, "llama3.1-8b"),
    (Machine(16, 64.0, 500.0, "AVX512", False), "zh", "qwen2.5-7b"),
    (Machine(4, 16.0, 500.0, "AVX2", False), None, "gemma3-4b"),  # 7-8B models decode too slowly on 4 cores
    (Machine(2, 64.0, 500.0, "", True), None, "llama3.1-8b"),  # GPU offload: speed no longer limits
    (Machine(4, 3.0, 500.0, "AVX2", False), None, "llama3.2-1b"),  # 1.5 GB of RAM to spare
    (Machine(64, 64.0, 2.2, "AVX512", False), None, "qwen2.5-1.5b"),  # 1.2 GB of disk to spare
    (Machine(16, 2.0, 500.0, "AVX512", False), None, None),
])
def test_recommendation_follows_the_machine(machine: Machine, language: str | None, expected: str | None) -> None:
    pick = recommend(machine, language)
    assert (pick.name if pick else None) == expected


def test_probe_reads_this_machine(tmp_path: Path) -> None:
    m = catalogue.probe(tmp_path / "not-yet-created")
    assert m.cores >= 1 and m.ram_free_gb > 0 and m.disk_free_gb > 0 and m.simd in ("AVX512", "AVX2", "AVX", "")


def test_recommend_command_explains_the_pick() -> None:
    result = CliRunner().invoke(main, ["models", "recommend"])
    assert result.exit_code == 0, result.output
    assert re.search(r"This machine: \d+ cores, [\d.]+ GB RAM free, [\d.]+ GB disk free", result.stdout)
    assert "Get it with: python -m app models pull " in result.stdout or "embedded SmolLM2-135M" in result.stdout


def test_rm_of_something_not_downloaded_is_one_line(keepsake_home: Path) -> None:
    result = CliRunner().invoke(main, ["models", "rm", "qwen2.5-7b"])
    assert result.exit_code == 1 and result.stderr.startswith("error: no downloaded model 'qwen2.5-7b'")
    assert result.stderr.count("\n") == 1


def test_page_panel_marks_downloads_and_refuses_non_admins_behind_sign_in(settings, tmp_path: Path) -> None:  # noqa: ANN001
    from app.core.backends import EchoBackend
    from app.service import ChatService
    from app.web_models import NotAllowed, catalogue_text, download
    from memory.store import Store

    entry = catalogue.find("gemma2-2b")
    (settings.home / "models").mkdir(parents=True)
    (settings.home / "models" / entry.file).write_bytes(b"GGUF")
    text = catalogue_text(settings.home, TWO_CORES)
    line = next(block for block in text.split("\n- ") if entry.title in block)
    assert "⬇ downloaded" in line and "slower than reading" in line
    assert text.count("⬇ downloaded") == 1 and text.count("✓ ~") == 5

    service = ChatService(settings.model_copy(update={"auth": True}), backend=EchoBackend(),
                          store=Store(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    visitor = service.store.user_id("visitor", create=True)
    with pytest.raises(NotAllowed, match="only an administrator can download models"):
        download(service, visitor, entry.name)


def test_a_persona_preferred_model_applies_when_the_user_chose_none(settings, tmp_path: Path) -> None:  # noqa: ANN001
    from app.core.backends import EchoBackend
    from app.service import ChatService
    from memory.store import Store
    from personas.persona import Persona, insert

    service = ChatService(settings, backend=EchoBackend(), store=Store(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    uid = service.store.user_id()
    with service.store.session() as s:
        fond = insert(s, uid, Persona(name="Grandpa", model="llama3.2-3b"))
        plain = insert(s, uid, Persona(name="Aunt"))
        elsewhere = insert(s, uid, Persona(name="Uncle", model="qwen3-8b"))
    path = settings.home / "models" / catalogue.find("llama3.2-3b").file
    path.parent.mkdir(parents=True)
    path.write_bytes(b"GGUF")
    default = preferences.Preferences()
    assert preferences.persona_choice(service, uid, fond, default).model == str(path.absolute())
    assert preferences.persona_choice(service, uid, plain, default).model == ""
    assert preferences.persona_choice(service, uid, elsewhere, default).model == ""  # not downloaded
    mine = preferences.Preferences(model="/chosen/by/me.gguf")
    assert preferences.persona_choice(service, uid, fond, mine).model == "/chosen/by/me.gguf"
    assert preferences.persona_choice(service, uid, 9999, default).model == ""  # not this user's persona
