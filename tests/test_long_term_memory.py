"""Long-term memory: storage, FAISS indexes as a rebuildable cache, recall rules, user isolation.

Most tests use the word-length fake, whose vectors are exact: "the cat sat", "one dog ran" and
"big red fox" (three 3-letter words) are the same vector, "extraordinary circumstances" shares no
bucket with them, so every expected neighbour below can be worked out by hand.
"""

import hashlib
import json
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from sqlalchemy import delete, select, update

from app.core.errors import KeepsakeError, NotFound
from memory import index as index_module
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.retriever import MemoryRetriever
from memory.schema import Memory
from memory.store import Store
from personas.persona import Persona, insert

THREES = ["the cat sat", "one dog ran", "big red fox", "two old men", "all new art", "our hot tea", "ten wet owl",
          "six fat hen", "his bad leg", "her own pen", "few dry fig", "any raw egg"]  # all the same vector


@pytest.fixture
def ltm(store: Store, keepsake_home: Path) -> LongTermMemory:
    return LongTermMemory(store, WordLengthEmbedder(), keepsake_home)


def persona_of(store: Store, user_id: int, name: str = "Grandpa") -> int:
    with store.session() as s:
        return insert(s, user_id, Persona(name=name))


def texts(hits) -> list[str]:  # noqa: ANN001
    return [h.text for h in hits]


def insert_behind_its_back(store: Store, text: str) -> None:
    """A seed row of no persona written straight to the table, as another process would."""
    with store.session() as s:
        s.add(Memory(persona_id=None, user_id=None, kind="seed", text=text, content_hash="x",
                     vector=WordLengthEmbedder().embed([text])[0].tobytes()))


# -- adding ---------------------------------------------------------------------------------------


def test_add_stores_hash_and_vector_and_skips_what_is_stored(ltm: LongTermMemory, store: Store) -> None:
    first = ltm.add(["I love roses", "the cat sat", "  "], persona_id=None, kind="seed")
    again = ltm.add(["  i LOVE   roses ", "a brand new thing", "a brand new thing"], persona_id=None, kind="seed")
    assert len(first) == 2 and again[0] == first[0] and again[1] == again[2] and again[1] not in first
    assert [m.text for m in ltm.list(None)] == ["a brand new thing", "the cat sat", "I love roses"]
    with store.session() as s:
        row = s.get(Memory, first[1])
        assert row.content_hash == hashlib.sha256(b"the cat sat").hexdigest()
        stored = np.frombuffer(row.vector, dtype=np.float32)
        assert np.array_equal(stored, WordLengthEmbedder().embed(["the cat sat"])[0])
    uid = store.user_id()
    mine = ltm.add(["I love roses"], persona_id=None, user_id=uid, kind="note")  # another scope: stored again
    assert mine[0] not in first and ltm.index(None, uid).index.ntotal == 1


def test_kind_and_owner_must_agree(ltm: LongTermMemory, store: Store) -> None:
    with pytest.raises(ValueError, match="seed"):
        ltm.add(["x"], persona_id=None, user_id=store.user_id(), kind="seed")
    with pytest.raises(ValueError, match="seed"):
        ltm.add(["x"], persona_id=None, kind="turn")
    with pytest.raises(ValueError, match="unknown memory kind"):
        ltm.add(["x"], persona_id=None, kind="diary")


# -- searching ------------------------------------------------------------------------------------


def test_search_threshold_k_and_duplicates(ltm: LongTermMemory) -> None:
    ids = ltm.add(["the cat sat", "one dog ran", "I am at a bus", "extraordinary circumstances"],
                  persona_id=None, kind="seed")
    assert texts(ltm.search("big red fox", persona_id=None, k=5, min_score=0.9)) == ["the cat sat"]  # dog: same vector
    loose = ltm.search("big red fox", persona_id=None, k=5, min_score=0.1)
    assert texts(loose) == ["the cat sat", "I am at a bus"] and loose[1].score == pytest.approx(1 / 3, abs=1e-4)
    assert ids[3] not in [h.id for h in ltm.search("big red fox", persona_id=None, k=5, min_score=-1)][:2]
    assert ltm.search("unbelievable", persona_id=None, min_score=0.99) == []
    assert len(ltm.search("a b c", persona_id=None, k=1, min_score=-1)) == 1
    assert ltm.search("   ", persona_id=None) == [] and ltm.search("big red fox", persona_id=None, k=0) == []


