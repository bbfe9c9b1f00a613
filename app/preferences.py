"""Model settings a user chooses in the web page, kept with their account.

A user may pick another model file, context size and GPU offload, and their own sampler settings.
Model files are chosen from the configured list only (``models`` and ``<home>/models/*.gguf``):
a page must not be able to make the server open an arbitrary path. A model choice gets its own
loaded backend, shared by every user who picks the same one; the few most recent are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from app.core.errors import KeepsakeError, SettingsError
from app.core.loading import load_backend
from app.core.settings import SAMPLING_FIELDS, Sampling, Settings
from app.service import ChatService

KEEP_LOADED = 2  # variant backends kept besides the server's own; each holds a model in memory


class Preferences(BaseModel):
    model: str = ""  # a path from model_choices; "" is the server's model
    n_ctx: int | None = Field(None, ge=256, le=1_048_576)
    n_gpu_layers: int | None = Field(None, ge=-1)
    sampling: Sampling = Field(default_factory=Sampling)

    def model_overrides(self, settings: Settings) -> dict:
        """The model-level settings that differ from the server's (each needs its own loaded model)."""
        wanted = {"model": Path(self.model) if self.model else settings.model, "n_ctx": self.n_ctx or settings.n_ctx,
                  "n_gpu_layers": settings.n_gpu_layers if self.n_gpu_layers is None else self.n_gpu_layers}
        return {k: v for k, v in wanted.items() if v != getattr(settings, k)}


def model_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, path) of the model files a user may pick; the first is the server's own."""
    found = [*settings.models, *sorted((settings.home / "models").glob("*.gguf"))]
    paths = list(dict.fromkeys(str(Path(p).expanduser().absolute()) for p in found))
    default = settings.model.name if settings.model else "SmolLM2-135M-Instruct (embedded)"
    return [(f"Server default: {default}", "")] + [(Path(p).name, p) for p in paths]


def persona_choice(service: ChatService, user_id: int, persona_id: int | None, prefs: Preferences) -> Preferences:
    """The user's own model choice wins; else the persona's preferred model (``Persona.model``) when it is
    among the model files here (a catalogue name stands for that entry's file)."""
    from app.core import catalogue
    from personas.persona import get

    if prefs.model or persona_id is None:
        return prefs
    try:
        wanted = get(service.store, user_id, persona_id).model
    except KeepsakeError:  # not this user's persona: the chat itself says so
        return prefs
    if not wanted:
        return prefs
    entry = next((e for e in catalogue.entries() if e.name == wanted.lower()), None)
    file = entry.file if entry else Path(wanted).name
    path = next((p for _, p in model_choices(service.settings) if p and Path(p).name == file), None)
    return prefs.model_copy(update={"model": path}) if path else prefs


def sampler(service: ChatService, user_id: int, prefs: Preferences, persona_id: int | None) -> Sampling:
    """The sampler for a reply: the persona's (its reply length and words, ``ChatService.persona_sampling``)
    with the user's own settings on top, for the fields they changed from the server's."""
    from personas.persona import get

    base = service.settings.sampling
    changed = {f: getattr(prefs.sampling, f) for f in SAMPLING_FIELDS if getattr(prefs.sampling, f) != getattr(base, f)}
    try:
        persona = get(service.store, user_id, persona_id) if persona_id is not None else None
    except KeepsakeError:  # not this user's persona: the chat itself says so
        persona = None
    return service.persona_sampling(persona).model_copy(update=changed)


def defaults(settings: Settings) -> Preferences:
    return Preferences(sampling=settings.sampling)


def load(service: ChatService, user_id: int) -> Preferences:
    """The user's saved preferences; saved ones that no longer validate fall back to the defaults."""
    saved = service.store.preferences(user_id)
    try:
        return Preferences.model_validate({**defaults(service.settings).model_dump(), **saved})
    except ValidationError:
        return defaults(service.settings)


def save(service: ChatService, user_id: int, preferences: dict) -> Preferences:
    """Validate and store; SettingsError says what is wrong (an unknown model file, a bad value)."""
    try:
        prefs = Preferences.model_validate(preferences)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"these settings were not saved: {problems}") from None
    if prefs.model and prefs.model not in {path for _, path in model_choices(service.settings)}:
        raise SettingsError(f"{prefs.model} is not one of the configured model files")
    service.store.set_preferences(user_id, prefs.model_dump(mode="json"))
    return prefs


class Variants:
    """Services that differ from the server's only in model settings, sharing its store, memory and filter."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self._loaded: OrderedDict[tuple, ChatService] = OrderedDict()
        self._lock = threading.Lock()

    def for_user(self, prefs: Preferences) -> ChatService:
        overrides = prefs.model_overrides(self.service.settings)
        if not overrides:
            return self.service
        key = tuple(sorted((k, str(v)) for k, v in overrides.items()))
        with self._lock:  # one load per choice even when two users pick it at once
            if key not in self._loaded:
                base = self.service
                settings = base.settings.model_copy(update=overrides)
                self._loaded[key] = ChatService(settings, backend=load_backend(settings), store=base.store,
                                                memory=base.memory, safety=base.safety)
                while len(self._loaded) > KEEP_LOADED:
                    self._loaded.popitem(last=False)  # replies in flight keep their backend alive
            self._loaded.move_to_end(key)
            return self._loaded[key]
