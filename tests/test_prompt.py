"""Prompt budgeting with a counter we can reason about: every word is a token, 4 per message."""

import pytest

from app.core.backends import FakeBackend
from app.core.chat import HOLD_TOKENS, ChatEngine
from app.core.errors import ContextOverflow
from app.core.prompt import MEMORY_HEADER, PromptParts, build_prompt
from app.core.settings import Sampling

from fakes import ScriptedBackend

count = FakeBackend().count_tokens


def turns(n: int) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "w " * 8} for i in range(n)]


def test_everything_fits_in_position_order() -> None:
    parts = PromptParts(system="be kind", user="hello there", history=turns(4), summary="they met", memories=["likes tea"])
    plan = build_prompt(parts, count, context_size=1000, reply_reserve=100)
    roles = [m["role"] for m in plan.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "they met" in plan.messages[0]["content"]
    assert plan.messages[-1]["content"].startswith(MEMORY_HEADER) and plan.messages[-1]["content"].endswith("hello there")
    assert (plan.history_dropped, plan.memories_dropped, plan.summary_used) == (0, 0, True)
    assert plan.tokens == count(plan.messages) <= plan.budget == 900


def test_oldest_history_goes_first_and_the_message_is_never_cut() -> None:
    history = turns(20)
    user = "please remember " * 10
    plan = build_prompt(PromptParts(system="sys", user=user, history=history), count, context_size=150, reply_reserve=30)
    assert plan.tokens <= 120
    assert plan.history_dropped > 0 and plan.history_kept > 0
    kept = plan.messages[1:-1]
    assert kept == history[len(history) - len(kept):]  # a suffix: the newest turns survive
    assert kept[0]["role"] == "user"
    assert plan.messages[-1]["content"] == user


def test_message_alone_too_long_says_so() -> None:
    with pytest.raises(ContextOverflow, match="does not fit the model's 100-token context"):
        build_prompt(PromptParts(system="sys", user="word " * 200), count, context_size=100, reply_reserve=20)


def test_memories_capped_at_their_share_before_history() -> None:
    memories = [f"memory number {i} " + "x " * 10 for i in range(10)]
    plan = build_prompt(PromptParts(system="s", user="u", history=turns(30), memories=memories), count,
                        context_size=300, reply_reserve=50)
    assert 0 < len(plan.memories_kept) < 10 and plan.memories_kept == memories[: len(plan.memories_kept)]
    assert plan.history_kept > 0


def test_stable_prefix_between_turns() -> None:
    """Turn n+1's prompt starts with turn n's history: what lets llama.cpp reuse its KV cache."""
    history = turns(6)
    first = build_prompt(PromptParts(system="s", user="q1", history=history, memories=["m1"]), count, 1000, 100)
    later = history + [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]
    second = build_prompt(PromptParts(system="s", user="q2", history=later, memories=["m2"]), count, 1000, 100)
    assert second.messages[: len(first.messages) - 1] == first.messages[:-1]


def test_examples_follow_the_system_prompt_and_the_last_ones_go_when_space_is_short() -> None:
    examples = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"example {i} " + "w " * 10} for i in range(6)]
    parts = PromptParts(system="sys", user="hello", history=turns(2), examples=examples)
    plan = build_prompt(parts, count, context_size=1000, reply_reserve=100)
    assert plan.messages[1:7] == examples and plan.messages[7:9] == turns(2) and plan.examples_dropped == 0
    # Room for the system prompt, the message and about two exchanges: whole exchanges, the first ones, stay.
    tight = build_prompt(parts, count, context_size=70, reply_reserve=10)
    kept = [m for m in tight.messages if m["content"].startswith("example")]
    assert kept == examples[:2 * len(kept) // 2] and 0 < len(kept) < 6 and len(kept) % 2 == 0
    assert tight.examples_dropped == 3 - len(kept) // 2 and tight.report()["examples_dropped"] == tight.examples_dropped
    assert tight.messages[-1]["content"] == "hello"


def test_a_reply_cut_at_max_tokens_ends_at_its_last_whole_sentence() -> None:
    backend = ScriptedBackend()
    engine = ChatEngine(backend)

    def reply(text: str, max_tokens: int) -> tuple[str, str]:
        backend.enqueue(text)
        turn = engine.start(system="s", user="hi", sampling=Sampling(max_tokens=max_tokens))
        return "".join(turn), turn.result().text
    long = "We live upon potatoes and philosophy. Martha cannot get to the village today"
    first = "We live upon potatoes and philosophy."
    assert reply(long, 9) == (first, first)  # the last third held, then dropped: shown and kept alike
    assert reply(long, 100) == (long, long)  # not cut: the last words come even without a full stop
    assert reply("no full stop anywhere in this reply at all", 5) == ("no full stop anywhere in",) * 2
    backend.enqueue(long)
    streamed = list(engine.start(system="s", user="hi", sampling=Sampling(max_tokens=60 + HOLD_TOKENS)))
    assert len(streamed) == len(long.split())  # far from the limit, pieces come one by one
    backend.enqueue("one two three four five six seven eight nine. ten eleven twelve")
    turn = engine.start(system="s", user="hi", sampling=Sampling(max_tokens=12))  # the last 4 held
    pieces = iter(turn)
    shown = "".join(next(pieces) for _ in range(9))  # the 9th piece comes when "ten" shows "nine." ended
    pieces.close()  # stopped with " ten" held: never shown, so not kept
    assert shown.endswith("nine.") and turn.result().interrupted and turn.result().text == shown
