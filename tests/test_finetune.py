"""Persona fine-tuning: the adapter llama.cpp computes with is the one PyTorch trained, training
lowers held-out perplexity, resume, and every bad input leaves the persona working."""

from __future__ import annotations

import copy
import errno
import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from app.core import lora_gguf
from app.core.errors import ModelLoadError, PersonaError
from app.core.files import WriteError
from app.core.llama import AdapterView, ChatTemplate, backend_for
from app.core.settings import Sampling
from app.personas_cli import main as personas_cli
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store
from personas import finetune as ft
from personas import persona as personas
from personas.builder import build, create
from personas.seed import read_seed

LETTERS = Path(__file__).parent / "data" / "grandpa_letters.txt"
PROMPT = ("<|im_start|>system\nYou are Grandpa.<|im_end|>\n<|im_start|>user\nTell me about the farm and Biscuit."
          "<|im_end|>\n<|im_start|>assistant\nDear Annie,\nThe")
GREEDY = Sampling(temperature=0.0, max_tokens=12, seed=1)
HELLO = [{"role": "user", "content": "How is the farm?"}]


@pytest.fixture(autouse=True)
def two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPSAKE_N_THREADS", "1")  # see the llama fixture: on a busy machine one thread beats two


@pytest.fixture(scope="module")
def llama(model_path: Path):  # noqa: ANN201
    """The embedded model on one thread: two llama.cpp threads spin-wait on each other when the shared
    machine is busy with this module's PyTorch work, and a reply then takes minutes instead of a second."""
    from app.core.llama import LlamaCppBackend

    return LlamaCppBackend(model_path, n_ctx=512, n_threads=1)


@pytest.fixture(scope="module")
def hf_base(model_path: Path):  # noqa: ANN201
    """The embedded GGUF dequantized into a transformers model, loaded once for the module."""
    import torch

    torch.set_num_threads(1)  # see the llama fixture
    return ft.load_base(model_path)


