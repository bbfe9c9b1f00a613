"""The llama.cpp backend: a local GGUF model through llama-cpp-python.

A llama.cpp context is not thread-safe, so the backend keeps a small pool of contexts (``parallel``,
default 1) over one set of memory-mapped weights; each reply borrows a context for its whole duration,
and other callers wait their turn instead of crashing. Prompts are rendered with the chat template
stored in the GGUF and tokenized here, so token counts are exact and the completion call gets token
ids: llama.cpp then reuses its KV cache for the longest common prefix with the previous prompt.

A persona's fine-tuned LoRA adapter (``with_adapter``) is loaded into each context beside the shared
weights and switched in for that persona's replies; switching clears the KV cache, because a prefix
computed with one adapter (or none) is wrong for another.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import queue
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core import cpu_backend
from app.core.backends import ChatBackend, Message, register
from app.core.errors import BackendError, KeepsakeError, ModelLoadError
from app.core.models import check_gguf, embedded_model_path, explain_load_failure
from app.core.settings import Sampling, Settings

# Used when a GGUF carries no chat template: ChatML, which most small instruct models were tuned on.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraAdapter:
    """A LoRA adapter file as loaded: ``stamp`` (mtime, size) tells a retrained file from the old one."""

    path: Path
    scale: float
    stamp: tuple[int, int]


def alternating(messages: list[Message]) -> list[Message]:
    """The messages for a template that takes no system role and only user, assistant, user, ... turns:
    the system message becomes (part of) the first user turn, and turns of one role in a row (the
    persona's last example passage and its greeting) are joined.

    >>> [m["role"] for m in alternating([{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
    ...     {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "q"}])]
    ['user', 'assistant', 'user']
    """
    out: list[Message] = []
    for m in messages:
        role = "user" if m["role"] == "system" else m["role"]
        if out and out[-1]["role"] == role:
            out[-1] = {"role": role, "content": f"{out[-1]['content']}\n\n{m['content']}"}  # type: ignore[typeddict-item]
        else:
            out.append({"role": role, "content": m["content"]})  # type: ignore[typeddict-item]
    return out


class ChatTemplate:
    """A GGUF's chat template and tokenizer: messages in, the exact token ids llama.cpp reads out.

    Used by the chat to render prompts, and by fine-tuning so that it trains on the very token
    sequences the chat will produce.
    """

    def __init__(self, llm: Any) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        eos, bos = llm.token_eos(), llm.token_bos()

        def formatter(generation_prompt: bool) -> Jinja2ChatFormatter:
            return Jinja2ChatFormatter(
                template=llm.metadata.get("tokenizer.chat_template") or CHATML,
                eos_token=self._piece(eos) if eos >= 0 else "",
                bos_token=self._piece(bos) if bos >= 0 else "",
                add_generation_prompt=generation_prompt,
                stop_token_ids=[eos] if eos >= 0 else None,
            )

        self._prompt, self._transcript = formatter(True), formatter(False)
        self._strict = False  # the template refuses a system role or repeated roles: send alternating()

    @classmethod
    def of_file(cls, path: Path) -> ChatTemplate:
        """The template and tokenizer of a GGUF file, without loading its weights (milliseconds)."""
        from llama_cpp import Llama

        cpu_backend.load()

        try:
            return cls(Llama(model_path=str(check_gguf(path)), vocab_only=True, verbose=False))
        except (ValueError, RuntimeError):
            raise ModelLoadError(f"llama.cpp could not read {path}: {explain_load_failure(path)}") from None

    def _format(self, formatter: Any, messages: list[Message]) -> Any:
        if self._strict:
            return formatter(messages=alternating(messages))
        try:
            return formatter(messages=messages)
        except ValueError:  # the template's raise_exception: e.g. Gemma's "System role not supported"
            self._strict = True  # it will refuse the next prompt too: every prompt is counted several times
            return formatter(messages=alternating(messages))

    def _piece(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def render(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        """Token ids of the prompt (generation prompt included) and the template's stop strings."""
        result = self._format(self._prompt, messages)
        tokens = self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop

    def reply_tokens(self, messages: list[Message], reply: str) -> tuple[list[int], list[int]]:
        """Token ids of the prompt and of ``reply`` as the model would generate it after that prompt.

        The reply's ids include the template's end of turn: with ChatML they are the tokens of
        ``"<reply><|im_end|>\n"``. Tokenized apart from the prompt, as generation produces them.
        """
        prompt = self._format(self._prompt, messages)
        full = self._format(self._transcript, [*messages, {"role": "assistant", "content": reply}]).prompt
        if not full.startswith(prompt.prompt):
            raise ModelLoadError("this model's chat template does not render a reply after its prompt; cannot train on it")
        ids = self.llm.tokenize(prompt.prompt.encode("utf-8"), add_bos=not prompt.added_special, special=True)
        return ids, self.llm.tokenize(full[len(prompt.prompt):].encode("utf-8"), add_bos=False, special=True)


class LlamaCppBackend(ChatBackend):
    """Streams replies from a GGUF model with llama.cpp."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        parallel: int = 1,
    ) -> None:
        from llama_cpp import Llama

        cpu_backend.load()  # a build with CPU variants loads no model before one is chosen for this CPU
        self.path = check_gguf(path)
        self.name = self.path.stem
        threads = n_threads or os.cpu_count() or 1
        self._contexts: queue.Queue[Llama] = queue.Queue()
        for _ in range(parallel):
            try:
                llm = Llama(
                    model_path=str(self.path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_gpu_layers=n_gpu_layers,
                    verbose=False,
                )
            except (ValueError, RuntimeError):
                raise ModelLoadError(f"llama.cpp could not load {self.path}: {explain_load_failure(self.path)}") from None
            self._contexts.put(llm)
        self.llm = llm  # any one context, for tokenizing and metadata (both are read-only)
        # llama.cpp may round the context up (to 512 for 384), but llama-cpp-python sizes its token
        # buffers by the number asked for: the smaller one is the real limit.
        self.context_size = min(n_ctx, llm.n_ctx())
        self.metadata = dict(llm.metadata)
        self.template = ChatTemplate(llm)
        self._views: dict[LoraAdapter, AdapterView] = {}
        self._views_lock = threading.Lock()
        self._handles: dict[tuple[int, LoraAdapter], Any] = {}  # (context, adapter) -> llama.cpp adapter
        self._active: dict[int, LoraAdapter | None] = {}  # context -> the adapter it computes with now

    def render(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        """Token ids of the prompt (generation prompt included) and the template's stop strings."""
        return self.template.render(messages)

    def count_tokens(self, messages: list[Message]) -> int:
        return len(self.render(messages)[0])

    def count_text(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def token_bias(self, word_bias: dict[str, float]) -> dict[int, float] | None:
        """llama.cpp's logit bias for ``Sampling.word_bias``: by token id, for the words that are one token of
        this model after a space (" upon", and " Upon" for the start of a sentence).

        A word spelt in several tokens is left out: biasing its first piece alone would put that
        fragment at the start of other words.
        """
        return self._token_bias(tuple(sorted(word_bias.items()))) if word_bias else None

    @functools.lru_cache(maxsize=64)  # noqa: B019 - the backend lives as long as the process; a persona's words repeat every turn
    def _token_bias(self, items: tuple[tuple[str, float], ...]) -> dict[int, float]:
        bias: dict[int, float] = {}
        for word, weight in items:
            for form in {f" {word}", f" {word[:1].upper()}{word[1:]}"}:
                ids = self.llm.tokenize(form.encode("utf-8"), add_bos=False, special=False)
                if len(ids) == 1:
                    bias[ids[0]] = weight
        return bias

    @contextlib.contextmanager
    def borrow(self, adapter: LoraAdapter | None = None) -> Iterator[object]:
        """Hold one llama.cpp context exclusively, computing with ``adapter`` (or none); waits while all are busy."""
        llm = self._contexts.get()
        try:
            self._apply(llm, adapter)
            yield llm
        finally:
            self._contexts.put(llm)

    def _apply(self, llm: Any, adapter: LoraAdapter | None) -> None:
        """Switch a borrowed context to ``adapter``; the adapter is loaded into that context's model once."""
        if self._active.get(id(llm)) == adapter:
            return  # also keeps the KV cache: the previous prompt was computed the same way
        import llama_cpp

        if adapter is None:
            failed = llama_cpp.llama_set_adapters_lora(llm.ctx, None, 0, None)
        else:
            handle = self._handles.get((id(llm), adapter))
            if handle is None:
                handle = llama_cpp.llama_adapter_lora_init(llm.model, str(adapter.path).encode())
                if not handle:
                    raise BackendError(f"llama.cpp could not load the LoRA adapter {adapter.path}")
                # Freed with the context's model (llama-cpp-python's exit stack unwinds newest first).
                llm._stack.callback(llama_cpp.llama_adapter_lora_free, handle)
                self._handles[(id(llm), adapter)] = handle
            failed = llama_cpp.llama_set_adapters_lora(llm.ctx, (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle), 1,
                                                       (ctypes.c_float * 1)(adapter.scale))
        if failed:
            raise BackendError(f"llama.cpp could not switch to the LoRA adapter {adapter.path if adapter else '(none)'}")
        llm.reset()  # the cached prefix was computed with the previous adapter: recompute it
        self._active[id(llm)] = adapter

    def with_adapter(self, path: Path, scale: float = 1.0) -> AdapterView:
        """This model with a LoRA adapter: the same weights and contexts, the adapter applied per reply.

        The adapter is checked against the model first (ModelLoadError names the mismatch); views are
        cached, so a persona's adapter is checked and loaded once, and again only when its file changes.
        """
        from app.core.lora_gguf import check_adapter, read_base

        path = Path(path)
        try:
            st = path.stat()
        except OSError:
            raise ModelLoadError(f"the LoRA adapter {path} is missing; run `personas finetune` again") from None
        adapter = LoraAdapter(path, scale, (st.st_mtime_ns, st.st_size))
        with self._views_lock:
            if adapter not in self._views:
                check_adapter(path, read_base(self.path))
                self._views[adapter] = AdapterView(self, adapter)
            return self._views[adapter]

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None,
               adapter: LoraAdapter | None = None) -> Iterator[str]:
        tokens, stop = self.render(messages)
        grammar = None
        if json_schema is not None:
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
        # One slot short of full: llama-cpp-python evaluates the last sampled token too, and a context
        # filled to the brim makes that evaluation fail.
        room = self.context_size - len(tokens) - 1
        if room <= 0:
            raise BackendError(f"prompt of {len(tokens)} tokens leaves no room in the {self.context_size}-token context")
        # llama.cpp would otherwise reuse one fixed seed, and "regenerate" would give the same reply.
        seed = sampling.seed if sampling.seed is not None else random.randrange(2**31)
        with self.borrow(adapter) as llm:
            try:
                pieces = llm.create_completion(
                    prompt=tokens,
                    max_tokens=min(sampling.max_tokens, room),
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    top_k=sampling.top_k,
                    min_p=sampling.min_p,
                    repeat_penalty=sampling.repeat_penalty,
                    seed=seed,
                    stop=stop + list(sampling.stop),
                    grammar=grammar,
                    logits_processor=WordBias.for_tokens(self.token_bias(sampling.word_bias)),
                    stream=True,
                )
                for chunk in pieces:
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"llama.cpp failed while generating: {exc}") from None


class WordBias:
    """A llama.cpp logits processor for ``Sampling.word_bias``: each token gets its bias, except a favoured
    one among the last ``RECENT`` tokens of the text.

    A favoured word right after itself is how loops start: with a plain logit bias of 1.5, 14 of the
    240 fidelity test replies repeated "dear" three times or more, one of them to the end of the reply.
    """

    RECENT = 16

    def __init__(self, bias: dict[int, float]) -> None:
        import numpy as np

        self.np = np
        self.ids = np.fromiter(bias, dtype=np.intc, count=len(bias))
        self.values = np.fromiter(bias.values(), dtype=np.single, count=len(bias))

    @classmethod
    def for_tokens(cls, bias: dict[int, float] | None) -> Any:
        """The processor list ``create_completion`` takes, or None for no bias."""
        if not bias:
            return None
        from llama_cpp import LogitsProcessorList

        return LogitsProcessorList([cls(bias)])

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        recent = self.np.isin(self.ids, input_ids[-self.RECENT:]) & (self.values > 0)  # a word to avoid stays avoided
        scores[self.ids] += self.np.where(recent, self.np.single(0), self.values)
        return scores


class AdapterView(ChatBackend):
    """A ``LlamaCppBackend`` as seen through one LoRA adapter (made by ``LlamaCppBackend.with_adapter``)."""

    def __init__(self, base: LlamaCppBackend, adapter: LoraAdapter) -> None:
        self.base, self.adapter = base, adapter
        self.name = f"{base.name}+lora"
        self.context_size = base.context_size

    def render(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        return self.base.render(messages)

    def count_tokens(self, messages: list[Message]) -> int:
        return self.base.count_tokens(messages)

    def count_text(self, text: str) -> int:
        return self.base.count_text(text)

    def borrow(self) -> contextlib.AbstractContextManager[object]:
        return self.base.borrow(self.adapter)

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
        return self.base.stream(messages, sampling, json_schema=json_schema, adapter=self.adapter)


def backend_for(backend: ChatBackend, persona: Any) -> ChatBackend:
    """The backend for a persona's replies: with its fine-tuned adapter when it has one that loads.

    An adapter that is missing, damaged or made for another model is logged and left out: the persona
    keeps working on the plain model (``personas show`` names the problem).
    """
    path = getattr(persona, "lora_path", None)
    if not path:
        return backend
    if not isinstance(backend, LlamaCppBackend):
        log.warning("persona %r has a LoRA adapter, which only the llama backend can load; chatting without it",
                    persona.name)
        return backend
    try:
        return backend.with_adapter(Path(path))
    except KeepsakeError as exc:
        log.warning("persona %r: %s; chatting without its adapter", persona.name, exc)
        return backend


@register("llama")
def _llama(settings: Settings) -> ChatBackend:
    return LlamaCppBackend(
        settings.model or embedded_model_path(),
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        n_gpu_layers=settings.n_gpu_layers,
        parallel=settings.parallel,
    )
