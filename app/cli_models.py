"""``python -m app models list | recommend | pull NAME|REPO/FILE | rm NAME | info``.

Kept apart from ``app.cli`` (which adds the group to ``python -m app``) so that each file stays one subject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from app.core import catalogue
from app.core.commands import KeepsakeGroup, settings_from, settings_options


def _home(kwargs: dict[str, Any]) -> Path:
    return settings_from(kwargs).home


@click.group(cls=KeepsakeGroup)
def models() -> None:
    """Choose, download and remove chat models (GGUF files from the Hugging Face Hub)."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@settings_options("home")
def models_list(as_json: bool, **kwargs: Any) -> None:
    """The catalogue, with what fits this machine and what is downloaded."""
    from app.core.download import Source, target

    home = _home(kwargs)
    machine = catalogue.probe(home)
    rows = [(e, target(home, Source(e.repo, e.file)).is_file(), machine.fits(e)) for e in catalogue.entries()]
    if as_json:
        click.echo(json.dumps([{**e.model_dump(), "downloaded": have, "fits": not why, "why_not": why,
                                "decode_estimate": round(machine.decode_estimate(e), 1)} for e, have, why in rows],
                              ensure_ascii=False))
        return
    click.echo(f"{'name':<14}{'size':>7}{'RAM':>7}  {'context':>8}  {'licence':<22} fits  good at")
    for e, have, why in rows:
        mark = "✓" if not why else "·"
        click.echo(f"{e.name:<14}{e.size_gb:>5.1f}GB{e.ram_gb:>5.1f}GB  {e.context:>8}  {e.licence[:22]:<22} {mark}"
                   f"{' ⬇' if have else '  '}  {e.good_at}")
    click.echo("✓ fits this machine at reading speed, ⬇ downloaded; `models recommend` explains the pick", err=True)


@models.command()
@click.option("--language", help="Only models that speak this language (en, zh, fr, ...).")
@settings_options("home")
def recommend(language: str | None, **kwargs: Any) -> None:
    """The best catalogue model for this machine, and why."""
    home = _home(kwargs)
    m = catalogue.probe(home)
    pick = catalogue.recommend(m, language)
    offload = "GPU offload" if m.gpu_offload else f"CPU only, {m.simd or 'no AVX'} kernels"
    click.echo(f"This machine: {m.cores} cores, {m.ram_free_gb:.1f} GB RAM free, {m.disk_free_gb:.1f} GB disk free, "
               f"{offload}.")
    if pick is None:
        click.echo("No catalogue model fits; the embedded SmolLM2-135M is what runs here.")
        return
    click.echo(f"Recommended: {pick.name} ({pick.title}, {pick.size_gb:.1f} GB download, {pick.ram_gb:.1f} GB RAM, "
               f"about {m.decode_estimate(pick):.0f} tokens/s here). {pick.good_at}")
    better = [e for e in catalogue.entries() if e.rank > pick.rank and (language is None or language in e.languages)]
    for e in sorted(better, key=lambda e: -e.rank)[:3]:
        click.echo(f"  not {e.name}: {'; '.join(m.fits(e))}")
    click.echo(f"Get it with: python -m app models pull {pick.name}")


@models.command()
@click.argument("ref", metavar="NAME|REPO/FILE")
@settings_options("home")
def pull(ref: str, **kwargs: Any) -> None:
    """Download a catalogue model (or any GGUF on the Hub), check its sha256 and keep it in <home>/models."""
    from tqdm import tqdm

    from app.core.download import pull as download

    path = download(ref, _home(kwargs), progress=tqdm)
    click.echo(str(path))
    click.echo(f"ready: choose it in the page's Model settings, or `python -m app chat --model {path}`", err=True)


@models.command("rm")
@click.argument("name")
@settings_options("home")
def models_rm(name: str, **kwargs: Any) -> None:
    """Delete a downloaded model (by catalogue name or file name)."""
    from app.core.models import remove

    click.echo(f"deleted {remove(_home(kwargs), name)}", err=True)


@models.command()
@click.argument("name", required=False)
@settings_options("home")
def info(name: str | None, **kwargs: Any) -> None:
    """One catalogue entry in full, or (no NAME) this machine, the downloaded models and where they are kept."""
    from app.core.models import downloaded, models_dir

    home = _home(kwargs)
    if name:
        e = catalogue.find(name)
        for key, value in e.model_dump().items():
            click.echo(f"{key:<13}{', '.join(value) if isinstance(value, list) else value}")
        click.echo(f"{'page':<13}https://huggingface.co/{e.repo}")
        return
    m = catalogue.probe(home)
    click.echo(f"cores {m.cores}, RAM free {m.ram_free_gb:.1f} GB, disk free {m.disk_free_gb:.1f} GB, "
               f"llama.cpp kernels {m.simd or 'baseline'}, GPU offload {'yes' if m.gpu_offload else 'no'}")
    click.echo(f"models folder: {models_dir(home)}")
    for path in downloaded(home):
        entry = catalogue.by_file(path.name)
        click.echo(f"  {path.name}  {path.stat().st_size / 1e9:.2f} GB{f'  ({entry.name})' if entry else ''}")