def test_search_looks_further_when_duplicates_fill_the_first_candidates(ltm: LongTermMemory) -> None:
    ltm.add(THREES + ["the cat quietly"], persona_id=None, kind="seed")  # 2/sqrt(5) = 0.894 from the query
    hits = ltm.search("big red fox", persona_id=None, k=2, min_score=0.5)
    assert texts(hits) == ["the cat sat", "the cat quietly"]


def test_visible_history_is_never_recalled(ltm: LongTermMemory, store: Store) -> None:
    uid = store.user_id()
    conv = store.create_conversation(uid)
    msg = store.add_message(uid, conv.id, "assistant", "x")
    ltm.add(["the cat sat"], persona_id=None, user_id=uid, kind="turn", source_message_id=msg.id)
    ltm.add(["one dog ran quickly"], persona_id=None, user_id=uid, kind="turn")
    both = ltm.search("big red fox", persona_id=None, user_id=uid, min_score=0.5)
    assert texts(both) == ["the cat sat", "one dog ran quickly"]
    by_id = ltm.search("big red fox", persona_id=None, user_id=uid, min_score=0.5, exclude_message_ids=[msg.id])
    by_text = ltm.search("big red fox", persona_id=None, user_id=uid, min_score=0.5, exclude_texts=["THE cat  sat"])
    assert texts(by_id) == texts(by_text) == ["one dog ran quickly"]


def test_recency_weighting_changes_the_order(ltm: LongTermMemory, store: Store) -> None:
    old, new = ltm.add(["cats sit quietly", "dogs run happily"], persona_id=None, kind="seed")  # the same vector
    with store.session() as s:
        s.execute(update(Memory).where(Memory.id == old).values(created_at=datetime(2000, 1, 1)))
    plain = ltm.search("pigs eat happily", persona_id=None, min_score=0.5, k=1)
    assert [h.id for h in plain] == [old]  # equal scores: the older id wins the tie
    recent = ltm.search("pigs eat happily", persona_id=None, min_score=0.5, k=1, recency_half_life_days=30)
    assert [h.id for h in recent] == [new] and recent[0].score == pytest.approx(1.0, abs=1e-3)


def test_users_see_shared_seed_memories_but_not_each_others(ltm: LongTermMemory, store: Store) -> None:
    a, b = store.user_id("a"), store.user_id("b")
    pid = persona_of(store, a)
    seed = ltm.add(["the farm had cows"], persona_id=pid, kind="seed")[0]
    secret = ltm.add(["the pin is nine"], persona_id=pid, user_id=a, kind="turn")[0]
    elsewhere = ltm.add(["the pin is ten"], persona_id=None, user_id=a, kind="note")[0]  # a's, without the persona

    def sees(uid: int) -> set[int]:
        return {h.id for h in ltm.search("the farm had cows", persona_id=pid, user_id=uid, min_score=-1, k=10)}

    assert sees(a) == {seed, secret} and sees(b) == {seed}
    assert {m.id for m in ltm.list(pid, user_id=b)} == {seed}
    assert {m.id for m in ltm.list(pid, user_id=a)} == {seed, secret}
    assert elsewhere not in sees(a)
    assert ltm.count(pid, a) == 2 and ltm.count(pid, b) == 1 and ltm.has_any(pid, b)
    assert not ltm.has_any(persona_of(store, b, "Empty"), b) and ltm.has_any(None, a) and not ltm.has_any(None, b)


