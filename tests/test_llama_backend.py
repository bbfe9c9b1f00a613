"""The real embedded GGUF through llama.cpp: streaming, seeds, context limits, concurrency."""

import threading
import time

import pytest

from app.chat import ChatEngine
from app.errors import ContextOverflow
from app.llama import LlamaCppBackend
from app.settings import Sampling

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


def test_two_threads_generate_at_once_and_both_are_right(llama: LlamaCppBackend) -> None:
    """One context, two users: they take turns instead of crashing, and each gets its own reply."""
    prompts = [[{"role": "user", "content": "Name a fruit."}], [{"role": "user", "content": "Name a colour."}]]
    s = Sampling(seed=7, max_tokens=40)
    expected = ["".join(llama.stream(p, s)) for p in prompts]
    got: dict[int, str] = {}

    def worker(i: int) -> None:
        got[i] = "".join(llama.stream(prompts[i], s))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert got == {0: expected[0], 1: expected[1]}


def test_parallel_contexts_share_weights(model_path) -> None:
    pool = LlamaCppBackend(model_path, n_ctx=512, n_threads=1, parallel=2)
    s = Sampling(seed=11, max_tokens=24)
    prompts = [[{"role": "user", "content": f"Say a word about {w}."}] for w in ("rain", "snow", "sun", "wind")]
    expected = ["".join(pool.stream(p, s)) for p in prompts]
    results: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, "".join(pool.stream(prompts[i], s))))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [results[i] for i in range(4)] == expected


def test_closing_a_stream_early_frees_the_context(llama: LlamaCppBackend) -> None:
    stream = llama.stream(HELLO, Sampling(seed=1, max_tokens=200))
    next(stream)
    stream.close()
    done = threading.Event()
    threading.Thread(target=lambda: ("".join(llama.stream(HELLO, Sampling(seed=1, max_tokens=5))), done.set())).start()
    assert done.wait(60), "the context was not released"
