"""The real embedded GGUF through llama.cpp: streaming, seeds, context limits, concurrency."""

import re
import threading
import time

import pytest

from app.core.chat import TURN_STOPS, ChatEngine, blank
from app.core.errors import ContextOverflow
from app.core.llama import LlamaCppBackend
from app.core.settings import Sampling

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


def test_word_bias_moves_the_reply_towards_the_words(llama: LlamaCppBackend) -> None:
    words = ["indeed", "shall", "upon", "roses", "dear"]
    bias = llama.token_bias(dict.fromkeys(words, 5.0))
    assert len(bias) >= len(words) and set(bias.values()) == {5.0}
    assert llama.token_bias({"Teufelsdrockh": 5.0}) == {}  # several tokens: left out rather than a fragment favoured

    def uses(word_bias: dict) -> int:
        text = " ".join("".join(llama.stream(HELLO, Sampling(seed=seed, max_tokens=40, word_bias=word_bias))).lower()
                        for seed in (1, 2, 3))
        return sum(len(re.findall(rf"\b{w}\b", text)) for w in words)
    assert uses(dict.fromkeys(words, 5.0)) > uses({}) + 4

    def gardens(word_bias: dict) -> int:  # the word after a space: the form that is biased
        return sum(len(re.findall(r"(?<=\s)garden\b", "".join(llama.stream(HELLO, Sampling(
            seed=seed, max_tokens=40, word_bias=word_bias))), re.IGNORECASE)) for seed in (1, 2, 3))
    assert gardens({}) > 0 and gardens({"garden": -100.0}) == 0


def test_a_reply_cut_at_max_tokens_ends_at_a_whole_sentence(llama: LlamaCppBackend) -> None:
    engine = ChatEngine(llama)
    trimmed = 0
    for seed in (1, 2, 3):
        turn = engine.start(system=HELLO[0]["content"], user=HELLO[1]["content"], sampling=Sampling(seed=seed, max_tokens=150))
        shown = "".join(turn)
        raw = "".join(llama.stream(turn.plan.messages, Sampling(seed=seed, max_tokens=150)))
        assert shown == turn.result().text and raw.startswith(shown)
        assert shown.rstrip()[-1] in ".!?", shown  # where the model's 150 tokens end mid-sentence, the reply does not
        assert len(shown) > len(raw) / 3
        trimmed += len(shown) < len(raw.rstrip())
    assert trimmed


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


# Questions whose answer is not in the prompt, each answered right by this small model at temperature
# 0 (checked by hand): a reply to another thread's prompt, or a mix of two, names another answer or none.
QUESTIONS = {"What is the capital of France?": "paris", "What is the opposite of hot?": "cold",
             "What do bees make?": "honey", "What is the capital of Japan?": "tokyo"}


