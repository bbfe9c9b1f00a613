"""The real embedded GGUF through llama.cpp: streaming, seeds, context limits, concurrency."""

import threading
import time

import pytest

from app.chat import ChatEngine
from app.errors import ContextOverflow
from app.llama import LlamaCppBackend
from app.settings import Sampling

pytestmark = pytest.mark.model

HELLO = [{"role": "system", "content": "You are a kind grandfather."}, {"role": "user", "content": "Tell me about your garden."}]


def test_streaming_yields_tokens_incrementally(llama: LlamaCppBackend) -> None:
    arrivals, pieces = [], []
    start = time.perf_counter()
    for piece in llama.stream(HELLO, Sampling(seed=1, max_tokens=60)):
        arrivals.append(time.perf_counter() - start)
        pieces.append(piece)
    assert len(pieces) >= 20, pieces
    assert arrivals[0] < arrivals[-1] / 2  # the first piece came long before the last
    assert len("".join(pieces).split()) >= 10


def test_seed_makes_output_reproducible(llama: LlamaCppBackend) -> None:
    s = Sampling(seed=1234, temperature=0.9, max_tokens=40)
    a = "".join(llama.stream(HELLO, s))
    b = "".join(llama.stream(HELLO, s))
    c = "".join(llama.stream(HELLO, s.model_copy(update={"seed": 99})))
    assert a == b and a
    assert c != a


def test_without_seed_replies_vary(llama: LlamaCppBackend) -> None:
    s = Sampling(temperature=1.0, max_tokens=30)
    assert len({"".join(llama.stream(HELLO, s)) for _ in range(3)}) > 1


def test_token_counts_are_the_models_own(llama: LlamaCppBackend) -> None:
    n = llama.count_tokens(HELLO)
    tokens, stop = llama.render(HELLO)
    assert n == len(tokens) and 15 < n < 40
    assert "<|im_end|>" in stop
    assert llama.count_text("hello world") == len(llama.llm.tokenize(b"hello world", add_bos=False))


def test_stop_strings_and_max_tokens(llama: LlamaCppBackend) -> None:
    text = "".join(llama.stream(HELLO, Sampling(seed=5, max_tokens=8)))
    assert 1 <= llama.count_text(text) <= 9
    text = "".join(llama.stream([{"role": "user", "content": "Count from 1 to 20, separated by commas."}],
                                Sampling(seed=5, temperature=0, stop=["5"])))
    assert "5" not in text and "4" in text


def test_context_overflow_drops_oldest_history_then_refuses(model_path) -> None:
    small = LlamaCppBackend(model_path, n_ctx=512, n_threads=2)
    engine = ChatEngine(small, Sampling(seed=3, max_tokens=32))
    history = []
    for i in range(40):
        history += [{"role": "user", "content": f"Remember the number {i}, my friend."},
                    {"role": "assistant", "content": f"I will remember {i}."}]
    turn = engine.start(system="You are kind.", user="What do you remember?", history=history)
    assert turn.plan.history_dropped > 0 and turn.plan.tokens <= 512 - 32
    assert turn.plan.messages[-1]["content"] == "What do you remember?"
    assert "39" in turn.plan.messages[-2]["content"]  # the newest turn is kept
    reply = turn.run()
    assert reply.text and reply.prompt_tokens == turn.plan.tokens
    with pytest.raises(ContextOverflow, match="512-token context"):
        engine.start(system="You are kind.", user="blah " * 600)


WORDS = ("apple", "river", "piano", "candle")


def word_prompt(word: str) -> list[dict]:
    # A question this small model answers by naming the word (checked by hand for these four).
    return [{"role": "user", "content": f"What is the English word for a {word}? Answer in one word."}]


def run_threads(backend: LlamaCppBackend, words: tuple[str, ...]) -> dict[str, str]:
    results: dict[str, str] = {}
    s = Sampling(temperature=0.0, max_tokens=12)

    def worker(word: str) -> None:
        results[word] = "".join(backend.stream(word_prompt(word), s))

    threads = [threading.Thread(target=worker, args=(w,)) for w in words]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_threads_generate_at_once_and_both_are_right(llama: LlamaCppBackend) -> None:
    """One context, two users: they take turns instead of crashing, and each gets the reply to its own prompt.

    Bit-exact equality with a sequential run is not asserted: llama.cpp reuses the KV cache of
    whichever prompt ran before, and a different prefill split can move the last float digits.
    """
    results = run_threads(llama, WORDS[:2])
    assert set(results) == set(WORDS[:2])
    for word, reply in results.items():
        assert word in reply.lower() and not any(other in reply.lower() for other in WORDS if other != word)


def test_parallel_contexts_share_weights(model_path) -> None:
    pool = LlamaCppBackend(model_path, n_ctx=512, n_threads=1, parallel=2)
    assert pool._contexts.qsize() == 2
    results = run_threads(pool, WORDS)
    for word, reply in results.items():
        assert word in reply.lower() and not any(other in reply.lower() for other in WORDS if other != word)


def test_closing_a_stream_early_frees_the_context(llama: LlamaCppBackend) -> None:
    stream = llama.stream(HELLO, Sampling(seed=1, max_tokens=200))
    next(stream)
    stream.close()
    done = threading.Event()
    threading.Thread(target=lambda: ("".join(llama.stream(HELLO, Sampling(seed=1, max_tokens=5))), done.set())).start()
    assert done.wait(60), "the context was not released"
