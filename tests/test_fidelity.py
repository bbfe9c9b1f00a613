"""Sounding like the person: the authorship harness (app.fidelity), the passages a persona is shown,
its sampler, and the fine-tune's requests. The letters are read from ../shared; tests that need them
skip with the reason when they are absent."""

import json
from pathlib import Path

import pytest
from conftest import SHARED

from app import fidelity
from app.core.errors import KeepsakeError
from app.core.settings import Sampling, load_settings
from app.service import ChatService
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store
from personas import prompting as persona_prompt
from personas import style
from personas.builder import build, create, world
from personas.persona import Persona
from personas.seed import read_seed

from fakes import ScriptedBackend

LETTERS = SHARED / "data" / "letters"
needs_letters = pytest.mark.skipif(not (LETTERS / "lamb.txt").is_file(),
                                   reason=f"the public-domain letter collections are not at {LETTERS}")
GRANDPA = Path(__file__).parent / "data" / "grandpa_letters.txt"


def test_passages_split_and_spacing() -> None:
    assert fidelity.passages(["one two three four five", "six seven"], words=2) == ["one two", "three four", "six seven"]
    seed, held = fidelity.split([f"letter {i}" for i in range(10)])
    assert seed == [f"letter {i}" for i in range(8)] and held == ["letter 8", "letter 9"]
    assert fidelity.evenly(list(range(10)), 3) == [0, 3, 6] and fidelity.evenly([1, 2], 5) == [1, 2]


def test_questions_are_thirty_and_apart_from_the_dev_set_and_the_finetune_requests() -> None:
    from personas.finetune import PROMPTS

    test, dev = fidelity.questions("test"), fidelity.questions("dev")
    assert len(test) == 30 == len(set(test)) and len(dev) >= 5
    assert not set(test) & set(dev) and not set(PROMPTS) & (set(test) | set(dev))


def test_copied_text_is_measured_in_runs_of_eight_words() -> None:
    runs = fidelity.seed_runs(["I walked to the mill with the dog and thought of you all the way, Annie."])
    assert fidelity.copied("Today I walked to the mill with the dog and thought of nothing.", runs) == (11 / 13, 11)
    assert fidelity.copied("I walked to the mill with a dog and thought of you.", runs) == (0.0, 0)  # no 8 in a row
    assert fidelity.copied("", runs) == (0.0, 0)


