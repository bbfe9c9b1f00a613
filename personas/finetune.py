"""Fine-tuning a persona: a LoRA adapter trained on its seed text, exported for llama.cpp.

The weights come from the chat model's own GGUF (transformers dequantizes it), so no other copy of
the model is needed and nothing is downloaded. Training is PyTorch + peft, on the CPU unless a GPU
is present; the adapter is written by ``app.core.lora_gguf`` and switched in by ``app.core.llama``.

Training examples: each seed chunk (as stored in long-term memory: up to 120 words, cut at sentence
ends) is the assistant's reply to a neutral request ("Write to me.", "Any news?", ... in turn: a chat
asks questions, not only for a letter) under the system prompt "You are NAME.",
rendered with the model's chat template and tokenized by llama.cpp itself
(``ChatTemplate``), and the loss counts the reply's tokens only, end of turn included. Why not plain
continuation of the text: the chat always reads a chat-formatted prompt, and what the adapter must
change is how the assistant's turn reads, down to where it stops. Why a one-line system prompt and not
the chat's full prompt: that one is followed by some 1,400 tokens of example passages (as earlier
turns), which would multiply the cost of every example for tokens the loss does not count, and the
adapter serves this persona alone.

Corners cut: the stored chunks have lost their paragraph breaks, so the adapter learns the voice and
the words rather than the layout; perplexity is computed by the PyTorch model (dequantized weights),
which ``tests/test_finetune.py`` shows agrees with llama.cpp to within the quantization error.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core import lora_gguf
from app.core.errors import PersonaError
from app.core.files import WriteError
from app.core.settings import Settings
from memory.store import Store
from personas import persona as personas

PROMPT = "Write to me."  # the neutral request a seed passage answers (as in the persona's example dialogue)
# The requests the passages answer in turn: a chat asks everyday questions, and an adapter that has
# only ever seen "Write to me." answers a question in the base model's own voice. These are kept apart
# from the questions the fidelity benchmark asks (app/fidelity_questions.json).
PROMPTS = (PROMPT, "Any news?", "What is on your mind?", "Tell me how things are with you.",
           "Write me a few lines.", "What have you to tell me?", "Go on, tell me everything.",
           "I have missed your letters.")
MIN_TOKENS = 200  # fewer seed tokens than this teach nothing but the text itself
MAX_REPLY_TOKENS = 384  # longer passages are cut: bounds memory per example
BATCH = 4
HOLDOUT = 0.1  # share of the passages kept out of training to measure perplexity on
MAX_HELDOUT = 32  # at most this many: measuring a big collection's tenth twice took longer than a short training run
LEARNING_RATE = 2e-3  # LoRA on a 135M model; a time-limited run of a few dozen steps barely moved at 1e-3
CHECKPOINT_S = 60.0


@dataclass(frozen=True)
class Progress:
    """Where a fine-tune is: ``phase`` is loading, measuring, training or saving."""

    phase: str
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    tokens_per_s: float = 0.0
    eta_s: float | None = None


@dataclass(frozen=True)
class Result:
    """A finished (or time-limited: ``complete`` is False, ``--resume`` goes on) fine-tune."""

    adapter: Path
    steps: int
    total_steps: int
    complete: bool
    resumed_from: int
    train_tokens: int  # seed tokens per epoch
    heldout_tokens: int
    perplexity_before: float
    perplexity_after: float
    tokens_per_s: float  # seed tokens trained per second
    seconds: float  # training time, this run and the interrupted ones before it


@dataclass(frozen=True)
class Example:
    """Token ids of prompt + reply; the loss counts the ids from ``n_prompt`` on."""

    ids: list[int]
    n_prompt: int


def seed_texts(store: Store, persona_id: int) -> list[str]:
    """The persona's seed passages, in the order they were added."""
    from memory.schema import Memory

    with store.session() as s:
        return list(s.scalars(select(Memory.text).where(Memory.persona_id == persona_id, Memory.kind == "seed")
                              .order_by(Memory.id)))


def make_examples(template: Any, system: str, texts: Sequence[str]) -> list[Example]:
    """Each passage as the assistant's reply to one of ``PROMPTS`` in turn, the first to ``PROMPT``
    (``template`` is an ``app.core.llama.ChatTemplate``)."""
    examples = []
    for text in texts:
        if text.strip():
            request = PROMPTS[len(examples) % len(PROMPTS)]
            prompt, reply = template.reply_tokens([{"role": "system", "content": system},
                                                   {"role": "user", "content": request}], text.strip())
            examples.append(Example(prompt + reply[:MAX_REPLY_TOKENS], len(prompt)))
    return examples


