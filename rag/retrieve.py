"""Query → ranked passages: dense (FAISS), keyword (BM25) or a fusion of both, then merging
of overlapping hits and per-article diversity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .arabic import normalize_arabic
from .store import IndexStore
from .types import Chunk, Passage

if TYPE_CHECKING:
    from .keywords import KeywordIndex

# Candidates taken from each retriever before fusion: deep enough that a chunk ranked low
# by one side but high by the other is still seen.
POOL = 50
# Hybrid = W_DENSE_FUSION × dense + (1 − W_DENSE_FUSION) × BM25, each min-max scaled over the
# candidate pool. Set on ARCD (benchmarks/README.md: fusion weights and RRF compared).
W_DENSE_FUSION = 0.5
RRF_K = 60
# At most this many passages of one article among the top k (the rest move down), so the
# answerer sees more than near-copies of one story.
MAX_PER_DOC = 2


@dataclass(frozen=True)
class Candidate:
    """A chunk with the evidence of both retrievers."""

    pos: int
    score: float  # the ranking score of the chosen mode
    dense: float
    keyword: float | None


def dense_candidates(store: IndexStore, query_vec: np.ndarray, k: int) -> list[Candidate]:
    """Top-k chunks by cosine."""
    return [Candidate(pos, s, s, None) for pos, s in store.search(query_vec, k)]


def _cosines(store: IndexStore, query_vec: np.ndarray, positions: Sequence[int]) -> np.ndarray:
    vecs = store.index.reconstruct_batch(np.asarray(positions, dtype=np.int64))
    return np.asarray(vecs @ np.asarray(query_vec, dtype=np.float32), dtype=np.float64)


def keyword_candidates(store: IndexStore, keywords: KeywordIndex, query_vec: np.ndarray, question: str,
                       k: int) -> list[Candidate]:
    """Top-k chunks by BM25 (chunks sharing no keyword with the question are never returned)."""
    hits = keywords.search(question, k)
    if not hits:
        return []
    cos = _cosines(store, query_vec, [p for p, _ in hits])
    return [Candidate(p, s, float(c), s) for (p, s), c in zip(hits, cos, strict=True)]


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def hybrid_candidates(store: IndexStore, keywords: KeywordIndex, query_vec: np.ndarray, question: str, k: int,
                      fusion: str = "score", weight: float = W_DENSE_FUSION) -> list[Candidate]:
    """Union of the dense and BM25 pools, fused by min-max score combination or by reciprocal rank."""
    from .keywords import analyze_for_bm25

    dense = store.search(query_vec, k)
    bm25_all, matched = keywords.scores(analyze_for_bm25(question))
    order = np.argsort(-bm25_all, kind="stable")[:k]
    kw_top = [int(p) for p in order if matched[p]]
    positions = list(dict.fromkeys([p for p, _ in dense] + kw_top))
    if not positions:
        return []
    cos = _cosines(store, query_vec, positions)
    bm = bm25_all[positions].astype(np.float64)
    if fusion == "rrf":
        d_rank = {p: r for r, (p, _) in enumerate(dense)}
        k_rank = {p: r for r, p in enumerate(kw_top)}
        fused = np.array([
            (1 / (RRF_K + d_rank[p] + 1) if p in d_rank else 0.0) + (1 / (RRF_K + k_rank[p] + 1) if p in k_rank else 0.0)
            for p in positions
        ])
    else:
        fused = weight * _minmax(cos) + (1 - weight) * _minmax(bm)
    out = [Candidate(p, float(f), float(c), float(b)) for p, f, c, b in zip(positions, fused, cos, bm, strict=True)]
    out.sort(key=lambda c: -c.score)
    return out


def to_passages(store: IndexStore, hits: Sequence[Candidate], k: int, max_per_doc: int = MAX_PER_DOC) -> list[Passage]:
    """Turn ranked chunk candidates into at most ``k`` passages.

    Overlapping or adjacent chunks of one article (chunking overlaps them on purpose) are
    merged into one passage spanning both, keeping the better scores; a passage whose text
    repeats one already kept (the same wire story on two sites) is dropped; an article
    gets at most ``max_per_doc`` of the top places while other articles have candidates.
    """
    kept: list[tuple[Chunk, Candidate, list[str]]] = []
    seen_text: dict[str, int] = {}  # normalised text → index in kept of the passage showing it
    for cand in hits:
        chunk = store.chunks[cand.pos]
        merged = False
        for n, (other, best, dups) in enumerate(kept):
            if other.doc_id == chunk.doc_id and chunk.start <= other.end + 1 and other.start <= chunk.end + 1:
                kept[n] = (_union(store, other, chunk), best if best.score >= cand.score else cand, dups)
                merged = True
                break
        if merged:
            continue
        key = normalize_arabic(chunk.text)
        if key in seen_text:
            first = kept[seen_text[key]]
            if chunk.doc_id != first[0].doc_id and chunk.doc_id not in first[2]:
                first[2].append(chunk.doc_id)
            continue
        seen_text[key] = len(kept)
        kept.append((chunk, cand, []))
        if len(kept) >= k * 2:
            break
    ranked: list[tuple[Chunk, Candidate, list[str]]] = []
    overflow: list[tuple[Chunk, Candidate, list[str]]] = []
    per_doc: dict[str, int] = {}
    for item in kept:
        doc_id = item[0].doc_id
        if per_doc.get(doc_id, 0) < max_per_doc:
            per_doc[doc_id] = per_doc.get(doc_id, 0) + 1
            ranked.append(item)
        else:
            overflow.append(item)
    passages = []
    for rank, (chunk, cand, dups) in enumerate((ranked + overflow)[:k], start=1):
        doc = store.documents[chunk.doc_id]
        passages.append(Passage(chunk, cand.score, doc.title, doc.date, doc.source, doc.author, rank,
                                dense_score=cand.dense, keyword_score=cand.keyword, also_in=tuple(dups)))
    return passages


def _union(store: IndexStore, a: Chunk, b: Chunk) -> Chunk:
    start, end = min(a.start, b.start), max(a.end, b.end)
    text = store.documents[a.doc_id].text[start:end]
    first = a if a.start <= b.start else b
    return Chunk(first.chunk_id, a.doc_id, text, start, end, min(a.ordinal, b.ordinal))


def retrieve(store: IndexStore, query_vec: np.ndarray, k: int, *, question: str = "", mode: str = "dense",
             keywords: KeywordIndex | None = None, fusion: str | tuple[str, float] = "score") -> list[Passage]:
    """Top-k passages for a question in the given mode (``dense``, ``keyword`` or ``hybrid``)."""
    pool = max(POOL, 3 * k)
    if mode == "dense" or keywords is None:
        hits = dense_candidates(store, query_vec, pool)
    elif mode == "keyword":
        hits = keyword_candidates(store, keywords, query_vec, question, pool)
    else:
        weight = W_DENSE_FUSION
        if isinstance(fusion, tuple):  # ("score", weight): an explicit weight, for calibration sweeps
            fusion, weight = fusion
        hits = hybrid_candidates(store, keywords, query_vec, question, pool, fusion=fusion, weight=weight)
    return to_passages(store, hits, k)
