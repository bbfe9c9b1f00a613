from pathlib import Path

import pytest

from app.core.errors import SettingsError
from app.core.settings import Sampling, load_settings


def test_defaults_live_under_keepsake_home(keepsake_home: Path) -> None:
    s = load_settings()
    assert s.home == keepsake_home.resolve()
    assert s.db_url == f"sqlite:///{keepsake_home.resolve() / 'keepsake.db'}"
    assert s.model is None and s.backend == "llama"


def test_precedence_flags_over_env_over_toml(keepsake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keepsake_home.mkdir(parents=True)
    (keepsake_home / "config.toml").write_text("temperature = 0.3\nn_ctx = 1024\ntop_k = 7\n")
    monkeypatch.setenv("KEEPSAKE_TEMPERATURE", "0.5")
    monkeypatch.setenv("KEEPSAKE_N_CTX", "2048")
    s = load_settings(n_ctx=512)
    assert (s.temperature, s.n_ctx, s.top_k) == (0.5, 512, 7)
    assert s.sampling == Sampling(temperature=0.5, top_k=7)


def test_unknown_key_in_toml_is_an_error(keepsake_home: Path) -> None:
    keepsake_home.mkdir(parents=True)
    (keepsake_home / "config.toml").write_text("temprature = 0.3\n")
    with pytest.raises(SettingsError, match="temprature"):
        load_settings()


def test_out_of_range_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPSAKE_TOP_P", "7")
    with pytest.raises(SettingsError, match="top_p"):
        load_settings()


def test_broken_toml_is_a_clean_error(keepsake_home: Path) -> None:
    keepsake_home.mkdir(parents=True)
    (keepsake_home / "config.toml").write_text("n_ctx = = 3\n")
    with pytest.raises(SettingsError, match="config.toml"):
        load_settings()


def test_none_overrides_fall_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPSAKE_SEED", "42")
    assert load_settings(seed=None).seed == 42
