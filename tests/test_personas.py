"""Personas from seed files: building, all-or-nothing storage, the CLI, and use in real conversations."""

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.core.errors import PersonaError
from app.core.settings import Sampling
from app.personas_cli import main as personas_cli
from app.service import ChatService
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.schema import Memory
from memory.schema import Persona as PersonaRow
from memory.store import Store
from personas import persona as personas
from personas.builder import build, create
from personas.persona import Persona
from personas.prompting import STYLE_BIAS, sampling
from personas.seed import read_seed
from personas.style import distinctive_words

from fakes import ScriptedBackend

DATA = Path(__file__).parent / "data"
LETTERS = DATA / "grandpa_letters.txt"
GBK = DATA / "waigong_gbk.txt"


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(personas_cli, list(args), catch_exceptions=False)


@pytest.fixture
def memory(store: Store, keepsake_home: Path) -> LongTermMemory:
    return LongTermMemory(store, WordLengthEmbedder(), keepsake_home)


def counts(store: Store) -> tuple[int, int]:
    with store.session() as s:
        return s.scalar(select(func.count(PersonaRow.id))), s.scalar(select(func.count(Memory.id)))


def test_build_from_english_letters() -> None:
    built = build([read_seed(LETTERS)])
    p = built.persona
    assert (p.name, built.name_source) == ("Grandpa", "signature")
    assert p.style["greeting"] == "Dear Annie," and p.style["sign_off"] == "All my love, Grandpa"
    assert p.style["language"] == "en" and "Annie" in p.style["forms_of_address"]
    assert p.greeting.startswith("Dear Annie,")
    assert 'close with "All my love, Grandpa"' in p.system_prompt
    assert "{{char}}:" in p.example_dialogue and "Biscuit" in p.example_dialogue
    names = {f["text"] for f in p.facts}
    assert {"Biscuit", "Uncle Albert"} <= names and "Dear" not in names and "Grandpa" not in names
    assert len(built.chunks) >= 5 and p.sources[0]["sha256"] and p.sources[0]["pieces"] == 5


def test_build_from_a_gbk_chinese_letter() -> None:
    seed = read_seed(GBK)
    assert seed.encoding == "gb18030"
    built = build([seed])
    p = built.persona
    assert p.name == "外公" and p.style["language"] == "zh" and p.style["greeting"] == "亲爱的小明："
    assert "小明" in p.style["forms_of_address"]
    assert any(f["text"] == "外婆" and f["kind"] == "person" for f in p.facts)


def test_name_falls_back_to_the_file_name(tmp_path: Path) -> None:
    f = tmp_path / "aunt_mary.txt"
    f.write_text("I went to the market today.\n\nIt was sunny and I bought apples.", encoding="utf-8")
    built = build([read_seed(f)])
    assert (built.persona.name, built.name_source) == ("Aunt Mary", "file name")


@pytest.mark.parametrize("name", ["../evil", "a/b", "x\\y", ".hidden", "bad\x00name", "  ", "n" * 101])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(PersonaError):
        personas.validate_name(name)
    if name.strip():
        with pytest.raises(PersonaError):
            build([read_seed(LETTERS)], name=name)


def test_create_is_all_or_nothing(store: Store, memory: LongTermMemory) -> None:
    uid = store.user_id()
    built = build([read_seed(LETTERS)])
    pid = create(memory, uid, built)
    n_personas, n_memories = counts(store)
    assert (n_personas, n_memories) == (1, len(set(built.chunks)))
    with pytest.raises(PersonaError, match="already have a persona named 'Grandpa'"):
        create(memory, uid, build([read_seed(LETTERS)]))
    assert counts(store) == (n_personas, n_memories)

    class Broken(WordLengthEmbedder):
        def embed(self, texts):  # noqa: ANN001, ANN201
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        create(LongTermMemory(store, Broken(), memory.directory.parent), uid, build([read_seed(LETTERS)], name="Other"))
    assert counts(store) == (n_personas, n_memories)
    # The seed memories are searchable, and shared by the persona's conversations.
    hits = memory.search("Biscuit chased a hare", persona_id=pid, user_id=uid, min_score=0.0, k=1)
    assert hits and hits[0].kind == "seed"