def split(examples: Sequence[Example], holdout: float = HOLDOUT) -> tuple[list[Example], list[Example]]:
    """(train, held out): evenly spaced passages are held out, at least one and at most ``MAX_HELDOUT``.

    Example: 5 passages with ``holdout=0.1`` hold out the third, ``[e0, e1, e3, e4], [e2]``.
    """
    n_held = min(MAX_HELDOUT, max(1, round(len(examples) * holdout)))
    held = {int((i + 0.5) * len(examples) / n_held) for i in range(n_held)}
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def learning_rate(step: int, total: int, peak: float = LEARNING_RATE) -> float:
    """Linear warm-up over the first tenth (at most 5 steps: a run cut short by its time limit may only
    have a few dozen), then linear decay to a tenth of ``peak``."""
    warm = min(5, max(1, total // 10))
    if step < warm:
        return peak * (step + 1) / warm
    return peak * (1 - 0.9 * (step - warm) / max(1, total - warm))


def _reply_tokens(examples: Sequence[Example]) -> int:
    return sum(len(e.ids) - e.n_prompt for e in examples)


def _collate(examples: Sequence[Example], pad: int):  # noqa: ANN202
    import torch

    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, e in enumerate(examples):
        ids[row, :len(e.ids)] = torch.tensor(e.ids)
        mask[row, :len(e.ids)] = 1
        labels[row, e.n_prompt:len(e.ids)] = ids[row, e.n_prompt:len(e.ids)]
    return ids, mask, labels


def _nll(model: Any, batch: Sequence[Example], pad: int):  # noqa: ANN202
    """Summed negative log-likelihood of the batch's reply tokens, and their count.

    The output layer runs on the positions that predict a reply token only: with a vocabulary of
    49k it would otherwise cost as much again for the prompt positions, whose predictions are unused.
    """
    import torch.nn.functional as F

    ids, mask, labels = (t.to(model.device) for t in _collate(batch, pad))
    causal_lm = model.get_base_model()  # the transformers model, LoRA layers in place
    hidden = causal_lm.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != -100
    logits = causal_lm.lm_head(hidden[keep])
    return F.cross_entropy(logits.float(), targets[keep], reduction="sum"), int(keep.sum())


def perplexity(model: Any, examples: Sequence[Example], pad: int) -> float:
    """exp of the mean negative log-likelihood per reply token."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), BATCH):
            nll, n = _nll(model, examples[start:start + BATCH], pad)
            total, count = total + float(nll), count + n
    return math.exp(total / max(count, 1))


def load_base(path: Path) -> Any:
    """The GGUF's weights as a float32 transformers model (dequantized, from the file alone)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the caller shows its own progress
    try:
        return AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                    local_files_only=True)
    except (ValueError, OSError, RuntimeError) as exc:
        raise PersonaError(f"transformers cannot load the weights of {path.name} for training: {exc}") from None


def lora_arrays(model: Any) -> dict[str, tuple[Any, Any]]:
    """transformers module name -> (A, B) as float32 numpy arrays, from a peft model."""
    return {name.removeprefix("base_model.model."): (m.lora_A["default"].weight.detach().float().cpu().numpy(),
                                                     m.lora_B["default"].weight.detach().float().cpu().numpy())
            for name, m in model.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A}


def adapter_path(settings: Settings, persona_id: int) -> Path:
    """Where a persona's adapter lives: beside its avatar, named by id."""
    return settings.home / "personas" / str(int(persona_id)) / "adapter.gguf"


def _save_checkpoint(path: Path, state: dict) -> None:
    import torch

    tmp = path.with_name(f".{path.name}.partial")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot save the fine-tuning checkpoint {path}: {exc}") from None


def finetune(store: Store, settings: Settings, user_id: int, persona_id: int, *, epochs: int = 3, rank: int = 8,
             max_minutes: float = 30.0, resume: bool = False, base: Path | None = None,
             progress: Callable[[Progress], None] | None = None, learning_rate_peak: float = LEARNING_RATE) -> Result:
    """Train a LoRA adapter on the persona's seed text, write it as GGUF and record it on the persona.

    Stops after ``max_minutes`` of training with what it has (``Result.complete`` False). A checkpoint
    is kept every minute and on interruption: ``resume=True`` continues from it. Errors leave the
    persona as it was.
    """
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict

    from app.core.llama import ChatTemplate
    from app.core.models import check_gguf, embedded_model_path

    report = progress or (lambda p: None)
    persona = personas.get(store, user_id, persona_id)
    model_path = check_gguf(base or settings.model or embedded_model_path())
    info = lora_gguf.read_base(model_path)
    lora_gguf.require_supported(info)
    template = ChatTemplate.of_file(model_path)
    # Not the chat's long system message: the adapter serves this persona only, so it needs no
    # conditioning on it, and a short prompt keeps each example cheap.
    system = f"You are {persona.name}."
    texts = seed_texts(store, persona_id)
    examples = make_examples(template, system, texts)
    if _reply_tokens(examples) < MIN_TOKENS or len(examples) < 2:
        raise PersonaError(f"{persona.name}'s seed text is too short to fine-tune on: {_reply_tokens(examples)} tokens "
                           f"in {len(examples)} passage(s), at least {MIN_TOKENS} tokens in 2 passages are needed; "
                           "add letters with `personas add-seed`")
    train, held = split(examples)
    folder = adapter_path(settings, persona_id).parent
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "finetune-checkpoint.pt"
    need = 6 * lora_gguf.adapter_bytes(info, rank) + (1 << 20)  # adapter + checkpoint (weights, two Adam moments), each via a temp file
    if shutil.disk_usage(folder).free < need:
        raise WriteError(f"not enough disk space to fine-tune: {need >> 20} MB needed in {folder}")
    fingerprint = {"base": model_path.name, "base_size": model_path.stat().st_size, "rank": rank, "epochs": epochs,
                   "learning_rate": learning_rate_peak,
                   "seed": hashlib.sha256("\x00".join([system, *texts]).encode()).hexdigest()}
    state = None
    if resume:
        if not checkpoint.exists():
            raise PersonaError(f"there is no interrupted fine-tune of {persona.name} to resume; run it without --resume")
        state = torch.load(checkpoint, weights_only=False)
        changed = sorted(k for k in fingerprint if state["fingerprint"].get(k) != fingerprint[k])
        if changed:
            raise PersonaError(f"the interrupted fine-tune used another {', '.join(changed)}; resume with the same "
                               "options, or start over without --resume")

    torch.set_num_threads(settings.n_threads or os.cpu_count() or 1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report(Progress("loading"))
    torch.manual_seed(0)
    model = get_peft_model(load_base(model_path), LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05,
                                                            target_modules=list(lora_gguf.TARGETS)))
    model.to(device)
    pad = template.llm.token_eos()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate_peak,
                                  weight_decay=0.0)
    per_epoch = math.ceil(len(train) / BATCH)
    total = epochs * per_epoch
    if state is not None:
        set_peft_model_state_dict(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        before, done, trained_s, trained_tokens = state["ppl_before"], state["step"], state["seconds"], state["tokens"]
    else:
        report(Progress("measuring", total_steps=total))
        model.eval()
        before, done, trained_s, trained_tokens = perplexity(model, held, pad), 0, 0.0, 0
    resumed_from = done

    def save() -> None:
        _save_checkpoint(checkpoint, {"fingerprint": fingerprint, "step": done, "ppl_before": before,
                                      "seconds": trained_s, "tokens": trained_tokens,
                                      "lora": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict()})

    model.train()
    started = saved = time.monotonic()
    session_tokens, loss = 0, None
    try:
        while done < total and time.monotonic() - started < max_minutes * 60:
            epoch, index = divmod(done, per_epoch)
            order = random.Random(epoch).sample(range(len(train)), len(train))  # fixed per epoch: a resume replays it
            batch = [train[i] for i in order[index * BATCH:(index + 1) * BATCH]]
            torch.manual_seed(1000 + done)  # dropout, reproducible across a resume
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(done, total, learning_rate_peak)
            step_start = time.monotonic()
            nll, n = _nll(model, batch, pad)
            (nll / n).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss, done = nll.item() / n, done + 1
            trained_s += time.monotonic() - step_start
            trained_tokens += n
            session_tokens += n
            rate = session_tokens / (time.monotonic() - started)
            report(Progress("training", done, total, loss, rate,
                            (total - done) * (time.monotonic() - started) / (done - resumed_from)))
            if time.monotonic() - saved > CHECKPOINT_S and done < total:
                save()
                saved = time.monotonic()
    except KeyboardInterrupt:
        save()
        raise PersonaError(f"fine-tuning of {persona.name} interrupted after step {done} of {total}; "
                           "run it again with --resume to go on") from None
    except BaseException:
        save()  # whatever stopped it (a cancelled web job, an error), the steps done are kept
        raise
    if done == resumed_from:
        raise PersonaError(f"no training step fitted in {max_minutes:g} minutes; allow more time (--max-minutes)")
    if done < total:
        save()
    report(Progress("measuring", done, total, loss))
    model.eval()
    after = perplexity(model, held, pad)
    report(Progress("saving", done, total, loss))
    target = adapter_path(settings, persona_id)
    lora_gguf.write_adapter(target, info, lora_arrays(model), alpha=2 * rank,
                            notes={"perplexity_before": before, "perplexity_after": after, "steps": done,
                                   "total_steps": total})
    current = personas.get(store, user_id, persona_id)  # re-read: the persona may have been edited meanwhile
    current.lora_path = str(target)
    personas.save(store, user_id, persona_id, current)
    if done == total:
        checkpoint.unlink(missing_ok=True)
    return Result(target, done, total, done == total, resumed_from, _reply_tokens(train), _reply_tokens(held),
                  before, after, trained_tokens / trained_s if trained_s else 0.0, trained_s)