def run_threads(backend: LlamaCppBackend, questions: list[str]) -> dict[str, tuple[str, float, float]]:
    """Ask every question at once, one thread each: the reply, and when its first and last pieces came."""
    results: dict[str, tuple[str, float, float]] = {}
    s = Sampling(temperature=0.0, max_tokens=12)

    def worker(question: str) -> None:
        pieces, times = [], []
        for piece in backend.stream([{"role": "user", "content": f"{question} Answer in one word."}], s):
            pieces.append(piece)
            times.append(time.perf_counter())
        results[question] = ("".join(pieces), times[0], times[-1])

    threads = [threading.Thread(target=worker, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(results) == set(questions), "a thread got no reply"
    return results


def assert_each_answers_its_own(results: dict[str, tuple[str, float, float]]) -> None:
    for question, (reply, _, _) in results.items():
        others = [answer for other, answer in QUESTIONS.items() if other != question]
        assert QUESTIONS[question] in reply.lower() and not any(a in reply.lower() for a in others), (question, reply)


def most_at_once(results: dict[str, tuple[str, float, float]]) -> int:
    """The largest number of replies that were streaming at the same moment."""
    return max(sum(first <= t <= last for _, first, last in results.values()) for _, t, _ in results.values())


def test_two_threads_on_one_context_take_turns_and_both_are_right(llama: LlamaCppBackend) -> None:
    """One context, two users: one reply after the other instead of a crash, each to its own prompt.

    Bit-exact equality with a sequential run is not asserted: llama.cpp reuses the KV cache of
    whichever prompt ran before, and a different prefill split can move the last float digits.
    """
    results = run_threads(llama, list(QUESTIONS)[:2])
    assert_each_answers_its_own(results)
    assert most_at_once(results) == 1


def test_parallel_contexts_generate_at_the_same_time(model_path) -> None:  # noqa: ANN001
    """With ``parallel=2`` two replies stream at once, never more, and each is the answer to its own prompt."""
    pool = LlamaCppBackend(model_path, n_ctx=512, n_threads=1, parallel=2)
    results = run_threads(pool, list(QUESTIONS))
    assert_each_answers_its_own(results)
    assert most_at_once(results) == 2


def test_closing_a_stream_early_frees_the_context(llama: LlamaCppBackend) -> None:
    stream = llama.stream(HELLO, Sampling(seed=1, max_tokens=200))
    next(stream)
    stream.close()
    done = threading.Event()
    threading.Thread(target=lambda: ("".join(llama.stream(HELLO, Sampling(seed=1, max_tokens=5))), done.set())).start()
    assert done.wait(60), "the context was not released"


# The rule Gemma's own template enforces (written here, not copied): no system role, strict alternation.
STRICT = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
          "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
          "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
          "<turn>{{ m['role'] }}\n{{ m['content'] }}</turn>\n{% endfor %}<turn>assistant\n")


def test_a_strict_template_gets_alternating_turns(model_path) -> None:  # noqa: ANN001
    from llama_cpp import Llama

    from app.core.llama import ChatTemplate

    vocab = Llama(model_path=str(model_path), vocab_only=True, verbose=False)

    class Strict:  # the embedded model's tokenizer under a template that refuses a system role
        metadata = {"tokenizer.chat_template": STRICT}

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(vocab, name)

    template = ChatTemplate(Strict())
    persona_prompt = [{"role": "system", "content": "You are Gran."}, {"role": "user", "content": "Write to me."},
                      {"role": "assistant", "content": "The hens are laying."},
                      {"role": "assistant", "content": "Dear Annie, hello."}, {"role": "user", "content": "Hi Gran"}]
    tokens, _ = template.render(persona_prompt)
    text = vocab.detokenize(tokens).decode()
    assert text.count("<turn>user") == 2 and text.count("<turn>assistant") == 2  # the last one is the reply's
    assert "You are Gran.\n\nWrite to me." in text and "The hens are laying.\n\nDear Annie, hello." in text


def test_word_bias_spares_a_favoured_word_just_written() -> None:
    import numpy as np

    from app.core.llama import WordBias

    bias = WordBias({5: 1.5, 7: 1.5, 9: -100.0})
    scores = bias(np.array([1, 2, 5, 9]), np.zeros(12, dtype=np.single))
    assert (scores[5], scores[7], scores[9]) == (0.0, 1.5, -100.0)  # 5 was just written; 9 stays avoided
    far = np.array([5] + [1] * WordBias.RECENT)
    assert bias(far, np.zeros(12, dtype=np.single))[5] == 1.5


def test_a_reply_ends_where_the_model_starts_writing_the_users_next_line(llama: LlamaCppBackend) -> None:
    """Asked to continue a transcript, the 135M model writes both sides; a chat turn stops at the first
    speaker label it writes (``TURN_STOPS``), so no invented user line is shown as the persona's reply."""
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Continue this transcript for four more lines:\nUser: Hello!\n"
                                            "Assistant: Hi there, how are you?\nUser: I'm sad today.\nAssistant:"}]
    for seed in range(1, 9):
        raw = "".join(llama.stream(messages, Sampling(seed=seed, max_tokens=120)))
        # The first label it wrote, with words of its own before it (a reply that opens with one is left
        # blank, and the chat draws again: tests/test_service.py).
        marker = min((m for m in TURN_STOPS if m in raw), key=raw.index, default=None)
        if marker and not blank(raw.split(marker)[0]):
            break
    else:
        pytest.skip("the model wrote no speaker label after words of its own in 8 seeds: nothing to stop at")
    turn = ChatEngine(llama).start(system=messages[0]["content"], user=messages[1]["content"],
                                   sampling=Sampling(seed=seed, max_tokens=120))
    text = "".join(turn)
    assert not any(m in text for m in TURN_STOPS) and text.strip()
    assert raw.startswith(text.strip()) and len(text.strip()) < len(raw.split(marker)[0]) + 1
