"""Folding old turns into a summary: the pure parts, the scripted flow and the real model."""

import json
import logging

import pytest

from app.core.settings import Sampling
from app.service import ChatService
from memory.store import Store
from memory.summaries import Folded, extractive, flaw, fold_count, summarize

from fakes import ScriptedBackend


@pytest.mark.parametrize("text, problem", [
    ("The user told the assistant about a sick dog named Biscuit.", ""),
    ("", "fewer than five words"),
    ("too short", "fewer than five words"),
    ("dog dog dog dog dog dog dog dog dog dog dog dog", "repetitive"),
    ("<|im_start|>assistant The user said hello to everyone there", "template tokens in it"),
    ("word " * 400, "longer than 700 characters"),
])
def test_validation(text: str, problem: str) -> None:
    assert flaw(text) == problem


def test_extractive_fallback_is_bounded_and_attributed() -> None:
    msgs = [{"role": "user", "content": "I planted tulips. They are red."}, {"role": "assistant", "content": "Lovely! Red is cheerful."}]
    assert extractive("Earlier: hello.", msgs) == "Earlier: hello. The user said: I planted tulips. The assistant said: Lovely!"
    long = extractive("", [{"role": "user", "content": "blah " * 100}] * 20, limit=200)
    assert len(long) <= 200 and long.endswith("…")


def test_fold_count_whole_pairs() -> None:
    assert fold_count(20, 6) == 14 and fold_count(10, 1) == 6 and fold_count(4, 4) == 4


def test_bad_model_output_falls_back_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    written = "The user has a cat called Tom and loves him."
    backend = ScriptedBackend().enqueue("not json at all", json.dumps({"summary": "x x x x x x x x x"}),
                                        json.dumps({"summary": written}))
    msgs = [{"role": "user", "content": "My cat is called Tom."}]
    with caplog.at_level(logging.INFO, logger="memory.summaries"):
        assert summarize(backend, "", msgs) == Folded("The user said: My cat is called Tom.", by_model=False)
        assert summarize(backend, "", msgs) == Folded("The user said: My cat is called Tom.", by_model=False)
        assert summarize(backend, "", msgs) == Folded(written, by_model=True)
    assert [r.getMessage() for r in caplog.records] == [
        "summary of 1 messages is extractive; the model's was rejected: not the JSON asked for",
        "summary of 1 messages is extractive; the model's was rejected: repetitive",
        "summary of 1 messages written by the model"]


def test_old_turns_are_folded_into_a_summary_that_replaces_them(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    svc = scripted_service
    scripted.context_size = 200  # fake tokens: words + 4 a message; the reply reserve is 100
    uid = svc.store.user_id()
    conv = None
    for i in range(3):
        scripted.enqueue(f"reply number {i} " + "la " * 6)
        live = svc.send(uid, f"message number {i} " + "da " * 6, conversation_id=conv, sampling=Sampling(max_tokens=100))
        live.run()
        conv = live.conversation_id
    assert not any("Summary of the earlier" in m["content"] for call in scripted.calls for m in call)
    scripted.enqueue(json.dumps({"summary": "The user sent numbered messages and the assistant answered each one."}), "final")
    live = svc.send(uid, "what did I say first?", conversation_id=conv, sampling=Sampling(max_tokens=100))
    live.run()
    prompt = scripted.calls[-1]
    assert "[Summary of the earlier conversation]\nThe user sent numbered messages" in prompt[0]["content"]
    assert "message number 0" not in json.dumps(prompt)  # folded turns are not repeated
    assert prompt[-1]["content"] == "what did I say first?"
    # The next turn reuses the stored summary without asking the model again.
    scripted.enqueue("again")
    svc.send(uid, "and then?", conversation_id=conv, sampling=Sampling(max_tokens=100)).run()
    assert "[Summary of the earlier conversation]" in scripted.calls[-1][0]["content"]
    assert len(scripted.calls) == 3 + 2 + 1


@pytest.mark.model
def test_summary_path_with_the_real_model(settings, model_path, tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    """A long chat on a small context: old turns are folded, and the model itself writes the summary."""
    from app.core.llama import LlamaCppBackend

    small = LlamaCppBackend(model_path, n_ctx=384, n_threads=1)
    svc = ChatService(settings.model_copy(update={"memory": False, "safety": False}), backend=small,
                      store=Store(f"sqlite:///{tmp_path / 's.db'}"))  # only the folding is under test here
    uid = svc.store.user_id()
    facts = ["My dog is called Biscuit.", "I live in Lisbon by the river.", "My sister Anna is a nurse.",
             "I play the cello on Sundays.", "Tomorrow I fly to Oslo.", "My favourite food is soup.",
             "I was born in 1950.", "I grow tomatoes in the garden."]
    conv = None
    with caplog.at_level(logging.INFO, logger="memory.summaries"):
        for fact in facts:
            live = svc.send(uid, fact + " Please reply in one short sentence.", conversation_id=conv,
                            sampling=Sampling(seed=1, max_tokens=48))
            reply = live.run()
            assert reply.text.strip()
            conv = live.conversation_id
    with svc.store.session() as s:
        from sqlalchemy import select

        from memory.schema import Summary

        summaries = s.scalars(select(Summary.text)).all()
    assert summaries, "history overflowed but nothing was summarized"
    assert all(flaw(t) == "" for t in summaries)
    paths = [r.getMessage() for r in caplog.records]
    assert len(paths) == len(summaries) and any(p.endswith("written by the model") for p in paths), paths
    assert len(svc.store.thread(uid, conv)) == 2 * len(facts)  # nothing is deleted by folding


@pytest.mark.model
def test_the_model_writes_a_summary_of_what_was_said(llama) -> None:  # noqa: ANN001
    msgs = [{"role": "user", "content": "My dog is called Biscuit."},
            {"role": "assistant", "content": "What a lovely name for a dog!"},
            {"role": "user", "content": "I live in Lisbon by the river."},
            {"role": "assistant", "content": "Lisbon is beautiful."}]
    folded = summarize(llama, "", msgs)
    assert folded.by_model, f"the extractive fallback was used: {folded.text!r}"
    assert "Biscuit" in folded.text and not folded.text.startswith("The user said:")
