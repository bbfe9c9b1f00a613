"""LangChain interop: the long-term memory as a retriever, an embedder as ``Embeddings``.

    retriever = MemoryRetriever(memory=service.memory, persona_id=None, user_id=uid, k=3)
    retriever.invoke("what is my dog called?")   # -> [Document(page_content=..., metadata={...})]

Both are thin: the retriever runs the same ``LongTermMemory.search`` as the chat (same scope rules,
threshold and de-duplication), and the embeddings return the same unit vectors the indexes hold.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from memory.embedder import Embedder
from memory.memories import LongTermMemory


class KeepsakeEmbeddings(Embeddings):
    """Any Keepsake embedder (the packaged all-MiniLM-L6-v2 by default) as LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0].tolist()


class MemoryRetriever(BaseRetriever):
    """Recalls what one user may see of a persona: its seed memories and the user's own."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: LongTermMemory
    persona_id: int | None = None
    user_id: int | None = None
    k: int = 4
    min_score: float = 0.3
    recency_half_life_days: float | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        hits = self.memory.search(query, persona_id=self.persona_id, user_id=self.user_id, k=self.k,
                                  min_score=self.min_score, recency_half_life_days=self.recency_half_life_days)
        return [Document(page_content=h.text, metadata={"id": h.id, "kind": h.kind, "score": h.score,
                                                        "created_at": h.created_at.isoformat()}) for h in hits]
