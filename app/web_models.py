"""The page's "Get a better model" panel: the catalogue with what fits this machine, and a Download button.

A download runs only when someone presses the button, with the same client and checks as
``python -m app models pull``. When the page asks for sign-in, only administrators may download (a
model is gigabytes of the server's disk); everyone then picks downloaded models in their own settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr

from app import preferences
from app.core import catalogue
from app.core.download import Source, pull, reporting, target
from app.core.errors import KeepsakeError
from app.service import ChatService


class NotAllowed(KeepsakeError):
    """Only administrators download models on a server with sign-in."""


def catalogue_text(home: Path, machine: catalogue.Machine) -> str:
    """The catalogue as a short list for the sidebar: size, whether it runs well here (or why not), strengths."""
    lines = []
    for e in catalogue.entries():
        why = machine.fits(e)
        here = f"✓ ~{machine.decode_estimate(e):.0f} tokens/s here" if not why else "✗ " + "; ".join(why)
        have = " · ⬇ downloaded" if target(home, Source(e.repo, e.file)).is_file() else ""
        lines.append(f"- **{e.title}** · {e.size_gb:.1f} GB · {e.licence}{have}  \n  {here}. {e.good_at}")
    return "\n".join(lines)


def download(service: ChatService, user_id: int, name: str,
             on_progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download catalogue model ``name`` for the page; NotAllowed for non-administrators behind sign-in."""
    if service.settings.needs_auth and not service.store.is_admin(user_id):
        raise NotAllowed("only an administrator can download models on this server; ask one to add it")
    return pull(name, service.settings.home, progress=reporting(on_progress) if on_progress else None)


def models_panel(service: ChatService, me: Callable[[gr.Request], int], model_file: gr.Dropdown) -> None:
    """Build the panel in the current layout block; a finished download is added to ``model_file``."""
    home = service.settings.home
    machine = catalogue.probe(home)
    pick = catalogue.recommend(machine)
    advice = (f"Recommended here: **{pick.title}** ({pick.size_gb:.1f} GB, about "
              f"{machine.decode_estimate(pick):.0f} tokens/s). {pick.good_at}" if pick
              else "No catalogue model runs at reading speed here; the embedded model is the one to use.")
    with gr.Accordion("Get a better model", open=False, elem_id="get-model"):
        gr.Markdown(advice, elem_id="model-advice")
        listing = gr.Markdown(catalogue_text(home, machine), elem_id="catalogue")
        wanted = gr.Dropdown(choices=[(f"{e.title} ({e.size_gb:.1f} GB)", e.name) for e in catalogue.entries()],
                             value=pick.name if pick else None, label="Model to download", elem_id="download-pick")
        button = gr.Button("Download", size="sm", elem_id="download-model")
        status = gr.Markdown("", elem_id="download-status")

    def on_download(name: str | None, request: gr.Request, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not name:
            return "Choose a model first.", gr.skip(), gr.skip()
        try:
            path = download(service, me(request), name,
                            lambda done, total: progress((done, total), desc=f"Downloading {name}", unit="bytes"))
        except KeepsakeError as exc:
            return f"⚠️ {exc}", gr.skip(), gr.skip()
        return (f"Downloaded and checked **{path.name}**. Choose it under *Model file* and save.",
                gr.Dropdown(choices=preferences.model_choices(service.settings)),
                catalogue_text(home, catalogue.probe(home)))

    button.click(on_download, wanted, [status, model_file, listing])