def test_personas_are_private_to_their_owner(store: Store, memory: LongTermMemory) -> None:
    a, b = store.user_id("a"), store.user_id("b")
    pid = create(memory, a, build([read_seed(LETTERS)]))
    with pytest.raises(Exception, match="no persona"):
        personas.find(store, b, "Grandpa")
    with pytest.raises(Exception, match="no persona"):
        personas.get(store, b, pid)
    svc = ChatService(load_settings_without_memory(), backend=ScriptedBackend(), store=store)
    with pytest.raises(Exception, match="no persona"):
        svc.send(b, "hello", persona_id=pid)


def load_settings_without_memory():  # noqa: ANN201
    from app.core.settings import load_settings

    return load_settings(memory=False)


def test_cli_create_list_show_edit_facts_delete(keepsake_home: Path) -> None:
    out = run("create", "--seed", str(LETTERS), "--embedder", "fake")
    assert "Created persona 'Grandpa' (name from signature)" in out.stdout and "5 pieces" in out.stdout
    listed = json.loads(run("list", "--json", "--embedder", "fake").stdout)
    assert [p["name"] for p in listed] == ["Grandpa"]
    shown = run("show", "Grandpa", "--embedder", "fake").stdout
    assert "greeting:\n  Dear Annie," in shown and "grandpa_letters.txt  utf-8  5 pieces" in shown
    assert run("edit", "Grandpa", "--description", "A farmer from Yorkshire.", "--real-person", "--embedder", "fake").exit_code == 0
    data = json.loads(run("show", "Grandpa", "--json", "--embedder", "fake").stdout)
    assert data["description"] == "A farmer from Yorkshire." and data["real_person"] is True
    facts = run("facts", "Grandpa", "--embedder", "fake").stdout
    biscuit = next(int(line.split()[0]) for line in facts.splitlines() if " Biscuit " in line)
    run("facts", "Grandpa", "--accept", str(biscuit), "--embedder", "fake")
    lore = json.loads(run("show", "Grandpa", "--json", "--embedder", "fake").stdout)["lorebook"]
    assert lore[0]["keys"] == ["Biscuit"] and "Biscuit" in lore[0]["content"]
    bad = CliRunner().invoke(personas_cli, ["edit", "Grandpa", "--name", "../x", "--embedder", "fake"])
    assert bad.exit_code == 2 and "invalid persona name" in bad.stderr
    assert run("add-seed", "Grandpa", str(GBK), "--embedder", "fake").exit_code == 0
    again = CliRunner().invoke(personas_cli, ["add-seed", "Grandpa", str(GBK), "--embedder", "fake"])
    assert again.exit_code == 2 and "already a seed" in again.stderr
    assert list((keepsake_home / "index").glob("persona-1_user-*"))
    assert run("delete", "Grandpa", "--yes", "--embedder", "fake").exit_code == 0
    assert json.loads(run("list", "--json", "--embedder", "fake").stdout) == []
    assert not list((keepsake_home / "index").glob("persona-1_user-*"))  # no stale index files left behind


