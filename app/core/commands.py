"""What every command line shares: flags generated from the settings fields, and clean errors.

Each setting is defined once, in ``app.core.settings``; ``settings_options`` turns the named fields into
``--flags`` and ``settings_from`` builds the settings back from them. ``KeepsakeGroup`` turns every
``KeepsakeError`` into a one-line message on stderr and a non-zero exit code. Used by ``python -m app``,
``personas`` and ``python -m safety``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from app.core.errors import KeepsakeError
from app.core.settings import Settings, load_settings

MODEL_FLAGS = ("model", "backend", "n_ctx", "n_threads", "n_gpu_layers", "parallel", "remote_url", "remote_model",
               "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "max_tokens", "stop",
               "memory", "embedder", "memory_k", "memory_min_score", "safety", "safety_mode", "safety_best_of",
               "safety_threshold", "safety_judge", "safety_judge_model", "allow_adult")
STORE_FLAGS = ("home", "database_url")
SERVE_FLAGS = ("host", "port", "auth", "models")


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """(click type, multiple) for a settings field's annotation."""
    base = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # Optional[X] -> X
        base = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(base) is list:
        return str, True
    if typing.get_origin(base) is typing.Literal:
        return click.Choice(typing.get_args(base)), False
    return {int: int, float: float, Path: click.Path(path_type=Path)}.get(base, str), False


def settings_options(*names: str) -> Callable[[Callable], Callable]:
    """Add ``--flag`` options for the named settings fields; unset flags stay None (env/TOML apply)."""

    def decorate(fn: Callable) -> Callable:
        for name in reversed(names):
            field = Settings.model_fields[name]
            flag = name.replace("_", "-")
            if field.annotation is bool:
                fn = click.option(f"--{flag}/--no-{flag}", name, default=None, help=field.description)(fn)
                continue
            kind, multiple = _click_type(field.annotation)
            fn = click.option(f"--{flag}", name, type=kind, multiple=multiple, default=None, help=field.description)(fn)
        return fn

    return decorate


def settings_from(kwargs: dict[str, Any]) -> Settings:
    """Pop settings flags out of a command's kwargs and build the settings."""
    chosen = {}
    for name in list(kwargs):
        if name in Settings.model_fields:
            value = kwargs.pop(name)
            chosen[name] = list(value) if isinstance(value, tuple) and value else (None if value == () else value)
    return load_settings(**chosen)


class KeepsakeGroup(click.Group):
    """Turns domain errors into a clean message and exit code instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeepsakeError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