def test_the_journal_keeps_replies_and_only_resumes_the_same_run(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    key = {"questions": ["How are you?"], "seed_letters": None, "finetune_minutes": 3.0, "settings": {}}
    first = fidelity.Journal(path, key)
    first.add("lamb", "naive", ["Très bien."], seconds=1.5)
    first.add("lamb", "finetuned", ["Fine."])
    again = fidelity.Journal(path, key)
    assert again.get("lamb", "naive")["replies"] == ["Très bien."] and again.get("byron", "naive") is None
    longer = fidelity.Journal(path, {**key, "finetune_minutes": 5.0})  # the naive replies do not depend on it
    assert longer.get("lamb", "naive") is not None and longer.get("lamb", "finetuned") is None
    assert fidelity.Journal(path, {**key, "questions": ["Other?"]}).get("lamb", "naive") is None
    assert "Très" in path.read_text(encoding="utf-8")
    fidelity.Journal(path, key).add("byron", "prompt", ["Well."])  # another run sharing the file
    assert again.get("byron", "prompt")["replies"] == ["Well."]


def test_the_table_shows_each_condition_with_its_reply_length_and_copied_share() -> None:
    row = {"name": "Charles Lamb", "naive": 0.1, "prompt": 0.5, "reply_words": {"naive": 250, "prompt": 90},
           "finetune": {}}
    shown = fidelity.render({"writers": 8, "questions": 30, "finetune_minutes": 3, "copy_run": 8,
                             "classifier_heldout": {"lamb": 0.82}, "classifier_heldout_mean": 0.82,
                             "per_writer": {"lamb": row}, "mean": {"naive": 0.1, "prompt": 0.5},
                             "copied_share": {"naive": 0.02, "prompt": 0.31}})
    assert "Charles Lamb                       0.82            0.10            0.50" in shown
    lines = shown.splitlines()
    assert lines[-3].split()[-2:] == ["250", "90"] and lines[-2].split()[-2:] == ["0.02", "0.31"]
    assert "fine-tune:" not in shown


def test_absent_letters_are_a_plain_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KEEPSAKE_LETTERS_DATA", str(tmp_path))
    with pytest.raises(KeepsakeError, match="letter collections are not at"):
        fidelity.letters_dir()
    from app.bench import fidelity as bench_fidelity

    result = bench_fidelity(quick=True)
    assert "absent" in result and "not measured" in fidelity.render(result)
    from click.testing import CliRunner

    from app.cli import main

    shown = CliRunner().invoke(main, ["bench", "--fidelity", "--quick"])
    assert shown.exit_code == 0 and shown.output.startswith("Sounding like the person: not measured: the letter")


def test_naive_baseline_is_three_seed_excerpts_and_nothing_else() -> None:
    seed = [f"Letter {i} " + " ".join(f"w{i}x{j}" for j in range(200)) for i in range(9)]
    persona = fidelity.naive_persona("Ann", seed)
    assert persona.system_prompt.startswith("You are Ann.")
    assert [f"Letter {i}" in persona.system_prompt for i in range(9)] == [i in (0, 3, 6) for i in range(9)]
    assert "w0x117" in persona.system_prompt and "w0x118" not in persona.system_prompt  # 120 words each
    assert not (persona.example_dialogue or persona.description or persona.lorebook or persona.tags)


def test_each_question_is_asked_afresh_and_forgotten(store: Store, keepsake_home: Path) -> None:
    memory = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    uid = store.user_id()
    pid = create(memory, uid, build([read_seed(GRANDPA)]))
    scripted = ScriptedBackend().enqueue("First reply.", "Second reply.")
    service = ChatService(load_settings(safety=False), backend=scripted, store=store, memory=memory)
    assert fidelity.ask(service, uid, pid, ["How is Biscuit?", "How is the farm?"]) == ["First reply.", "Second reply."]
    second = scripted.calls[1]
    assert "First reply." not in json.dumps(second)  # neither history nor recalled as a memory
    # example exchanges, the greeting, then the question
    assert [m["role"] for m in second] == ["system", *["user", "assistant"] * ((len(second) - 3) // 2), "assistant", "user"]
    assert memory.list(pid, uid, kind="turn") == []


def test_exemplars_are_letter_passages_without_greeting_or_signature() -> None:
    pieces = [p.text for p in read_seed(GRANDPA).pieces]
    profile = style.profile(pieces)
    shown = style.exemplars(pieces, profile, budget_tokens=400)
    assert 1 <= len(shown) <= 4 and sum(style.estimate_tokens(p) for p in shown) <= 400
    assert not any("Dear Annie" in p or "All my love" in p for p in shown)
    assert all(any(p in piece for piece in pieces) for p in shown)  # real text, from different letters
    assert len({next(i for i, piece in enumerate(pieces) if p in piece) for p in shown}) == len(shown)
    # A passage that talks to the reader beats a list of figures of the same length.
    talk = "I walked to the mill with the dog and I thought of you all the way there and back today."
    figures = "Barley 1971: 40 bushels. Wheat 1972: 38 bushels. Oats 1973: 12 bushels. Hay 1974: 90 bales now."
    chosen = style.exemplars([f"Dear Ann,\n{figures}\nLove,\nGran", f"Dear Ann,\n{talk}\nLove,\nGran"],
                             style.profile([talk, figures]), most=1)
    assert chosen == [talk]


def test_system_prompt_names_the_writer_and_the_letters_habits() -> None:
    prompt = style.system_prompt("Grandpa", {"greeting": "Dear Annie,", "sign_off": "All my love, Grandpa",
                                             "forms_of_address": ["Annie"], "language": "en"})
    assert prompt.startswith("You are Grandpa") and '"Annie"' in prompt
    assert 'open with "Dear Annie," and close with "All my love, Grandpa"' in prompt
    assert "Reply in the language" in style.system_prompt("外公", {"language": "zh"})
    assert "speak of: Biscuit, Leeds." in style.system_prompt("Grandpa", {}, world=["Biscuit", "Leeds"])


def test_the_persona_is_told_the_people_and_places_its_letters_name_most() -> None:
    found = [{"text": t, "kind": k, "count": n} for t, k, n in (
        ("Leeds", "place", 4), ("Biscuit", "name", 7), ("Mr", "name", 30), ("Nell", "name", 2), ("Grandpa", "name", 5),
        ("1962", "date", 9))]
    assert world(found, "Grandpa") == ["Biscuit", "Leeds"]  # by count; no title, writer, date or name said twice
    built = build([read_seed(GRANDPA)])
    shown = world([f for f in built.persona.facts], built.persona.name)
    assert shown and all(name in built.persona.system_prompt for name in shown)


def test_a_seed_persona_samples_like_its_letters_unless_the_user_chose() -> None:
    seeded = Persona(name="Ann", tags=["from-seed"], example_dialogue="\n".join(
        f"<START>\n{{{{user}}}}: Write to me.\n{{{{char}}}}: {'word ' * n}" for n in (30, 60, 90)))
    base = Sampling()
    mine = persona_prompt.sampling(seeded, base)
    assert mine.max_tokens == int(1.4 * 60 * 1.5) and mine.model_copy(update={"max_tokens": base.max_tokens}) == base
    assert persona_prompt.sampling(seeded, base, {"max_tokens"}).max_tokens == base.max_tokens
    assert persona_prompt.sampling(Persona(name="Card", example_dialogue=seeded.example_dialogue), base) == base
    assert persona_prompt.sampling(None, base) == base
    assert ChatService(load_settings(), backend=ScriptedBackend()).persona_sampling(seeded).max_tokens == 126
    assert ChatService(load_settings(max_tokens=64), backend=ScriptedBackend()).persona_sampling(seeded).max_tokens == 64


@pytest.mark.model
def test_finetune_examples_answer_everyday_requests(model_path: Path) -> None:
    from app.core.llama import ChatTemplate
    from personas import finetune as ft

    template = ChatTemplate.of_file(model_path)
    examples = ft.make_examples(template, "You are Ann.", ["The mill is quiet.", "Rain again.", "The barley is in."])
    prompts = [template.llm.detokenize(e.ids[:e.n_prompt], special=True).decode() for e in examples]
    assert [ft.PROMPTS[i] in p for i, p in enumerate(prompts)] == [True] * 3 and len(set(prompts)) == 3


@needs_letters
def test_classifier_tells_the_writers_apart_on_held_out_letters() -> None:
    letters = {s: fidelity.split(fidelity.read_letters(s)) for s in fidelity.WRITERS}
    assert all(len(seed) == round(0.8 * (len(seed) + len(held))) for seed, held in letters.values())
    attributor = fidelity.Attributor().fit({s: fidelity.evenly(fidelity.passages(seed), 200)
                                            for s, (seed, _) in letters.items()})
    scores = fidelity.accuracy(attributor, {s: fidelity.evenly(fidelity.passages(held), 40)
                                            for s, (_, held) in letters.items()})
    assert sum(scores.values()) / len(scores) > 0.75 and min(scores.values()) > 0.4, scores
