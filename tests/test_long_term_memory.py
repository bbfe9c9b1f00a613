"""Long-term memory: storage, FAISS indexes as a rebuildable cache, recall rules, user isolation."""

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from app.errors import NotFound
from memory import index as index_module
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store


@pytest.fixture
def ltm(store: Store, keepsake_home: Path) -> LongTermMemory:
    return LongTermMemory(store, WordLengthEmbedder(), keepsake_home)


def test_word_length_fake_has_exact_neighbours() -> None:
    e = WordLengthEmbedder()
    v = e.embed(["the cat sat", "one dog ran", "extraordinary circumstances", ""])
    assert np.allclose(v[0], v[1]) and float(v[0] @ v[2]) == 0.0
    assert not np.isnan(v).any() and np.linalg.norm(v[3]) == 0


def test_add_skips_what_is_already_stored(ltm: LongTermMemory) -> None:
    first = ltm.add(["I love roses", "the cat sat"], persona_id=None, kind="seed")
    again = ltm.add(["  i LOVE   roses ", "a brand new thing"], persona_id=None, kind="seed")
    assert again[0] == first[0] and again[1] not in first
    assert len(ltm.list(None)) == 3


def test_search_threshold_k_and_exclusions(ltm: LongTermMemory) -> None:
    ids = ltm.add(["the cat sat", "one dog ran", "a bee is", "extraordinary circumstances"], persona_id=None, kind="seed")
    hits = ltm.search("big red fox", persona_id=None, k=5, min_score=0.9)
    assert [h.text for h in hits] == ["the cat sat"]  # "one dog ran" is the same vector: a duplicate
    assert ltm.search("big red fox", persona_id=None, k=5, min_score=0.9, exclude_texts=["The cat  sat"])[0].text == "one dog ran"
    assert ltm.search("unbelievable", persona_id=None, min_score=0.99) == []
    assert len(ltm.search("a b c", persona_id=None, k=1, min_score=-1)) == 1
    assert ids[3] not in [h.id for h in ltm.search("big red fox", persona_id=None, k=5, min_score=0.5)]


def test_visible_history_is_never_recalled(ltm: LongTermMemory, store: Store) -> None:
    uid = store.user_id()
    conv = store.create_conversation(uid)
    msg = store.add_message(uid, conv.id, "assistant", "x")
    ltm.add(["the cat sat"], persona_id=None, user_id=uid, kind="turn", source_message_id=msg.id)
    assert ltm.search("big red fox", persona_id=None, user_id=uid, min_score=0.5)
    assert ltm.search("big red fox", persona_id=None, user_id=uid, min_score=0.5, exclude_message_ids=[msg.id]) == []


def test_recency_weighting_changes_the_order(ltm: LongTermMemory, store: Store) -> None:
    old, new = ltm.add(["cats sit quietly", "dogs run happily"], persona_id=None, kind="seed")
    with store.session() as s:
        s.execute(text("UPDATE memories SET created_at = :t WHERE id = :i"),
                  {"t": "2000-01-01 00:00:00.000000", "i": old})
    plain = ltm.search("owls fly silently", persona_id=None, min_score=0.5, k=1)
    assert plain[0].id == old  # equal scores: the lower id wins the tie
    recent = ltm.search("owls fly silently", persona_id=None, min_score=0.0, k=2, recency_half_life_days=30)
    assert recent[0].id == new


