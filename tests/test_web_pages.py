"""The web page's handlers beyond the chat box: personas tab, admin tab, model settings, alternatives."""

import json
from pathlib import Path

import pytest

from app import preferences
from app.core.errors import NotFound, PersonaError, SettingsError
from app.service import ChatService
from app.web import alternatives, delete_last_turn, flip, persona_avatar, regenerate, respond, shown
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store
from personas import persona as personas
from personas.persona import Persona

from fakes import ScriptedBackend

DATA = Path(__file__).parent / "data"


@pytest.fixture
def svc(unfiltered, tmp_path) -> ChatService:  # noqa: ANN001
    store = Store(f"sqlite:///{tmp_path / 'pages.db'}")
    return ChatService(unfiltered, backend=ScriptedBackend(), store=store,
                       memory=LongTermMemory(store, WordLengthEmbedder(), unfiltered.home))


def test_personas_tab_creates_edits_reviews_exports_and_deletes(svc: ChatService, tmp_path: Path) -> None:
    from app.web_personas import (
        create_persona,
        delete_persona,
        export_persona,
        form_values,
        import_card,
        review,
        save_persona,
    )
    from personas.cards import placeholder_png, read_card

    uid, other = svc.store.user_id(), svc.store.user_id("other")
    seen = []
    pid, line = create_persona(svc, uid, [str(DATA / "grandpa_letters.txt")], progress=lambda d, t: seen.append((d, t)))
    assert "Created **Grandpa**" in line and seen and seen[-1][0] == seen[-1][1]
    values = form_values(svc, uid, pid)
    assert values["name"] == "Grandpa" and values["facts"] and values["avatar"] is None
    with pytest.raises(NotFound):
        form_values(svc, other, pid)

    picture = tmp_path / "face.png"
    picture.write_bytes(placeholder_png(900))
    assert save_persona(svc, uid, pid, {**values, "description": "A farmer from Iowa"}, str(picture)) == \
        "Saved description, avatar."
    avatar = Path(form_values(svc, uid, pid)["avatar"])
    assert avatar.is_relative_to(svc.settings.home) and persona_avatar(svc, uid, pid) == str(avatar)
    from PIL import Image

    assert max(Image.open(avatar).size) <= 512  # stored small: cards carry it
    with pytest.raises(PersonaError, match="needs a name"):
        save_persona(svc, uid, pid, {"name": ""})

    assert "Accepted 1 fact" in review(svc, uid, pid, [1], accept=True)
    after = form_values(svc, uid, pid)
    assert "[accepted]" in after["facts"][0][0]
    from personas.persona import get

    assert get(svc.store, uid, pid).lorebook[-1].keys  # the accepted fact became a lorebook entry
    assert review(svc, uid, pid, [], accept=False) == "Tick some facts first."
    with pytest.raises(PersonaError, match="no fact candidate 999"):
        review(svc, uid, pid, [999], accept=True)

    png = Path(export_persona(svc, uid, pid, "card-png"))
    assert png.is_relative_to(svc.settings.home) and png.suffix == ".png"
    persona, image = read_card(png)
    assert persona.name == "Grandpa" and persona.description == "A farmer from Iowa" and image
    card_json = Path(export_persona(svc, uid, pid, "card-json"))
    assert json.loads(card_json.read_text())["data"]["name"] == "Grandpa"

    copy_id, line = import_card(svc, uid, str(png), "Grandpa again")
    assert "Imported **Grandpa again** with its avatar." == line and persona_avatar(svc, uid, copy_id)
    with pytest.raises(PersonaError, match="already have"):
        import_card(svc, uid, str(png))
    with pytest.raises(NotFound):
        delete_persona(svc, other, pid)
    assert "Deleted **Grandpa**" in delete_persona(svc, uid, pid)
    assert not avatar.exists() and svc.memory.count(pid, None) == 0


