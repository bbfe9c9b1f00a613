"""The llama.cpp backend: a local GGUF model through llama-cpp-python.

A llama.cpp context is not thread-safe, so the backend keeps a small pool of contexts (``parallel``,
default 1) over one set of memory-mapped weights; each reply borrows a context for its whole duration,
and other callers wait their turn instead of crashing. Prompts are rendered with the chat template
stored in the GGUF and tokenized here, so token counts are exact and the completion call gets token
ids: llama.cpp then reuses its KV cache for the longest common prefix with the previous prompt.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
from collections.abc import Iterator
from pathlib import Path

from app.backends import ChatBackend, Message, register
from app.errors import BackendError, ModelLoadError
from app.models import check_gguf, embedded_model_path, explain_load_failure
from app.settings import Sampling, Settings

# Used when a GGUF carries no chat template: ChatML, which most small instruct models were tuned on.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


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
        lora_path: Path | None = None,
    ) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

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
                    lora_path=str(lora_path) if lora_path else None,
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
        eos, bos = llm.token_eos(), llm.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=self.metadata.get("tokenizer.chat_template") or CHATML,
            eos_token=self._piece(eos) if eos >= 0 else "",
            bos_token=self._piece(bos) if bos >= 0 else "",
            stop_token_ids=[eos] if eos >= 0 else None,
        )

    def _piece(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def render(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        """Token ids of the prompt (generation prompt included) and the template's stop strings."""
        result = self._formatter(messages=messages)
        tokens = self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop

    def count_tokens(self, messages: list[Message]) -> int:
        return len(self.render(messages)[0])

    def count_text(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    @contextlib.contextmanager
    def borrow(self) -> Iterator[object]:
        """Hold one llama.cpp context exclusively; waits while all are busy."""
        llm = self._contexts.get()
        try:
            yield llm
        finally:
            self._contexts.put(llm)

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
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
        with self.borrow() as llm:
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
                    stream=True,
                )
                for chunk in pieces:
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"llama.cpp failed while generating: {exc}") from None


@register("llama")
def _llama(settings: Settings) -> ChatBackend:
    return LlamaCppBackend(
        settings.model or embedded_model_path(),
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        n_gpu_layers=settings.n_gpu_layers,
        parallel=settings.parallel,
    )
