"""LangChain adapter: the pipeline's retrieval as a `BaseRetriever` (imported only when asked for)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

if TYPE_CHECKING:
    from .pipeline import RAG


class RagRetriever(BaseRetriever):
    """Returns the top-k passages as LangChain Documents with citation metadata."""

    rag: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        out = []
        for p in self.rag.retrieve(query, self.k):
            out.append(
                LCDocument(
                    page_content=p.chunk.text,
                    metadata={
                        "doc_id": p.chunk.doc_id,
                        "chunk_id": p.chunk.chunk_id,
                        "title": p.title,
                        "date": p.date,
                        "source": p.source,
                        "start": p.chunk.start,
                        "end": p.chunk.end,
                        "score": p.score,
                        "rank": p.rank,
                    },
                )
            )
        return out


def make_retriever(rag: RAG, k: int) -> RagRetriever:
    """Wrap a RAG pipeline as a LangChain retriever."""
    return RagRetriever(rag=rag, k=k)
