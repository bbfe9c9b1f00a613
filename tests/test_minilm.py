"""The packaged MiniLM as the safety readers share it (safety/minilm.py): loaded once, its frozen lower layers run once
a message, and the default judge's sentence embeddings computed from it equal to memory's embedder."""

from __future__ import annotations

import numpy as np
import pytest

from memory.embedder import load_embedder
from safety.harm_others import HarmOthersDetector
from safety.intent import sentence_embedder
from safety.self_harm import SelfHarmDetector

MESSAGE = "Nonna, the man next door keeps kicking his dog. What would you have said to him?"


@pytest.fixture(scope="module")
def detectors() -> tuple[SelfHarmDetector, HarmOthersDetector]:
    return SelfHarmDetector(), HarmOthersDetector()


def test_both_detectors_share_the_frozen_layers_and_keep_their_own(detectors) -> None:  # noqa: ANN001
    """The second detector to read a request runs only its own top layers, and reads exactly what it read alone."""
    self_harm, harm_others = detectors
    assert self_harm.reader.bert is harm_others.reader.bert  # loaded once per process
    assert self_harm.reader.top is not harm_others.reader.top
    message = MESSAGE + " (alone)"
    alone = harm_others.logits([message])
    ran = self_harm.reader.bottom(self_harm.reader.tokens([message]), remember=True)
    assert harm_others.reader.bottom(harm_others.reader.tokens([message]), remember=True) is ran
    assert harm_others.logits([message]) == pytest.approx(alone, abs=0)
    # Each has its own trained layers: the same frozen states give each its own reading.
    assert self_harm.logits([message])[0] != pytest.approx(harm_others.logits([message])[0], abs=1e-3)


def test_the_sentence_embedder_gives_memorys_vectors(detectors) -> None:  # noqa: ANN001
    """What the default judge was trained on, from the shared model: short, long (past 256 tokens) and empty text."""
    texts = [MESSAGE, "I'm so sorry, love. Tell me about her.", "the ashes, the sea " * 120, "", "x"]
    shared = sentence_embedder()
    expected = load_embedder("").embed(texts)
    got = shared.embed(texts)
    assert got.shape == expected.shape == (len(texts), shared.dim)
    assert np.abs(got - expected).max() < 1e-5
    assert not got[3].any()  # no text, no vector
    one_by_one = np.concatenate([shared.embed([t]) for t in texts])
    assert np.abs(one_by_one - expected).max() < 1e-5


def test_the_judge_reuses_what_the_detectors_ran(detectors) -> None:  # noqa: ANN001
    self_harm, _ = detectors
    shared = sentence_embedder()
    message = MESSAGE + " (judge)"
    self_harm.probability([message])
    ran = self_harm.reader.bottom(self_harm.reader.tokens([message]), remember=True)
    assert shared.bottom(shared.tokens([message]), remember=True) is ran