def test_personas_tab_rejects_bad_uploads(svc: ChatService, tmp_path: Path) -> None:
    from app.core.errors import CardError, SeedFileError
    from app.web_personas import create_persona, import_card, save_persona

    uid = svc.store.user_id()
    with pytest.raises(PersonaError, match="upload at least one"):
        create_persona(svc, uid, [])
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(SeedFileError, match="empty"):
        create_persona(svc, uid, [str(empty)])
    broken = tmp_path / "card.json"
    broken.write_text("{not json")
    with pytest.raises(CardError):
        import_card(svc, uid, str(broken))
    pid, _ = create_persona(svc, uid, [str(DATA / "grandpa_letters.txt")])
    with pytest.raises(PersonaError, match="not an image"):
        save_persona(svc, uid, pid, {}, str(broken))
    assert svc.store.list_conversations(uid) == []


def test_admin_tab_is_for_admins_only(svc: ChatService) -> None:
    from app.web_admin import NotAdmin, create_user, flagged_rows, user_rows, verdict_frame

    admin = svc.store.user_id()  # the single local user is the administrator
    guest = svc.store.user_id("guest")
    conv = svc.store.create_conversation(guest, None, "risky")
    for action, category in (("blocked", "weapons"), ("passed", "safe"), ("repaired", "self-harm")):
        msg = svc.store.add_message(guest, conv.id, "assistant", f"reply {action}")
        svc.store.finish_message(msg.id, f"reply {action}", safety_action=action, safety_category=category,
                                 safety_reward=1.0, safety_class="refusal")
    rows = flagged_rows(svc, admin, ["blocked", "repaired"])
    assert [r[5] for r in rows] == ["repaired", "blocked"] and rows[0][2] == "guest"
    assert [r[5] for r in flagged_rows(svc, admin, ["blocked", "repaired"], "weapons")] == ["blocked"]
    assert flagged_rows(svc, admin, ["blocked"], user="nobody") == []
    frame = verdict_frame(svc, admin)
    assert sorted(frame["action"]) == ["blocked", "passed", "repaired"] and frame["replies"].sum() == 3
    assert "can now sign in" in create_user(svc, admin, "carol", "carol-password", False)
    assert [r[1] for r in user_rows(svc, admin)] == ["carol", "guest", "local"]
    for call in (lambda: flagged_rows(svc, guest, ["blocked"]), lambda: verdict_frame(svc, guest),
                 lambda: user_rows(svc, guest), lambda: create_user(svc, guest, "mallory", "password123", True)):
        with pytest.raises(NotAdmin):
            call()


def test_model_settings_are_kept_per_user_and_limited_to_configured_files(svc: ChatService, model_path: Path) -> None:
    uid, other = svc.store.user_id(), svc.store.user_id("other")
    prefs = preferences.load(svc, uid)
    assert prefs.sampling == svc.settings.sampling and prefs.model == ""
    saved = preferences.save(svc, uid, {"sampling": {**prefs.sampling.model_dump(), "temperature": 0.2, "seed": 7}})
    assert preferences.load(svc, uid).sampling.temperature == 0.2 and preferences.load(svc, other).sampling.temperature == 0.7
    assert preferences.Variants(svc).for_user(saved) is svc  # sampler changes need no other model
    # A persona built from letters brings its reply length and words; what the user changed stays theirs.
    with svc.store.session() as s:
        pid = personas.insert(s, uid, Persona(name="Parson", tags=["from-seed"], example_dialogue="{{char}}: " + "word " * 60,
                                              style={"distinctive_words": ["upon", "whilst"]}))
    used = preferences.sampler(svc, uid, saved, pid)
    assert (used.temperature, used.seed) == (0.2, 7) and used.max_tokens < svc.settings.max_tokens
    assert set(used.word_bias) == {"upon", "whilst"}
    assert preferences.sampler(svc, uid, saved, None) == saved.sampling
    assert preferences.sampler(svc, other, saved, pid) == saved.sampling  # someone else's persona brings nothing
    with pytest.raises(SettingsError, match="not one of the configured"):
        preferences.save(svc, uid, {"model": "/etc/passwd"})
    with pytest.raises(SettingsError, match="n_ctx"):
        preferences.save(svc, uid, {"n_ctx": 10})
    models = svc.settings.home / "models"
    models.mkdir(parents=True)
    (models / "small.gguf").symlink_to(model_path)
    choices = preferences.model_choices(svc.settings)
    assert choices[0][1] == "" and choices[1][0] == "small.gguf"


