"""Persona operations shared by the ``personas`` command and the web page's Personas tab.

Both front ends only collect input and show results; what an edit, a fact review, a card import or
an export does is decided here once.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from app.core.errors import PersonaError
from memory.memories import LongTermMemory
from personas import cards
from personas import persona as personas
from personas.persona import LoreEntry, Persona

EDITABLE = ("name", "description", "personality", "scenario", "greeting", "system_prompt",
            "post_history_instructions", "real_person")
EXPORT_FORMATS = {"card-json": "json", "card-png": "png", "yaml": "yaml"}


def avatar_path(home: Path, persona_id: int) -> Path:
    """Where a persona's avatar lives: named by id, inside the data directory, whatever the persona's name."""
    return home / "personas" / str(int(persona_id)) / "avatar.png"


def update(persona: Persona, changes: dict) -> Persona:
    """``persona`` with ``changes`` applied and validated (PersonaError names what is wrong)."""
    try:
        return Persona.model_validate({**persona.model_dump(), **changes})
    except Exception as exc:
        raise PersonaError(f"invalid change: {exc}") from None


def review_facts(persona: Persona, accept: list[int], reject: list[int]) -> Persona:
    """Accept (into the lorebook) or reject fact candidates, numbered from 1 as they are listed."""
    found = [dict(f) for f in persona.facts]
    for n in (*accept, *reject):
        if not 1 <= n <= len(found):
            raise PersonaError(f"no fact candidate {n}; there are {len(found)}")
    lorebook = list(persona.lorebook)
    for n in accept:
        fact = found[n - 1]
        if fact["status"] != "accepted":
            fact["status"] = "accepted"
            lorebook.append(LoreEntry(keys=fact.get("keys") or [fact["text"]], content=fact["example"]))
    for n in reject:
        found[n - 1]["status"] = "rejected"
    return persona.model_copy(update={"facts": found, "lorebook": lorebook})


def import_card(memory: LongTermMemory, home: Path, user_id: int, path: Path, name: str | None = None) -> tuple[int, Persona, bool]:
    """Import a Character Card file (JSON or PNG); returns (id, persona, whether it brought an avatar)."""
    persona, image = cards.read_card(path)
    if name:
        persona.name = personas.validate_name(name)
    with memory.store.session() as s:
        pid = personas.insert(s, user_id, persona)
    if image:
        avatar = avatar_path(home, pid)
        avatar.parent.mkdir(parents=True, exist_ok=True)
        cards.write_atomic(avatar, image)
    return pid, persona, bool(image)


def export_bytes(home: Path, persona_id: int, persona: Persona, fmt: str, version: str = "v3") -> tuple[str, bytes]:
    """(file name, contents) of a persona exported as a card (JSON or PNG with its avatar) or as YAML."""
    if fmt not in EXPORT_FORMATS:
        raise PersonaError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    safe = re.sub(r"[^\w.-]+", "_", persona.name).strip("._") or f"persona-{persona_id}"
    if fmt == "yaml":
        import yaml

        data = yaml.safe_dump(persona.model_dump(mode="json", exclude={"card"}), allow_unicode=True,
                              sort_keys=False).encode()
    else:
        card = cards.card_from_persona(persona, version)  # type: ignore[arg-type]
        if fmt == "card-json":
            data = json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8")
        else:
            avatar = avatar_path(home, persona_id)
            data = cards.card_png(card, avatar.read_bytes() if avatar.exists() else None)
    return f"{safe}.{EXPORT_FORMATS[fmt]}", data


def delete(memory: LongTermMemory, home: Path, user_id: int, persona_id: int) -> None:
    """Delete a persona, its seed memories and its folder (avatar, adapter); conversations are kept."""
    personas.delete(memory.store, user_id, persona_id)
    memory.drop_persona(persona_id)
    shutil.rmtree(avatar_path(home, persona_id).parent, ignore_errors=True)