@pytest.fixture
def cached_base(hf_base, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """finetune() gets a fresh copy of the loaded weights instead of dequantizing the GGUF again."""
    monkeypatch.setattr(ft, "load_base", lambda path: copy.deepcopy(hf_base))


def lora_model(hf_base, scale: float):  # noqa: ANN001, ANN201
    """A peft model on a copy of the base whose lora_B are random: a large, known adapter."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(copy.deepcopy(hf_base), LoraConfig(r=8, lora_alpha=16, target_modules=list(lora_gguf.TARGETS)))
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=scale)
    return model.eval()


@pytest.fixture(scope="module")
def random_adapter(hf_base, model_path: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    model = lora_model(hf_base, 0.2)
    path = tmp_path_factory.mktemp("adapter") / "adapter.gguf"
    lora_gguf.write_adapter(path, lora_gguf.read_base(model_path), ft.lora_arrays(model), alpha=16)
    return path, model


def llama_logits(model_path: Path, adapter: Path | None) -> tuple[list[int], np.ndarray]:
    """Token ids of PROMPT and llama.cpp's logits at every position, with ``adapter`` or without."""
    from llama_cpp import Llama

    llm = Llama(str(model_path), n_ctx=256, n_threads=1, logits_all=True, lora_path=str(adapter) if adapter else None,
                verbose=False)
    tokens = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    llm.eval(tokens)
    return tokens, np.array(llm.scores[:len(tokens)], dtype=np.float64)


def kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """Mean KL(p || q) over positions, from logits."""
    lp = p_logits - np.logaddexp.reduce(p_logits, axis=-1, keepdims=True)
    lq = q_logits - np.logaddexp.reduce(q_logits, axis=-1, keepdims=True)
    return float((np.exp(lp) * (lp - lq)).sum(-1).mean())


@pytest.fixture
def grandpa(settings, keepsake_home: Path) -> tuple[Store, int, int]:  # noqa: ANN001
    """Grandpa built from the sample letters, in the store the CLI opens."""
    store = Store(settings.db_url)
    uid = store.user_id()
    pid = create(LongTermMemory(store, WordLengthEmbedder(), keepsake_home), uid, build([read_seed(LETTERS)]))
    yield store, uid, pid
    store.close()


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(personas_cli, list(args), catch_exceptions=False)


# -- pure parts -------------------------------------------------------------------------------------


def test_permute_rows_interleaves_the_rotary_halves_of_each_head() -> None:
    rows = np.arange(8).reshape(8, 1)  # two heads of four rows: halves [0 1][2 3] and [4 5][6 7]
    assert lora_gguf.permute_rows(rows, 2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_split_holds_out_evenly_spaced_passages_and_the_schedule_warms_then_decays() -> None:
    examples = [ft.Example([i], 0) for i in range(20)]
    train, held = ft.split(examples)
    assert [e.ids[0] for e in held] == [5, 15] and len(train) == 18
    assert [e.ids[0] for e in ft.split(examples[:5])[1]] == [2]
    assert len(ft.split([ft.Example([i], 0) for i in range(1000)])[1]) == ft.MAX_HELDOUT
    rates = [ft.learning_rate(s, 100, 1.0) for s in range(100)]
    assert rates[0] == 0.2 and rates[4] == 1.0 and rates[-1] == pytest.approx(0.109, abs=0.01)


def test_examples_are_chat_turns_and_only_the_reply_counts(model_path: Path) -> None:
    template = ChatTemplate.of_file(model_path)
    [example] = ft.make_examples(template, "You are Grandpa.", ["Dear Annie,\nThe farm is quiet."])
    prompt = template.llm.detokenize(example.ids[:example.n_prompt], special=True).decode()
    reply = template.llm.detokenize(example.ids[example.n_prompt:], special=True).decode()
    assert prompt.endswith("<|im_start|>user\nWrite to me.<|im_end|>\n<|im_start|>assistant\n")
    assert "You are Grandpa." in prompt and reply == "Dear Annie,\nThe farm is quiet.<|im_end|>\n"


# -- the proof: llama.cpp with the exported adapter computes what PyTorch computes ------------------


@pytest.mark.model
def test_llama_cpp_with_the_adapter_matches_the_merged_pytorch_model(
        random_adapter, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import torch

    path, model = random_adapter
    tokens, cpp_base = llama_logits(model_path, None)
    _, cpp_adapted = llama_logits(model_path, path)
    with torch.no_grad():
        ids = torch.tensor([tokens])
        with model.disable_adapter():
            torch_base = model(ids).logits[0].double().numpy()
        model.merge_adapter()
        torch_merged = model(ids).logits[0].double().numpy()
        model.unmerge_adapter()

    quantization_gap = kl(torch_base, cpp_base)  # the same model, dequantized in PyTorch vs Q4_1 in llama.cpp
    export_gap = kl(torch_merged, cpp_adapted)
    effect = kl(cpp_adapted, cpp_base)
    agreement = float((torch_merged.argmax(-1) == cpp_adapted.argmax(-1)).mean())
    print(f"quantization gap {quantization_gap:.4f}, llama.cpp vs merged PyTorch {export_gap:.4f}, "
          f"adapter effect {effect:.3f}, top-1 agreement {agreement:.2f}")
    assert torch_merged[-1].argmax() == cpp_adapted[-1].argmax() != cpp_base[-1].argmax()
    assert agreement >= 0.9
    assert export_gap < 0.05 and export_gap < 15 * max(quantization_gap, 1e-3)
    assert effect > 20 * export_gap

    # The same adapter without llama.cpp's q/k row order: it loads, and the comparison catches it.
    monkeypatch.setitem(lora_gguf.SUPPORTED, "llama", False)
    unpermuted = tmp_path / "unpermuted.gguf"
    lora_gguf.write_adapter(unpermuted, lora_gguf.read_base(model_path), ft.lora_arrays(model), alpha=16)
    assert kl(torch_merged, llama_logits(model_path, unpermuted)[1]) > 5 * export_gap


@pytest.mark.model
def test_switching_adapters_never_reuses_a_prefix_computed_without_them(llama, random_adapter, model_path: Path) -> None:  # noqa: ANN001
    from app.core.llama import LlamaCppBackend

    path, _ = random_adapter
    view = llama.with_adapter(path)
    assert llama.with_adapter(path) is view and isinstance(view, AdapterView)

    def say(backend) -> str:  # noqa: ANN001
        return "".join(backend.stream(HELLO, GREEDY))

    plain = say(llama)
    adapted = say(view)  # same prompt: a reused KV cache would have been computed without the adapter
    assert say(llama) == plain and say(view) == adapted
    fresh = LlamaCppBackend(model_path, n_ctx=512, n_threads=1)
    assert say(fresh.with_adapter(path)) == adapted != plain


# -- training through the command line --------------------------------------------------------------


@pytest.mark.model
def test_finetune_lowers_heldout_perplexity_and_the_chat_uses_the_adapter(
        grandpa, cached_base, llama, settings) -> None:  # noqa: ANN001
    store, uid, pid = grandpa
    result = run("finetune", "Grandpa", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "held-out perplexity" in result.output and "training" in result.stderr

    persona = personas.get(store, uid, pid)
    adapter = ft.adapter_path(settings, pid)
    assert persona.lora_path == str(adapter) and adapter.is_file()
    notes = lora_gguf.read_notes(adapter)
    print(notes)
    assert notes["steps"] == notes["total_steps"] == 2
    assert notes["perplexity_after"] < 0.85 * notes["perplexity_before"]
    assert not (adapter.parent / "finetune-checkpoint.pt").exists()

    shown = run("show", "Grandpa").output
    assert "fine-tuned:\n  active: LoRA adapter" in shown and "held-out perplexity" in shown
    assert run("list").output.count("[fine-tuned]") == 1

    backend = backend_for(llama, persona)
    assert isinstance(backend, AdapterView) and "".join(backend.stream(HELLO, GREEDY)).strip()


@pytest.mark.model
def test_an_interrupted_finetune_resumes_where_it_stopped(grandpa, cached_base, settings) -> None:  # noqa: ANN001
    store, uid, pid = grandpa

    def interrupt(progress: ft.Progress) -> None:
        if progress.phase == "training" and progress.step == 1:
            raise KeyboardInterrupt

    with pytest.raises(PersonaError, match="no interrupted fine-tune of Grandpa to resume"):
        ft.finetune(store, settings, uid, pid, resume=True)
    with pytest.raises(PersonaError, match="interrupted after step 1 of 2.*--resume"):
        ft.finetune(store, settings, uid, pid, epochs=2, progress=interrupt)
    assert personas.get(store, uid, pid).lora_path is None  # the persona works on, as it was
    with pytest.raises(PersonaError, match="another rank"):
        ft.finetune(store, settings, uid, pid, epochs=2, rank=4, resume=True)

    result = ft.finetune(store, settings, uid, pid, epochs=2, resume=True)
    assert (result.resumed_from, result.steps, result.complete) == (1, 2, True)
    print(result)
    assert result.perplexity_after < 0.85 * result.perplexity_before
    assert personas.get(store, uid, pid).lora_path == str(result.adapter)


# -- bad input: clear messages, the persona keeps working -------------------------------------------


def test_a_seed_too_short_to_train_on_is_refused(settings, keepsake_home: Path, tmp_path: Path) -> None:  # noqa: ANN001
    seed = tmp_path / "note.txt"
    seed.write_text("Dear Annie,\nSee you Sunday.\nGrandpa", encoding="utf-8")
    store = Store(settings.db_url)
    uid = store.user_id()
    pid = create(LongTermMemory(store, WordLengthEmbedder(), keepsake_home), uid, build([read_seed(seed)]))
    with pytest.raises(PersonaError, match="too short to fine-tune on.*add-seed"):
        ft.finetune(store, settings, uid, pid)
    store.close()


def test_an_unsupported_architecture_is_refused_with_the_list(grandpa, settings, tmp_path: Path) -> None:  # noqa: ANN001
    import gguf

    store, uid, pid = grandpa
    other = tmp_path / "gemma.gguf"
    writer = gguf.GGUFWriter(other, "gemma2")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file(), writer.write_kv_data_to_file(), writer.write_tensors_to_file(), writer.close()
    with pytest.raises(PersonaError, match=r"supports GGUF models of architecture llama, qwen2, qwen3; gemma.gguf is 'gemma2'"):
        ft.finetune(store, settings, uid, pid, base=other)


def test_out_of_disk_is_a_clear_error_and_leaves_the_old_adapter(
        grandpa, settings, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import gguf

    store, uid, pid = grandpa
    monkeypatch.setattr(ft.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1 << 20})())
    with pytest.raises(WriteError, match="not enough disk space to fine-tune"):
        ft.finetune(store, settings, uid, pid)
    assert personas.get(store, uid, pid).lora_path is None

    target = tmp_path / "out" / "adapter.gguf"
    target.parent.mkdir()
    target.write_bytes(b"the previous adapter")

    def full(self) -> None:  # noqa: ANN001
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", full)
    a, b = np.zeros((8, 576), np.float32), np.zeros((576, 8), np.float32)
    with pytest.raises(WriteError, match="No space left on device"):
        lora_gguf.write_adapter(target, lora_gguf.read_base(model_path), {"model.layers.0.self_attn.o_proj": (a, b)}, 16)
    assert target.read_bytes() == b"the previous adapter" and list(target.parent.iterdir()) == [target]


@pytest.mark.model
def test_an_adapter_that_does_not_fit_the_model_is_left_out_with_a_warning(
        grandpa, llama, model_path: Path, settings, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    store, uid, pid = grandpa
    wrong = ft.adapter_path(settings, pid)
    wrong.parent.mkdir(parents=True, exist_ok=True)
    a, b = np.ones((8, 100), np.float32), np.ones((576, 8), np.float32)  # rows of 100: made for another model
    lora_gguf.write_adapter(wrong, lora_gguf.read_base(model_path), {"model.layers.0.self_attn.q_proj": (a, b)}, 16)
    with pytest.raises(ModelLoadError, match="does not fit .*blk.0.attn_q.weight"):
        llama.with_adapter(wrong)

    persona = personas.get(store, uid, pid)
    persona.lora_path = str(wrong)
    personas.save(store, uid, pid, persona)
    with caplog.at_level(logging.WARNING, logger="app.core.llama"):
        assert backend_for(llama, persona) is llama
    assert "chatting without its adapter" in caplog.text
    assert "".join(llama.stream(HELLO, GREEDY)).strip()
    assert "adapter not used" in run("show", "Grandpa").output

    wrong.write_bytes(b"GGUF damaged")
    with pytest.raises(ModelLoadError, match="damaged"):
        llama.with_adapter(wrong)
    wrong.unlink()
    assert backend_for(llama, persona) is llama