def test_edit_and_delete_are_scoped_to_the_owner(ltm: LongTermMemory, store: Store) -> None:
    a, b = store.user_id("a"), store.user_id("b")
    pid = persona_of(store, a)
    seed = ltm.add(["the farm had cows"], persona_id=pid, kind="seed")[0]
    secret = ltm.add(["the cat sat"], persona_id=pid, user_id=a, kind="note")[0]
    for memory_id in (secret, seed, 999_999):  # b's view: another user's memory, a persona of a's, nothing
        with pytest.raises(NotFound):
            ltm.delete(memory_id, user_id=b)
        with pytest.raises(NotFound):
            ltm.edit(memory_id, "mine now", user_id=b)
    with pytest.raises(KeepsakeError, match="empty"):
        ltm.edit(secret, "  ", user_id=a)
    ltm.edit(secret, "extraordinary circumstances", user_id=a)  # re-embedded: now far from the old query
    assert ltm.search("big red fox", persona_id=pid, user_id=a, min_score=0.9) == []
    found = ltm.search("circumstances extraordinary", persona_id=pid, user_id=a, min_score=0.9)
    assert [h.id for h in found] == [secret]
    ltm.edit(seed, "the farm had sheep", user_id=a)  # the persona's owner may correct its seed
    ltm.delete(secret, user_id=a)
    assert {m.text for m in ltm.list(pid, user_id=a)} == {"the farm had sheep"}
    assert ltm.index(pid, a).index.ntotal == 0


def test_delete_scope(ltm: LongTermMemory, store: Store) -> None:
    uid, other = store.user_id(), store.user_id("other")
    ltm.add(["a", "b c"], persona_id=None, user_id=uid, kind="note")
    ltm.add(["a"], persona_id=None, user_id=other, kind="note")
    assert ltm.delete_scope(None, uid) == 2
    assert ltm.search("a", persona_id=None, user_id=uid, min_score=-1) == []
    assert texts(ltm.search("a", persona_id=None, user_id=other, min_score=-1)) == ["a"]


def test_retriever_returns_documents(ltm: LongTermMemory, store: Store) -> None:
    uid = store.user_id()
    ids = ltm.add(["the cat sat", "extraordinary circumstances"], persona_id=None, user_id=uid, kind="note")
    docs = MemoryRetriever(memory=ltm, user_id=uid, k=3, min_score=0.9).invoke("big red fox")
    assert len(docs) == 1 and isinstance(docs[0], Document) and docs[0].page_content == "the cat sat"
    assert docs[0].metadata["id"] == ids[0] and docs[0].metadata["kind"] == "note"
    assert docs[0].metadata["score"] == pytest.approx(1.0)
    assert datetime.fromisoformat(docs[0].metadata["created_at"]) <= datetime.now()
    assert MemoryRetriever(memory=ltm, user_id=store.user_id("b"), min_score=0.9).invoke("big red fox") == []


# -- the index as a cache of the database ---------------------------------------------------------


def test_index_is_persisted_and_reloaded(ltm: LongTermMemory, store: Store, keepsake_home: Path) -> None:
    ltm.add(["the cat sat", "extraordinary circumstances"], persona_id=None, kind="seed")
    ltm.flush()
    files = sorted(p.name for p in (keepsake_home / "index").iterdir())
    assert files == ["persona-none_user-shared.faiss", "persona-none_user-shared.json"]
    meta = json.loads((keepsake_home / "index" / "persona-none_user-shared.json").read_text())
    assert (meta["embedder"], meta["dim"], meta["count"]) == ("fake:word-length", 16, 2)
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert fresh.index(None, None).rebuilt is False and fresh.index(None, None).index.ntotal == 2
    assert texts(fresh.search("big red fox", persona_id=None, min_score=0.9)) == ["the cat sat"]


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_missing_or_broken_index_file_is_rebuilt(damage: str, ltm: LongTermMemory, store: Store,
                                                  keepsake_home: Path) -> None:
    ltm.add(["the cat sat"], persona_id=None, kind="seed")
    ltm.flush()
    path = keepsake_home / "index" / "persona-none_user-shared.faiss"
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:40])
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert texts(fresh.search("big red fox", persona_id=None, min_score=0.9)) == ["the cat sat"]
    assert fresh.index(None, None).rebuilt is True and path.stat().st_size > 40


def test_index_saved_before_rows_changed_is_rebuilt_on_open(ltm: LongTermMemory, store: Store,
                                                            keepsake_home: Path) -> None:
    ids = ltm.add(["the cat sat", "I am at a bus"], persona_id=None, kind="seed")
    ltm.flush()
    with store.session() as s:  # behind the index's back: one row gone, one row added
        s.execute(delete(Memory).where(Memory.id == ids[0]))
    insert_behind_its_back(store, "extraordinary circumstances")
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert fresh.index(None, None).rebuilt is True and fresh.index(None, None).index.ntotal == 2
    found = fresh.search("circumstances extraordinary", persona_id=None, min_score=0.9)
    assert texts(found) == ["extraordinary circumstances"]