def test_users_see_shared_seed_memories_but_not_each_others(ltm: LongTermMemory, store: Store) -> None:
    a, b = store.user_id("a"), store.user_id("b")
    with store.session() as s:
        s.execute(text("INSERT INTO personas (id, name, data, created_at, updated_at) VALUES (7, 'Grandpa', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    seed = ltm.add(["the farm had cows"], persona_id=7, kind="seed")[0]
    secret = ltm.add(["the pin is nine"], persona_id=7, user_id=a, kind="turn")[0]
    see = lambda uid: {h.id for h in ltm.search("the farm had cows", persona_id=7, user_id=uid, min_score=0.0, k=10)}  # noqa: E731
    assert see(a) == {seed, secret}
    assert see(b) == {seed}
    assert {m.id for m in ltm.list(7, user_id=b)} == {seed}
    with pytest.raises(NotFound):
        ltm.delete(secret, user_id=b)
    with pytest.raises(NotFound):
        ltm.edit(secret, "mine now", user_id=b)
    ltm.edit(secret, "the pin is changed", user_id=a)
    assert "the pin is changed" in [m.text for m in ltm.list(7, user_id=a)]
    ltm.delete(secret, user_id=a)
    assert see(a) == {seed}


def test_index_is_persisted_and_reloaded(ltm: LongTermMemory, store: Store, keepsake_home: Path) -> None:
    ltm.add(["the cat sat", "extraordinary circumstances"], persona_id=None, kind="seed")
    ltm.flush()
    files = sorted(p.name for p in (keepsake_home / "index").iterdir())
    assert files == ["persona-none_user-shared.faiss", "persona-none_user-shared.json"]
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert fresh.index(None, None).rebuilt is False and fresh.index(None, None).index.ntotal == 2
    assert fresh.search("big red fox", persona_id=None, min_score=0.9)[0].text == "the cat sat"


def test_missing_index_file_is_rebuilt_from_the_database(ltm: LongTermMemory, store: Store, keepsake_home: Path) -> None:
    ltm.add(["the cat sat"], persona_id=None, kind="seed")
    ltm.flush()
    (keepsake_home / "index" / "persona-none_user-shared.faiss").unlink()
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert fresh.search("big red fox", persona_id=None, min_score=0.9)[0].text == "the cat sat"
    assert fresh.index(None, None).rebuilt is True


def test_stale_index_is_detected_and_rebuilt(ltm: LongTermMemory, store: Store, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(index_module, "CHECK_EVERY_S", 0.0)
    ltm.add(["the cat sat"], persona_id=None, kind="seed")
    other = LongTermMemory(store, WordLengthEmbedder(), ltm.directory.parent)  # another process, in effect
    other.add(["extraordinary circumstances"], persona_id=None, kind="seed")
    assert ltm.search("circumstances extraordinary", persona_id=None, min_score=0.9)[0].text == "extraordinary circumstances"
    with store.session() as s:  # a row removed behind the index's back
        s.execute(text("DELETE FROM memories WHERE text = 'the cat sat'"))
    time.sleep(0.01)
    assert ltm.search("big red fox", persona_id=None, min_score=0.9) == []


def test_another_embedder_forces_a_rebuild(ltm: LongTermMemory, store: Store, keepsake_home: Path) -> None:
    ltm.add(["the cat sat"], persona_id=None, kind="seed")
    ltm.flush()

    class Renamed(WordLengthEmbedder):
        name = "fake:other"

    fresh = LongTermMemory(store, Renamed(), keepsake_home)
    assert fresh.index(None, None).rebuilt is True


def test_delete_scope(ltm: LongTermMemory, store: Store) -> None:
    uid = store.user_id()
    ltm.add(["a", "b c"], persona_id=None, user_id=uid, kind="note")
    assert ltm.delete_scope(None, uid) == 2
    assert ltm.search("a", persona_id=None, user_id=uid, min_score=-1) == []


# -- with the real embedding model --------------------------------------------------------------

GRANDPA = [
    "Our dog Biscuit followed me to the fields every morning.",
    "In 1944 I served on a minesweeper in the North Sea.",
    "The farm had forty cows and one stubborn bull named Winston.",
    "Your grandmother Elsie grew sweet peas along the south wall.",
    "My favourite song was 'Danny Boy'; I sang it at every wedding.",
    "I learned to fix tractors from my uncle Albert.",
    "We married in the spring of 1952 at St Mary's church.",
    "The winter of 1963 was so cold the river froze solid.",
    "I always kept peppermints in my coat pocket for the children.",
    "My brother Tom emigrated to Canada and became a carpenter.",
    "Sunday dinners were roast lamb with mint sauce.",
    "I never learned to swim, which embarrassed me at the seaside.",
    "The old barn burned down in 1971 after a lightning strike.",
    "I read the newspaper every morning with a cup of strong tea.",
    "Your mother was born during a snowstorm in February.",
    "I kept bees behind the orchard for twenty years.",
    "My hands were always stained from working the soil.",
    "We drove a green Morris Minor until it fell apart.",
    "Christmas meant oranges in stockings and carols by the fire.",
    "I was afraid of thunderstorms as a boy.",
    "The village school had only two classrooms.",
    "I won a ploughing competition at the county show in 1958.",
    "Elsie and I danced every Saturday at the village hall.",
    "I wrote to you every month when you were at university.",
    "The apple trees gave us enough cider for the whole winter.",
    "I taught your father to fish in the mill pond.",
    "My best friend Harold died in the war.",
    "I retired from farming when I turned seventy.",
    "The church bells rang for an hour when the war ended.",
    "I always said: work hard, be kind, and keep your boots clean.",
]
QUESTIONS = {
    "What was the name of your dog?": 0,
    "Were you in the navy during the war?": 1,
    "What flowers did grandma plant?": 3,
    "Which song did you like to sing?": 4,
    "When did you get married?": 6,
    "Did you have any brothers or sisters?": 9,
    "What did we eat on Sundays?": 10,
    "Could you swim?": 11,
    "What happened to the barn?": 12,
    "Did you keep any insects?": 15,
    "What car did you have?": 17,
    "What was your advice for life?": 29,
}


def test_retrieval_quality_with_the_real_embedder(store: Store, keepsake_home: Path, real_embedder) -> None:  # noqa: ANN001
    ltm = LongTermMemory(store, real_embedder, keepsake_home)
    ids = ltm.add(GRANDPA, persona_id=None, kind="seed")
    misses = []
    for question, expected in QUESTIONS.items():
        top3 = [h.id for h in ltm.search(question, persona_id=None, k=3, min_score=0.0)]
        if ids[expected] not in top3:
            misses.append(question)
    assert misses == []


def test_real_embedder_vectors(real_embedder) -> None:  # noqa: ANN001
    v = real_embedder.embed(["my dog barks", "the puppy is loud", "tax returns are due"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.2


def test_rows_stored_without_vectors_are_embedded_at_the_next_build(ltm: LongTermMemory, store: Store, keepsake_home: Path) -> None:
    ltm.add(["the cat sat"], persona_id=None, kind="seed", embed=False)
    with store.session() as s:
        assert s.execute(text("SELECT vector FROM memories")).scalar() is None
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert fresh.search("big red fox", persona_id=None, min_score=0.9)[0].text == "the cat sat"
    with store.session() as s:
        assert len(s.execute(text("SELECT vector FROM memories")).scalar()) == 16 * 4
    assert fresh.count(None) == 1
