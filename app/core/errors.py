"""Keepsake's errors: one base class, a few subclasses, each meant to be shown to a user as is.

The CLI prints ``str(error)`` and exits non-zero; the web UI shows it as a chat message; the API turns
it into an OpenAI-style error body. Library code raises these and translates lower-level errors
(llama.cpp, SQLAlchemy, OS) at its boundary.
"""


class KeepsakeError(Exception):
    """Base class: a problem the user can act on, with a message that says what to do."""

    exit_code = 1


class SettingsError(KeepsakeError):
    """A setting has an invalid value or the configuration file cannot be read."""

    exit_code = 2


class ModelNotFound(KeepsakeError):
    """The model file does not exist."""


class ModelLoadError(KeepsakeError):
    """The model file exists but cannot be used (not GGUF, truncated, unsupported)."""


class BackendError(KeepsakeError):
    """Generation failed in the model backend (remote server down, llama.cpp error)."""


class EmptyMessage(KeepsakeError):
    """The user's message is empty."""

    exit_code = 2


class ContextOverflow(KeepsakeError):
    """The message cannot fit in the model's context window even with no history."""


class NotFound(KeepsakeError):
    """A conversation, persona or other record does not exist (or is not the user's)."""


class StoreError(KeepsakeError):
    """The database cannot be opened or written."""


class SeedFileError(KeepsakeError):
    """A seed file cannot be used: missing, empty, binary, too large, or of unknown encoding."""

    exit_code = 2


class PersonaError(KeepsakeError):
    """A persona cannot be created or changed as asked (bad name, duplicate, unknown field)."""

    exit_code = 2


class CardError(KeepsakeError):
    """A character card file is malformed or not a card."""

    exit_code = 2