@pytest.mark.model
def test_a_users_model_choice_gets_its_own_loaded_model(unfiltered, model_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    settings = unfiltered.model_copy(update={"memory": False, "n_ctx": 1024, "models": [model_path]})
    svc = ChatService(settings, store=Store(f"sqlite:///{tmp_path / 'v.db'}"))
    uid = svc.store.user_id()
    prefs = preferences.save(svc, uid, {"model": str(model_path.absolute()), "n_ctx": 512,
                                        "sampling": {"max_tokens": 8, "seed": 1}})
    variants = preferences.Variants(svc)
    mine = variants.for_user(prefs)
    assert mine is not svc and mine.backend.context_size == 512 and mine.store is svc.store
    assert variants.for_user(prefs) is mine  # loaded once, shared
    reply = mine.send(uid, "Hello", sampling=prefs.sampling).run()
    assert reply.completion_tokens <= 8 and svc.store.list_conversations(uid)


def test_alternatives_flip_and_delete_turn(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("first", "second", "third", "next answer")
    svc = scripted_service
    uid = svc.store.user_id()
    conv = list(respond(svc, uid, "Hello", [], None))[-1][1]
    assert alternatives(svc, uid, conv) == ""
    list(regenerate(svc, uid, conv))
    list(regenerate(svc, uid, conv))
    assert alternatives(svc, uid, conv) == "Reply 3 of 3"
    assert flip(svc, uid, conv, -1)[-1]["content"] == "second" and alternatives(svc, uid, conv) == "Reply 2 of 3"
    assert flip(svc, uid, conv, -1)[-1]["content"] == "first"
    assert flip(svc, uid, conv, -1)[-1]["content"] == "first"  # nothing before the first
    history = list(respond(svc, uid, "And then?", shown(svc, uid, conv), conv))[-1][0]
    assert [m["content"] for m in history] == ["Hello", "first", "And then?", "next answer"]  # goes on from the one shown
    assert [m["content"] for m in delete_last_turn(svc, uid, conv)] == ["Hello", "first"]
    assert [m.content for m in svc.store.thread(uid, conv)] == ["Hello", "first"]
    with pytest.raises(NotFound):
        delete_last_turn(svc, svc.store.user_id("intruder"), conv)


def test_replies_carry_their_verdict_badge(settings, tmp_path: Path) -> None:  # noqa: ANN001
    from safety.filter import SafetyFilter

    from fakes import KeywordJudge

    scripted = ScriptedBackend().enqueue("Here is a recipe for bread.")
    svc = ChatService(settings.model_copy(update={"memory": False}), backend=scripted,
                      store=Store(f"sqlite:///{tmp_path / 'b.db'}"),
                      safety=SafetyFilter(KeywordJudge(), settings.safety_settings))
    uid = svc.store.user_id()
    history, conv, _, verdict, _ = list(respond(svc, uid, "How do I bake bread?", [], None))[-1]
    assert history[-1]["content"].startswith("Here is a recipe for bread.")
    assert 'class="verdict-badge"' in history[-1]["content"] and "passed" in history[-1]["content"]
    assert "reward" in verdict
    assert shown(svc, uid, conv)[-1]["content"] == history[-1]["content"]  # the same badge when resumed


def test_a_reply_the_second_reader_cleared_says_so_in_its_badge(settings, tmp_path: Path) -> None:  # noqa: ANN001
    """Classed as disallowed content by the judge but shown: the badge says why, live and when resumed."""
    from safety.filter import SafetyFilter

    from fakes import KeywordJudge

    scripted = ScriptedBackend().enqueue("STEP 1 plant the bulbs in October.")
    second = KeywordJudge(reply_rule=lambda r: "D")  # finds nothing disallowed in it
    svc = ChatService(settings.model_copy(update={"memory": False}), backend=scripted,
                      store=Store(f"sqlite:///{tmp_path / 'c.db'}"),
                      safety=SafetyFilter(KeywordJudge(), settings.safety_settings, confirm=second))
    uid = svc.store.user_id()
    history, conv, _, _, _ = list(respond(svc, uid, "When do tulips go in?", [], None))[-1]
    assert history[-1]["content"].startswith("STEP 1 plant the bulbs")
    assert "reply class: C" in history[-1]["content"] and "the second reader found no disallowed content (P 0.00)" in \
        history[-1]["content"]
    assert shown(svc, uid, conv)[-1]["content"] == history[-1]["content"]
    assert "safety_scores" not in json.loads(svc.store.export(uid, conv))["messages"][-1]  # the record stays inside


def test_finetune_controls_report_progress_and_refuse_a_second_run(svc: ChatService) -> None:
    from app import web_personas
    from personas.finetune import Progress

    assert web_personas.progress_line(Progress("training", 3, 12, 2.4567, 812.0, 95.0)) == \
        "Training · step 3/12 · loss 2.457 · 812 tokens/s · about 2 min left"
    assert web_personas.progress_line(Progress("loading")) == "Loading"
    uid = svc.store.user_id()
    with pytest.raises(PersonaError, match="choose a persona"):
        web_personas.finetune_persona(svc, uid, None, 1, 8, 1, False)
    pid, _ = web_personas.create_persona(svc, uid, [str(DATA / "grandpa_letters.txt")])
    with web_personas._training:  # a fine-tune is running
        with pytest.raises(PersonaError, match="another fine-tune is running"):
            web_personas.finetune_persona(svc, uid, pid, 1, 8, 1, False)
    tiny = svc.settings.home / "note.txt"
    tiny.parent.mkdir(parents=True, exist_ok=True)
    tiny.write_text("Dear Annie,\nThe roses are out.\nAll my love,\nGrandpa", encoding="utf-8")
    small, _ = web_personas.create_persona(svc, uid, [str(tiny)], name="Brief")
    with pytest.raises(PersonaError, match="too short to fine-tune"):
        web_personas.finetune_persona(svc, uid, small, 1, 8, 1, False)


@pytest.mark.model
def test_finetune_from_the_page_trains_and_activates_an_adapter(svc: ChatService, llama) -> None:  # noqa: ANN001
    from app import web_personas
    from personas.persona import get

    uid = svc.store.user_id()
    pid, _ = web_personas.create_persona(svc, uid, [str(DATA / "grandpa_letters.txt")])
    seen = []
    line = web_personas.finetune_persona(svc, uid, pid, 1, 4, 5, False, seen.append)
    assert line.startswith("Fine-tuned: held-out perplexity") and "active in new replies" in line
    assert {"loading", "training", "saving"} <= {p.phase for p in seen}
    assert any(p.loss is not None and p.tokens_per_s > 0 for p in seen if p.phase == "training")
    adapter = get(svc.store, uid, pid).lora_path
    assert adapter and Path(adapter).is_relative_to(svc.settings.home) and Path(adapter).stat().st_size > 0
    assert "Fine-tuned" in web_personas.form_values(svc, uid, pid)["adapter"]
    # The chat uses it: the persona's replies come from the model with the adapter applied.
    chat = ChatService(svc.settings, backend=llama, store=svc.store, memory=svc.memory)
    live = chat.send(uid, "How is the farm?", persona_id=pid, sampling=chat.settings.sampling.model_copy(
        update={"max_tokens": 16, "seed": 1}))
    assert live.run().text and svc.store.thread(uid, live.conversation_id)[-1].model == f"{llama.name}+lora"
    plain = chat.send(uid, "How is the farm?", sampling=chat.settings.sampling.model_copy(update={"max_tokens": 4}))
    plain.run()
    assert svc.store.thread(uid, plain.conversation_id)[-1].model == llama.name  # no persona, no adapter
