"""The persona: who the bot is, stored as one JSON document per row of ``personas``.

The fields follow Character Card V2/V3 (so cards import and export without loss) plus what Keepsake
adds: the style profile, the seed sources with checksums, fact candidates for review, whether the
persona portrays a real person, and a LoRA adapter. A persona belongs to the user who made it; other
users cannot see, use or change it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from app.core.errors import NotFound, PersonaError, StoreError
from memory.schema import Persona as PersonaRow
from memory.schema import utcnow
from memory.store import Store

BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|^\.|\.\.")


class LoreEntry(BaseModel):
    """A stable fact: always in the prompt (``constant``) or when one of its keys is mentioned."""

    model_config = ConfigDict(extra="allow")

    keys: list[str] = Field(default_factory=list)
    content: str
    constant: bool = False
    enabled: bool = True


class Persona(BaseModel):
    """Everything about a persona except its seed text, which lives in long-term memory."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    greeting: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    example_dialogue: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    creator_notes: str = ""
    creator: str = ""
    tags: list[str] = Field(default_factory=list)
    lorebook: list[LoreEntry] = Field(default_factory=list)
    real_person: bool = False
    sources: list[dict] = Field(default_factory=list)
    style: dict = Field(default_factory=dict)
    facts: list[dict] = Field(default_factory=list)
    lora_path: str | None = None
    model: str = ""  # preferred model (catalogue name or GGUF file name), used when the user chose none
    avatar: str | None = None
    safety: dict = Field(default_factory=dict)  # per-persona tightening: {"threshold": 0.3, "allow_adult": false}
    card: dict | None = None  # the imported card as it was, so export loses nothing we do not model


def validate_name(name: str) -> str:
    """A persona name is shown everywhere and typed on command lines: printable, no path tricks."""
    name = " ".join(name.split())
    if not name:
        raise PersonaError("a persona needs a name")
    if len(name) > 100:
        raise PersonaError(f"persona names are limited to 100 characters (got {len(name)})")
    if BAD_NAME.search(name):
        raise PersonaError(f"invalid persona name {name!r}: no slashes, '..', leading dot or control characters")
    return name


def _load(row: PersonaRow) -> Persona:
    try:
        return Persona.model_validate(row.data)
    except ValidationError as exc:
        raise PersonaError(f"persona {row.name!r} is stored in an unreadable form: {exc.errors()[0]['msg']}") from None


def find(store: Store, user_id: int, name: str) -> tuple[int, Persona]:
    """(id, persona) of the user's persona called ``name``."""
    with store.session() as s:
        row = s.scalar(select(PersonaRow).where(PersonaRow.user_id == user_id, PersonaRow.name == name))
        if row is None:
            raise NotFound(f"no persona named {name!r}; `personas list` shows yours")
        return row.id, _load(row)


def get(store: Store, user_id: int, persona_id: int) -> Persona:
    with store.session() as s:
        row = s.get(PersonaRow, persona_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"no persona {persona_id}")
        return _load(row)


def list_personas(store: Store, user_id: int) -> list[tuple[int, Persona]]:
    with store.session() as s:
        rows = s.scalars(select(PersonaRow).where(PersonaRow.user_id == user_id).order_by(PersonaRow.name))
        return [(r.id, _load(r)) for r in rows]


def insert(session: Any, user_id: int, persona: Persona) -> int:
    """Add the persona in an open transaction (the caller adds its seed memories in the same one)."""
    persona.name = validate_name(persona.name)
    if session.scalar(select(PersonaRow.id).where(PersonaRow.user_id == user_id, PersonaRow.name == persona.name)):
        raise PersonaError(f"you already have a persona named {persona.name!r}; choose another --name or delete it")
    row = PersonaRow(user_id=user_id, name=persona.name, data=persona.model_dump(mode="json"))
    session.add(row)
    session.flush()
    return row.id


def save(store: Store, user_id: int, persona_id: int, persona: Persona) -> None:
    """Write back a changed persona (a rename included)."""
    persona.name = validate_name(persona.name)
    try:
        with store.session() as s:
            row = s.get(PersonaRow, persona_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"no persona {persona_id}")
            row.name, row.data, row.updated_at = persona.name, persona.model_dump(mode="json"), utcnow()
    except StoreError as exc:
        if "unique" in str(exc).lower():
            raise PersonaError(f"you already have a persona named {persona.name!r}") from None
        raise


def delete(store: Store, user_id: int, persona_id: int) -> None:
    """Remove the persona with its seed memories; conversations stay, without a persona."""
    from sqlalchemy import delete as sql_delete

    from memory.schema import Memory

    with store.session() as s:
        row = s.get(PersonaRow, persona_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"no persona {persona_id}")
        s.execute(sql_delete(Memory).where(Memory.persona_id == persona_id))
        s.delete(row)

