"""One typed settings object for the whole program.

Values come, strongest first, from: command-line flags (``--temperature 0.2``), environment variables
(``KEEPSAKE_TEMPERATURE=0.2``), the TOML file (``$KEEPSAKE_HOME/config.toml`` or ``KEEPSAKE_CONFIG``),
then the defaults below. Unknown keys are errors everywhere, so a typo never passes silently. The CLI
flags are generated from these fields (see ``app.cli``), so each setting is defined once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from app.core.errors import SettingsError


def default_home() -> Path:
    """Where Keepsake keeps everything it writes, unless KEEPSAKE_HOME says otherwise."""
    return Path(platformdirs.user_data_dir("keepsake", appauthor=False))


def config_path() -> Path:
    """The TOML file that is read, whether or not it exists."""
    if os.environ.get("KEEPSAKE_CONFIG"):
        return Path(os.environ["KEEPSAKE_CONFIG"])
    home = os.environ.get("KEEPSAKE_HOME")
    return (Path(home) if home else default_home()) / "config.toml"


class Sampling(BaseModel):
    """Sampler settings for one reply; Settings holds them flat, a request may override them."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.7, ge=0.0, le=5.0, description="Sampling temperature; 0 is greedy.")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling: keep this probability mass.")
    top_k: int = Field(40, ge=0, description="Keep the k most likely tokens; 0 keeps all.")
    min_p: float = Field(0.05, ge=0.0, le=1.0, description="Drop tokens below this share of the top one.")
    repeat_penalty: float = Field(1.1, ge=0.0, le=3.0, description="Penalty for repeating recent tokens.")
    seed: int | None = Field(None, ge=0, description="Sampler seed; the same seed and prompt give the same reply.")
    max_tokens: int = Field(512, ge=1, le=32768, description="Most tokens in one reply.")
    stop: list[str] = Field(default_factory=list, description="Extra strings that end a reply.")
    word_bias: dict[str, float] = Field(
        default_factory=dict, description="Words to favour (or, negative, avoid): added to the logit of the token "
        "that spells each word (llama.cpp models). A persona built from letters favours its distinctive words when "
        "this is not set; set it to {} to turn that off.")


SAMPLING_FIELDS = tuple(Sampling.model_fields)


class SafetySettings(BaseModel):
    """The safety filter's switches; Settings holds them flat, and a persona may only make them stricter."""

    model_config = ConfigDict(extra="forbid")

    safety: bool = Field(True, description="Run the safety filter on every reply.")
    safety_mode: Literal["hold", "stream"] = Field(
        "stream", description="stream: show tokens, judge as the reply grows, withdraw if needed (requests judged "
        "unsafe are always held); hold: score each reply before showing any of it.")
    safety_best_of: int = Field(2, ge=0, le=8, description="Retries with a safety instruction before falling back.")
    safety_threshold: float = Field(0.0, ge=-1.0, le=1.0, description="Least safety reward for a reply to be shown.")
    allow_adult: bool = Field(False, description="Allow explicit content between verified adults (never with minors).")

    def for_persona(self, overrides: dict) -> SafetySettings:
        """These settings as a persona may adjust them: only ever stricter, never off.

        A persona's card or seed is data that anyone can write, so it can raise the threshold or
        the retries and forbid adult content, but cannot lower, disable or allow anything. Its keys are
        the card's: ``threshold``, ``best_of``, ``allow_adult``, ``mode``.
        """
        return self.model_copy(update={
            "safety_threshold": max(self.safety_threshold, float(overrides.get("threshold", self.safety_threshold))),
            "safety_best_of": max(self.safety_best_of, min(int(overrides.get("best_of", self.safety_best_of)), 8)),
            "allow_adult": self.allow_adult and bool(overrides.get("allow_adult", True)),
            "safety_mode": "hold" if overrides.get("mode") == "hold" else self.safety_mode,
        })


SAFETY_FIELDS = tuple(SafetySettings.model_fields)


