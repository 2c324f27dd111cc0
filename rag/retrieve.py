"""Query → ranked passages: dense search, then merging of overlapping hits from one article."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .arabic import normalize_arabic
from .store import IndexStore
from .types import Chunk, Passage

# Ask FAISS for more than k: merging neighbours of one article shrinks the list.
OVERSAMPLE = 3


def dense_search(store: IndexStore, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk position, cosine) pairs, best first."""
    return store.search(query_vec, k)


def to_passages(store: IndexStore, hits: Sequence[tuple[int, float]], k: int) -> list[Passage]:
    """Turn ranked chunk hits into at most ``k`` passages.

    Overlapping or adjacent chunks of one article (chunking overlaps them on purpose) are
    merged into one passage spanning both, scored by the better of the two; a passage
    whose text repeats one already kept (the same wire story on two sites) is dropped.
    """
    kept: list[tuple[Chunk, float]] = []
    seen_text: set[str] = set()
    for pos, score in hits:
        chunk = store.chunks[pos]
        merged = False
        for n, (other, best) in enumerate(kept):
            if other.doc_id == chunk.doc_id and chunk.start <= other.end + 1 and other.start <= chunk.end + 1:
                kept[n] = (_union(store, other, chunk), max(best, score))
                merged = True
                break
        if merged:
            continue
        key = normalize_arabic(chunk.text)
        if key in seen_text:
            continue
        seen_text.add(key)
        kept.append((chunk, score))
        if len(kept) >= k:
            break
    passages = []
    for rank, (chunk, score) in enumerate(kept, start=1):
        doc = store.documents[chunk.doc_id]
        passages.append(Passage(chunk, score, doc.title, doc.date, doc.source, doc.author, rank))
    return passages


def _union(store: IndexStore, a: Chunk, b: Chunk) -> Chunk:
    start, end = min(a.start, b.start), max(a.end, b.end)
    text = store.documents[a.doc_id].text[start:end]
    return Chunk(a.chunk_id if a.start <= b.start else b.chunk_id, a.doc_id, text, start, end, min(a.ordinal, b.ordinal))


def retrieve(store: IndexStore, query_vec: np.ndarray, k: int) -> list[Passage]:
    """Top-k passages for a query vector."""
    return to_passages(store, dense_search(store, query_vec, k * OVERSAMPLE), k)