def test_live_index_notices_changes_behind_its_back(ltm: LongTermMemory, store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "CHECK_EVERY_S", 0.0)
    cat = ltm.add(["the cat sat"], persona_id=None, kind="seed")[0]
    index = ltm.index(None, None)
    index.rebuilt = False
    insert_behind_its_back(store, "extraordinary circumstances")
    ltm.search("circumstances extraordinary", persona_id=None)  # answers at once; starts a check in the background
    index.wait_for_check()
    assert index.rebuilt and index.index.ntotal == 2 and index.check_error is None
    found = ltm.search("circumstances extraordinary", persona_id=None, min_score=0.9)
    assert texts(found) == ["extraordinary circumstances"]
    index.wait_for_check()  # the check this search started: the next one must start after the delete
    with store.session() as s:  # another process deletes a row: never returned, even before the check drops it
        s.execute(delete(Memory).where(Memory.id == cat))
    assert ltm.search("big red fox", persona_id=None, min_score=0.9) == []
    index.wait_for_check()
    assert index.index.ntotal == 1


def test_changes_through_this_process_cause_no_rebuild(ltm: LongTermMemory, store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "CHECK_EVERY_S", 0.0)
    uid = store.user_id()
    index = ltm.index(None, uid)
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                ltm.add([f"note {n} {'x' * i}"], persona_id=None, user_id=uid)
                ltm.search("note", persona_id=None, user_id=uid)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    index.rebuilt = False
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    index.wait_for_check()
    assert errors == [] and index.check_error is None and not index.rebuilt
    assert index.index.ntotal == ltm.count(None, uid) == 30


def test_stored_vectors_of_another_model_are_embedded_again(ltm: LongTermMemory, store: Store,
                                                            keepsake_home: Path) -> None:
    ltm.add(["the cat sat", "extraordinary circumstances"], persona_id=None, kind="seed")
    ltm.flush()

    class Mirrored(WordLengthEmbedder):  # same size, different vectors: a model switch
        name = "fake:mirrored"

        def embed(self, texts: list[str]) -> np.ndarray:
            return super().embed(texts)[:, ::-1].copy()

    switched = LongTermMemory(store, Mirrored(), keepsake_home)
    assert switched.index(None, None).rebuilt is True
    assert texts(switched.search("big red fox", persona_id=None, min_score=0.9)) == ["the cat sat"]
    with store.session() as s:
        stored = np.frombuffer(s.scalar(select(Memory.vector).where(Memory.text == "the cat sat")), dtype=np.float32)
    assert np.array_equal(stored, Mirrored().embed(["the cat sat"])[0])


def test_rows_stored_without_vectors_are_embedded_at_the_next_build(ltm: LongTermMemory, store: Store,
                                                                    keepsake_home: Path) -> None:
    ltm.add(["the cat sat"], persona_id=None, kind="seed", embed=False)
    with store.session() as s:
        assert s.scalar(select(Memory.vector)) is None
    fresh = LongTermMemory(store, WordLengthEmbedder(), keepsake_home)
    assert texts(fresh.search("big red fox", persona_id=None, min_score=0.9)) == ["the cat sat"]
    with store.session() as s:
        assert len(s.scalar(select(Memory.vector))) == 16 * 4
    assert fresh.count(None) == 1


# -- with the real embedding model ----------------------------------------------------------------

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
QUESTIONS = {  # phrased unlike the memory they should find
    "What was the name of your dog?": 0,
    "Were you in the navy during the war?": 1,
    "What flowers did grandma plant?": 3,
    "Which tune did you like to sing?": 4,
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
    misses = {}
    for question, expected in QUESTIONS.items():
        top3 = ltm.search(question, persona_id=None, k=3, min_score=0.0)
        if ids[expected] not in [h.id for h in top3]:
            misses[question] = texts(top3)
    assert misses == {}
    # The default threshold keeps unrelated questions out.
    assert ltm.search("How do I configure a Kubernetes ingress controller?", persona_id=None, min_score=0.3) == []