class Settings(BaseSettings, Sampling, SafetySettings):
    """Everything Keepsake can be configured with (sampler and safety fields are inherited from Sampling and SafetySettings)."""

    model_config = SettingsConfigDict(env_prefix="KEEPSAKE_", extra="forbid", validate_default=True)

    home: Path = Field(default_factory=default_home, description="Data directory: database, indexes, personas.")
    backend: Literal["llama", "remote", "echo"] = Field(
        "llama", description="Chat backend: llama (local GGUF), remote (OpenAI-compatible server), echo (test fake)."
    )
    model: Path | None = Field(None, description="GGUF model file; empty means the embedded SmolLM2-135M.")
    models: list[Path] = Field(default_factory=list, description=(
        "More GGUF files users may pick in the web page (GGUF files in <home>/models are offered too)."))
    n_ctx: int = Field(4096, ge=256, le=1_048_576, description="Context window in tokens.")
    n_threads: int | None = Field(None, ge=1, description="CPU threads for generation; empty means all cores.")
    n_gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to the GPU; -1 offloads all, 0 is CPU only.")
    parallel: int = Field(1, ge=1, le=64, description="Model contexts kept for concurrent users (weights are shared).")
    remote_url: str = Field("", description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
    remote_model: str = Field("", description="Model name sent to the remote server.")
    remote_api_key: str = Field("", description="API key for the remote server.")
    remote_n_ctx: int = Field(4096, ge=256, description="Context window of the remote model, in tokens.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in the data directory.")
    memory: bool = Field(True, description="Long-term memory: recall relevant past turns and seed text in each prompt.")
    embedder: str = Field("", description="sentence-transformers model path for memory; empty means the packaged all-MiniLM-L6-v2.")
    memory_k: int = Field(4, ge=0, le=50, description="Most memories recalled into one prompt.")
    memory_min_score: float = Field(0.35, ge=-1.0, le=1.0, description="Least cosine similarity for a memory to be recalled.")
    safety_judge: Literal["embedding", "reply-reader", "cross-encoder", "llm"] = Field(
        "embedding", description="embedding: the classifier on sentence embeddings (default); reply-reader: heads "
        "that also read the reply's n-grams (better on jailbreak replies, but it takes many short warm replies for "
        "disallowed content); cross-encoder: MiniLM fine-tuned to read the request and reply together; "
        "llm: a GGUF model reads the rubric.")
    safety_judge_model: Path | None = Field(None, description="GGUF for the llm judge (default: the chat model).")
    host: str = Field("127.0.0.1", description="Address the web chat listens on.")
    port: int = Field(7860, ge=0, le=65535, description="Port the web chat listens on.")
    auth: bool = Field(False, description="Ask for sign-in (always on when host is not a loopback address).")
    api_max_request_bytes: int = Field(1_048_576, ge=1024, description="Largest request body the /v1 API accepts; "
                                       "bigger ones are refused with 413.")
    system_prompt: str = Field(
        "You are a warm, helpful companion. Answer briefly and kindly.",
        description="System prompt used when no persona is chosen.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @field_validator("model", "safety_judge_model", mode="before")
    @classmethod
    def _empty_model(cls, v: Any) -> Any:
        return None if v in ("", None) else v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_path()))

    @property
    def sampling(self) -> Sampling:
        """The sampler defaults as their own object."""
        return Sampling(**{name: getattr(self, name) for name in SAMPLING_FIELDS})

    @property
    def safety_settings(self) -> SafetySettings:
        """The filter's settings as their own object."""
        return SafetySettings(**{name: getattr(self, name) for name in SAFETY_FIELDS})

    @property
    def needs_auth(self) -> bool:
        """Sign-in is required when asked for, and whenever the server is reachable from other machines."""
        return self.auth or self.host not in ("127.0.0.1", "localhost", "::1")

    @property
    def db_url(self) -> str:
        """The database URL actually used."""
        return self.database_url or f"sqlite:///{self.home / 'keepsake.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from flags (overrides), environment and TOML; a clean error instead of a traceback.

    ``None`` overrides are ignored, so unset CLI flags fall through to the environment and the file.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings ({problems}); check flags, KEEPSAKE_* variables and {config_path()}") from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read settings from {config_path()}: {exc}") from None
