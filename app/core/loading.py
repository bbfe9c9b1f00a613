"""Builds the chat backend that the settings ask for, from the registry the backend modules fill.

Apart from ``app.core.backends`` (the protocol) because it imports every implementation, and the
implementations import the protocol.
"""

from __future__ import annotations

from app.core import llama, remote  # noqa: F401  (importing them fills the registry)
from app.core.backends import REGISTRY, ChatBackend
from app.core.errors import SettingsError
from app.core.settings import Settings


def load_backend(settings: Settings) -> ChatBackend:
    """Build the backend the settings ask for. ``--model echo`` is a shortcut for the echo fake."""
    name = "echo" if settings.model is not None and str(settings.model) == "echo" else settings.backend
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise SettingsError(f"unknown backend {name!r}; choose one of: {', '.join(sorted(REGISTRY))}") from None
    return factory(settings)
