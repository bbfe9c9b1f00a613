"""The memory and the embedder used through LangChain's interfaces."""

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from memory.memories import LongTermMemory
from memory.retriever import KeepsakeEmbeddings, MemoryRetriever


def test_retriever_in_an_lcel_chain(store, keepsake_home, real_embedder) -> None:  # noqa: ANN001
    ltm = LongTermMemory(store, real_embedder, keepsake_home)
    uid = store.user_id()
    ltm.add(["Grandpa's dog was called Biscuit.", "Grandpa served on a minesweeper in 1944.",
             "Grandma grew sweet peas."], persona_id=None, user_id=uid, kind="note")
    retriever = MemoryRetriever(memory=ltm, user_id=uid, k=1, min_score=0.2)
    docs = retriever.invoke("What was the dog's name?")
    assert isinstance(docs[0], Document) and "Biscuit" in docs[0].page_content
    assert docs[0].metadata["kind"] == "note" and docs[0].metadata["score"] > 0.2
    chain = retriever | RunnableLambda(lambda ds: " / ".join(d.page_content for d in ds))
    assert "minesweeper" in chain.invoke("Was he in the navy?")
    assert MemoryRetriever(memory=ltm, user_id=store.user_id("other")).invoke("dog") == []


def test_embeddings_interface(real_embedder) -> None:  # noqa: ANN001
    emb = KeepsakeEmbeddings(real_embedder)
    docs = emb.embed_documents(["a cat", "a kitten", "income tax"])
    q = emb.embed_query("a small cat")
    assert len(docs) == 3 and len(q) == 384
    sims = [sum(a * b for a, b in zip(q, d)) for d in docs]
    assert sims[1] > sims[2] and sims[0] > sims[2]
