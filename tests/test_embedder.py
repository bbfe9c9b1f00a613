"""Embedders: the word-length fake's exact vectors, the packaged model offline, loading by name."""

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import KeepsakeError
from memory.embedder import (
    PACKAGED_NAME,
    Embedder,
    SentenceTransformerEmbedder,
    WordLengthEmbedder,
    declared_dim,
    load_embedder,
    packaged_model_dir,
)
from memory.retriever import KeepsakeEmbeddings

NASTY = [
    "",
    "   \n\t ",
    "🙂🙂 emoji only 👵🏽",
    "外公的信：我们在田里种稻子。",
    "a" * 5000,
    (Path(__file__).parent / "data" / "grandpa_letters.txt").read_text(encoding="utf-8"),
]


def test_word_length_vectors_are_exact() -> None:
    v = WordLengthEmbedder().embed(["a bb bb", "the cat sat", "one dog ran", "extraordinary circumstances", ""])
    expected = np.zeros(16, dtype=np.float32)
    expected[[0, 1]] = [1, 2]
    assert np.allclose(v[0], expected / np.sqrt(5))
    assert np.array_equal(v[1], v[2]) and v[1][2] == 1.0  # three 3-letter words: one bucket
    assert float(v[1] @ v[3]) == 0.0  # no word length in common
    assert not np.isnan(v).any() and not v[4].any()  # empty text: a zero row, not NaN
    assert WordLengthEmbedder().embed(["x" * 40])[0][15] == 1.0  # longer words share the last bucket


def test_word_length_nearest_neighbour() -> None:
    memories = ["the cat sat", "extraordinary circumstances", "I am at a bus"]
    e = WordLengthEmbedder()
    scores = e.embed(memories) @ e.embed(["big red fox"])[0]
    assert memories[int(np.argmax(scores))] == "the cat sat"
    assert np.argsort(-(e.embed(memories) @ e.embed(["we go to it"])[0]))[0] == 2


@pytest.mark.parametrize("kind", ["fake", "real"])
def test_every_embedder_on_nasty_inputs(kind: str, request: pytest.FixtureRequest) -> None:
    embedder = WordLengthEmbedder() if kind == "fake" else request.getfixturevalue("real_embedder")
    assert isinstance(embedder, Embedder)
    v = embedder.embed(NASTY)
    assert v.shape == (len(NASTY), embedder.dim) and v.dtype == np.float32 and np.isfinite(v).all()
    norms = np.linalg.norm(v, axis=1)
    assert np.allclose(norms[:2], 0.0) and np.allclose(norms[2:], 1.0, atol=1e-4)
    assert embedder.embed([]).shape == (0, embedder.dim)
    assert np.allclose(embedder.embed(NASTY[2:4]), v[2:4], atol=1e-5)  # batching does not change a row


def test_real_model_similarity_order(real_embedder) -> None:  # noqa: ANN001
    assert real_embedder.name == PACKAGED_NAME and real_embedder.dim == 384
    dog, puppy, tax = real_embedder.embed(["my dog barks", "the puppy is loud", "tax returns are due"])
    assert float(dog @ puppy) > float(dog @ tax) + 0.2


def test_real_model_loads_without_network(real_embedder, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A fresh load of the packaged model with every socket connection refused: none is attempted."""
    attempts = []

    def refuse(sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    fresh = SentenceTransformerEmbedder()  # torch is already imported (real_embedder): this load takes ~1 s
    v = fresh.embed(["hello there"])
    assert fresh.loaded and v.shape == (1, 384) and attempts == []


def test_packaged_model_is_sized_without_loading() -> None:
    e = load_embedder("")
    assert isinstance(e, SentenceTransformerEmbedder) and e.dim == 384 and not e.loaded
    assert e.path == packaged_model_dir() and (e.path / "modules.json").is_file()


def _model_dir(tmp_path: Path, modules: list[tuple[str, str, dict]]) -> Path:
    entries = []
    for i, (kind, path, config) in enumerate(modules):
        entries.append({"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"})
        (tmp_path / path).mkdir(parents=True, exist_ok=True)
        (tmp_path / path / "config.json").write_text(json.dumps(config))
    (tmp_path / "modules.json").write_text(json.dumps(entries))
    return tmp_path


def test_declared_dim_reads_pooling_and_dense(tmp_path: Path) -> None:
    pooling = ("Pooling", "1_Pooling", {"word_embedding_dimension": 768, "pooling_mode_mean_tokens": True})
    assert declared_dim(_model_dir(tmp_path / "a", [("Transformer", "", {}), pooling])) == 768
    dense = ("Dense", "2_Dense", {"in_features": 768, "out_features": 256})
    assert declared_dim(_model_dir(tmp_path / "b", [("Transformer", "", {}), pooling, dense])) == 256
    both = ("Pooling", "1_Pooling", {"word_embedding_dimension": 768, "pooling_mode_mean_tokens": True,
                                     "pooling_mode_max_tokens": True})
    assert declared_dim(_model_dir(tmp_path / "c", [both])) is None  # concatenated: only loading tells
    assert declared_dim(_model_dir(tmp_path / "d", [("Mystery", "x", {})])) is None
    assert declared_dim(packaged_model_dir()) == 384


def test_load_embedder_by_name_and_path(tmp_path: Path) -> None:
    assert isinstance(load_embedder("fake"), WordLengthEmbedder)
    assert isinstance(load_embedder("word-length"), WordLengthEmbedder)
    custom = SentenceTransformerEmbedder(packaged_model_dir())
    assert custom.name == f"st:{packaged_model_dir().resolve()}" != PACKAGED_NAME  # another index file set
    for missing in (tmp_path / "no-such-model", tmp_path):  # absent, and a directory that is not a model
        with pytest.raises(KeepsakeError) as err:
            load_embedder(str(missing))
        assert str(missing) in str(err.value) and "fake, word-length" in str(err.value)


def test_lazy_load_happens_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many threads embedding at once: one load, and encodes never overlap (fast tokenizers forbid it)."""
    loads, active, overlap = [], [0], [False]

    class SlowModel:
        def encode(self, texts, **_):  # noqa: ANN001, ANN003, ANN202
            active[0] += 1
            overlap[0] |= active[0] > 1
            time.sleep(0.01)
            active[0] -= 1
            return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)

    def slow_load(self) -> SlowModel:  # noqa: ANN001
        loads.append(1)
        time.sleep(0.05)
        return SlowModel()

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", slow_load)
    e = SentenceTransformerEmbedder()
    results = []
    threads = [threading.Thread(target=lambda: results.append(e.embed(["hi", ""]))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and not overlap[0] and e.loaded
    assert len(results) == 8 and all(np.array_equal(r, results[0]) for r in results) and not results[0][1].any()


def test_keepsake_embeddings_for_langchain() -> None:
    emb = KeepsakeEmbeddings(WordLengthEmbedder())
    docs = emb.embed_documents(["the cat sat", "extraordinary circumstances"])
    assert isinstance(docs[0][0], float) and len(docs) == 2 and len(docs[0]) == 16
    assert docs[0][2] == pytest.approx(1.0) and emb.embed_query("big red fox") == docs[0]
    assert emb.embed_documents([]) == []