def test_cli_bad_seed_is_a_clean_error_and_writes_nothing(tmp_path: Path, keepsake_home: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = CliRunner().invoke(personas_cli, ["create", "--seed", str(LETTERS), "--seed", str(empty)])
    assert result.exit_code == 2 and "empty.txt is empty" in result.stderr and "Traceback" not in result.output
    assert not (keepsake_home / "keepsake.db").exists() or json.loads(run("list", "--json").stdout) == []


def test_persona_shapes_the_prompt(unfiltered, store: Store, memory: LongTermMemory) -> None:  # noqa: ANN001
    uid = store.user_id()
    built = build([read_seed(LETTERS)], real_person=True)
    built.persona.lorebook = [personas.LoreEntry(keys=["tractor"], content="{{char}}'s tractor is a red Ferguson."),
                              personas.LoreEntry(keys=[], content="{{char}} lives in Yorkshire.", constant=True)]
    built.persona.post_history_instructions = "Answer as {{char}} in two sentences."
    pid = create(memory, uid, built)
    scripted = ScriptedBackend().enqueue("Hello love", "It is red")
    svc = ChatService(unfiltered, backend=scripted, store=store, memory=memory)
    live = svc.send(uid, "Hello Grandpa!", persona_id=pid)
    live.run()
    thread = store.thread(uid, live.conversation_id)
    assert [m.role for m in thread] == ["notice", "assistant", "user", "assistant"]
    assert thread[0].content.startswith("This is an AI simulation of Grandpa based on 5 letters")
    assert thread[1].content.startswith("Dear Annie,")
    system = scripted.calls[0][0]["content"]
    assert system.startswith("You are Grandpa") and "Grandpa lives in Yorkshire." in system
    assert "{{char}}" not in system
    # The example passages are the persona's earlier replies, then the greeting, then the question.
    examples = scripted.calls[0][1:-2]
    assert examples and [m["role"] for m in examples] == ["user", "assistant"] * (len(examples) // 2)
    assert all(m["content"] in LETTERS.read_text() for m in examples[1::2])
    assert scripted.calls[0][-2] == {"role": "assistant", "content": thread[1].content}  # the greeting is history
    svc.send(uid, "How is the tractor?", conversation_id=live.conversation_id).run()
    last = scripted.calls[1][-1]["content"]
    assert "Grandpa's tractor is a red Ferguson." in last and "[Answer as Grandpa in two sentences.]" in last
    assert scripted.calls[1][0]["content"] == system  # stable system prompt: the KV cache prefix holds


def test_pause_and_end(unfiltered, store: Store, memory: LongTermMemory) -> None:  # noqa: ANN001
    uid = store.user_id()
    pid = create(memory, uid, build([read_seed(LETTERS)], real_person=True))
    svc = ChatService(unfiltered, backend=ScriptedBackend(), store=store, memory=memory)
    conv = svc.start_conversation(uid, pid)
    store.set_state(uid, conv.id, "paused")
    with pytest.raises(Exception, match="paused; resume it"):
        svc.send(uid, "hi", conversation_id=conv.id)
    store.set_state(uid, conv.id, "active")
    svc.send(uid, "hi", conversation_id=conv.id).run()
    store.set_state(uid, conv.id, "ended")
    with pytest.raises(Exception, match="ended; start a new one"):
        svc.send(uid, "hi", conversation_id=conv.id)
    with pytest.raises(Exception, match="was ended"):
        store.set_state(uid, conv.id, "active")


@pytest.mark.model
def test_real_conversation_with_a_persona(settings, llama, store: Store, keepsake_home: Path, real_embedder) -> None:  # noqa: ANN001
    """The real model, the real embedder: greeting, style prompt and a recalled seed passage."""
    memory = LongTermMemory(store, real_embedder, keepsake_home)
    uid = store.user_id()
    pid = create(memory, uid, build([read_seed(LETTERS)], real_person=True))
    svc = ChatService(settings, backend=llama, store=store, memory=memory)
    live = svc.send(uid, "Grandpa, do you remember the day the pond froze?", persona_id=pid,
                    sampling=settings.sampling.model_copy(update={"seed": 3, "max_tokens": 60}))
    reply = live.run()
    assert reply.text.strip()
    messages = live.turn.plan.messages
    assert messages[0]["content"].startswith("You are Grandpa") and "Dear Annie," in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": "Write to me."}  # the letters' passages as earlier turns
    assert messages[2]["role"] == "assistant" and messages[2]["content"] in LETTERS.read_text()
    assert messages[-2]["content"].startswith("Dear Annie, it's so good to hear from you.")  # the greeting
    assert "The pond froze on Tuesday" in messages[-1]["content"]  # the seed passage was recalled
    shown = [m.role for m in store.thread(uid, live.conversation_id)]
    assert shown == ["notice", "assistant", "user", "assistant"]


def test_ask_with_persona_shows_the_disclosure(keepsake_home: Path) -> None:
    from app.cli import main as app_cli

    run("create", "--seed", str(LETTERS), "--real-person", "--embedder", "fake")
    result = CliRunner().invoke(app_cli, ["ask", "--persona", "Grandpa", "Hello", "--model", "echo", "--embedder", "fake"])
    assert result.exit_code == 0, result.output
    assert "[This is an AI simulation of Grandpa" in result.stderr and result.stdout.startswith("echo: ")


TOM = DATA / "grandpa_tom.txt"  # letters after one blank line, no separators
XIAOMING = DATA / "waigong_xiaoming_gbk.txt"  # GBK, each letter signed 外公 with a date line below


def test_cli_names_the_writer_of_english_letters_from_the_signature(keepsake_home: Path) -> None:
    out = run("create", "--seed", str(TOM), "--embedder", "fake").stdout
    assert "Created persona 'Grandpa' (name from signature)" in out and "4 pieces" in out
    assert "greeting 'My dear Tom,', sign-off 'Yours ever, Grandpa'" in out and "name:" not in out
    shown = run("show", "Grandpa", "--embedder", "fake").stdout
    assert "greeting:\n  My dear Tom, it's so good to hear from you." in shown
    assert 'open with "My dear Tom," and close with "Yours ever, Grandpa"' in shown
    style = json.loads(run("show", "Grandpa", "--json", "--embedder", "fake").stdout)["style"]
    assert style["forms_of_address"] == ["Tom"] and style["signers"] == {"Grandpa": 4}


def test_cli_names_the_writer_of_gbk_chinese_letters_not_the_grandchild(keepsake_home: Path) -> None:
    out = run("create", "--seed", str(XIAOMING), "--embedder", "fake").stdout
    assert "Created persona '外公' (name from signature)" in out and "3 pieces" in out and "gb18030" in out
    assert "greeting '亲爱的小明：', sign-off '外公'" in out
    assert "personas facts '外公'" in out and "\\u" not in out
    shown = run("show", "外公", "--embedder", "fake").stdout
    assert "greeting:\n  亲爱的小明：收到你的消息真高兴。" in shown and "\\u" not in shown
    assert 'You are 外公' in shown and '"小明"' in shown
    as_json = run("show", "外公", "--json", "--embedder", "fake").stdout
    assert "\\u" not in as_json and json.loads(as_json)["style"]["sign_off"] == "外公"
    seed = read_seed(XIAOMING)
    assert [p.text.splitlines()[-1] for p in seed.pieces] == ["三月十二日", "四月二日", "五月二十日"]


def test_uncertain_names_say_so_and_how_to_set_them(tmp_path: Path, keepsake_home: Path) -> None:
    unsigned = tmp_path / "aunt_mary.txt"
    unsigned.write_text("Dear Jo,\nThe sea was grey today.\n\nDear Jo,\nWe had scones at four.\n", encoding="utf-8")
    out = run("create", "--seed", str(unsigned), "--embedder", "fake").stdout
    assert "Created persona 'Aunt Mary' (name from file name)" in out
    assert "no signature found in the letters" in out and "--name NAME" in out
    two = tmp_path / "两人.txt"
    two.write_text("亲爱的小明：\n今天下雨了。\n外公\n\n亲爱的小明：\n天晴了。\n外婆\n\n亲爱的小明：\n又下雨了。\n外公\n",
                   encoding="utf-8")
    out = run("create", "--seed", str(two), "--embedder", "fake").stdout
    assert "Created persona '外公'" in out and "several names: 外公 (2), 外婆 (1)" in out and "--speaker" in out
    assert "\\u" not in out
    only = run("create", "--seed", str(two), "--speaker", "外婆", "--name", "外婆", "--embedder", "fake").stdout
    assert "Created persona '外婆'" in only and "1 pieces" in only


def test_facts_in_the_letters_come_back_when_asked(unfiltered, store: Store, memory: LongTermMemory) -> None:  # noqa: ANN001
    """A name said to be something ("Herbert is my new cane") is a fact whose entry the thing's word recalls."""
    built = build([read_seed(TOM)])
    herbert = next(f for f in built.persona.facts if f["text"] == "Herbert")
    assert herbert["keys"] == ["Herbert", "cane"] and herbert["example"].startswith("Herbert is my new cane")
    assert {"Tom", "Grandpa"}.isdisjoint(f["text"] for f in built.persona.facts)  # reader and writer are not facts
    from personas import manage

    uid = store.user_id()
    numbers = [i for i, f in enumerate(built.persona.facts, start=1)]
    built.persona = manage.review_facts(built.persona, numbers, [])
    pid = create(memory, uid, built)
    scripted = ScriptedBackend().enqueue("Herbert, of course.")
    ChatService(unfiltered, backend=scripted, store=store, memory=memory).send(
        uid, "What was the cane called?", persona_id=pid).run()
    assert "Herbert is my new cane" in scripted.calls[0][-1]["content"]


@pytest.mark.model
@pytest.mark.timeout(1800)  # ten questions through the real model: minutes on a busy two-core machine
def test_seed_facts_come_back_through_the_chat(unfiltered, llama, real_embedder) -> None:  # noqa: ANN001
    """Questions about names, places and pets in three sample seeds, asked of personas built from them.

    Measured on the embedded SmolLM2-135M over all eleven probes (2026-12-03): the answer reached the
    prompt for 11 of 11 and the reply for 4 of 11; for these ten, 10 and 3. Retrieval must stay near
    perfect; the reply floor is low because a 135M model often talks past what its prompt holds.
    """
    from app.fact_recall import fact_recall

    result = fact_recall(unfiltered, llama, real_embedder, max_tokens=40,
                         seeds={"grandpa_tom.txt", "mother_letters.txt", "waigong_xiaoming_gbk.txt"})
    missed = [r["question"] for r in result["rows"] if not r["in_prompt"]]
    assert result["probes"] == 10 and result["in_prompt"] >= 0.9, missed
    assert result["in_reply"] >= 0.2, [(r["question"], r["reply"]) for r in result["rows"]]


def test_card_example_dialogue_becomes_alternating_turns() -> None:
    from personas.prompting import example_turns

    card = personas.Persona(name="Gran", example_dialogue=(
        "<START>\n{{user}}: Hello Gran\n{{char}}: Hello {{user}}, love.\n{{char}}: Sit down.\n"
        "<START>\n{{char}}: The hens are laying again.\n<START>\n{{user}}: a line nobody answered"))
    assert example_turns(card, user="Annie") == [
        {"role": "user", "content": "Hello Gran"},
        {"role": "assistant", "content": "Hello Annie, love.\nSit down."},
        {"role": "user", "content": "Write to me."},  # a passage with no line before it answers this
        {"role": "assistant", "content": "The hens are laying again."},
    ]
    assert example_turns(personas.Persona(name="Gran")) == []
    assert example_turns(personas.Persona(name="Gran", example_dialogue="Plain text by {{char}}.")) == [
        {"role": "user", "content": "Write to me."}, {"role": "assistant", "content": "Plain text by Gran."}]


def test_distinctive_words_are_the_writers_habits_not_names_or_everyday_words() -> None:
    from wordfreq import get_frequency_dict, top_n_list

    common = top_n_list("en", 3000)
    everyday = get_frequency_dict("en")
    prose = " ".join(random.Random(0).choices(common, weights=[everyday[w] for w in common], k=4000))
    habit = "Whilst I shall dwell upon it, I remain thy humble servant. "
    text = prose + habit * 25 + "We saw Martha by the lane. " * 12
    words = distinctive_words(text, "en")
    assert set(words[:8]) == {"whilst", "shall", "dwell", "upon", "remain", "thy", "humble", "servant"}, words[:10]
    assert "the" not in words and "martha" not in words  # everyday as often as anywhere; a name, not a habit
    assert distinctive_words(prose[:3000] + habit * 5, "en") == []  # too little text to tell habit from chance
    assert distinctive_words(text, "xx") == []  # no everyday list for the language


def test_a_persona_from_letters_favours_its_words_unless_the_user_chose() -> None:
    p = Persona(name="Parson", tags=["from-seed"], style={"distinctive_words": ["upon", "whilst"]})
    assert sampling(p, Sampling()).word_bias == {"upon": STYLE_BIAS, "whilst": STYLE_BIAS}
    assert sampling(p, Sampling(word_bias={}), {"word_bias"}).word_bias == {}
    assert sampling(Persona(name="Card", style=p.style), Sampling()).word_bias == {}  # a card keeps the user's sampler
