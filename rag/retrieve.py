"""Query → ranked passages: dense (FAISS), keyword (BM25) or a fusion of both, then merging
of overlapping hits and per-article diversity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .arabic import normalize_arabic
from .errors import ConfigError
from .index.local import IndexStore
from .types import Chunk, Passage

if TYPE_CHECKING:
    from .index.keywords import KeywordIndex

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
    return store.cosines(query_vec, positions)


def keyword_candidates(
    store: IndexStore, keywords: KeywordIndex, query_vec: np.ndarray, question: str, k: int
) -> list[Candidate]:
    """Top-k chunks by BM25 (chunks sharing no keyword with the question are never returned); an
    English word counts as the best of its Arabic renderings, as in hybrid search."""
    from .crosslingual import translated_terms
    from .index.keywords import analyze_for_bm25

    hits = keywords.top(*keywords.scores(analyze_for_bm25(question), translated_terms(question)), k) if k > 0 else []
    if not hits:
        return []
    cos = _cosines(store, query_vec, [p for p, _ in hits])
    return [Candidate(p, s, float(c), s) for (p, s), c in zip(hits, cos, strict=True)]


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def hybrid_candidates(
    store: IndexStore,
    keywords: KeywordIndex,
    query_vec: np.ndarray,
    question: str,
    k: int,
    fusion: str = "score",
    weight: float = W_DENSE_FUSION,
) -> list[Candidate]:
    """Union of the dense and BM25 pools, fused by min-max score combination or by reciprocal rank."""
    from .crosslingual import fusion_weight, latin_names, name_scores, translated_terms, with_names
    from .index.keywords import analyze_for_bm25

    # A question partly or wholly in another script: BM25 reads its Arabic words and the glossary's
    # Arabic renderings of its English words, the dense (cross-lingual) side weighs more the less
    # of it BM25 can read, and names add to the keyword evidence (rag/crosslingual.py).
    weight = fusion_weight(question, weight)
    dense = store.search(query_vec, k)
    # An English word counts once, as the best of its Arabic renderings.
    bm25_all, matched = keywords.scores(analyze_for_bm25(question), translated_terms(question))
    kw_top = [p for p, _ in keywords.top(bm25_all, matched, k)]
    positions = list(dict.fromkeys([p for p, _ in dense] + kw_top))
    if not positions:
        return []
    cos = _cosines(store, query_vec, positions)
    bm = bm25_all[positions].astype(np.float64)
    if latin_names(question):  # names matched by skeleton join the keyword evidence
        names = np.asarray(name_scores(question, [store.chunks[p].text for p in positions]), dtype=np.float64)
        bm = with_names(bm, names)
    if fusion not in ("score", "rrf"):
        raise ConfigError(f"fusion must be 'score' or 'rrf', not {fusion!r}")
    if fusion == "rrf":
        d_rank = {p: r for r, (p, _) in enumerate(dense)}
        k_rank = {p: r for r, p in enumerate(kw_top)}
        fused = np.array(
            [
                (1 / (RRF_K + d_rank[p] + 1) if p in d_rank else 0.0)
                + (1 / (RRF_K + k_rank[p] + 1) if p in k_rank else 0.0)
                for p in positions
            ]
        )
        return ranked(positions, fused, cos, bm)
    return fuse_scores(positions, cos, bm, weight)


def fuse_scores(positions: Sequence[int], cos: np.ndarray, bm: np.ndarray, weight: float) -> list[Candidate]:
    """The pool ranked by ``weight`` × min-max-scaled cosine + the rest × min-max-scaled keyword evidence."""
    return ranked(positions, weight * _minmax(cos) + (1 - weight) * _minmax(bm), cos, bm)


def ranked(positions: Sequence[int], fused: np.ndarray, cos: np.ndarray, bm: np.ndarray) -> list[Candidate]:
    """The pool's candidates by fused score, best first (ties in pool order)."""
    out = [Candidate(p, float(f), float(c), float(b)) for p, f, c, b in zip(positions, fused, cos, bm, strict=True)]
    out.sort(key=lambda c: -c.score)
    return out


@dataclass
class _Group:
    """Internal, mutable while passages are assembled: a span of one article and its evidence."""

    chunk: Chunk
    best: Candidate
    also_in: list[str]


def to_passages(store: IndexStore, hits: Sequence[Candidate], k: int, max_per_doc: int = MAX_PER_DOC) -> list[Passage]:
    """Turn ranked chunk candidates into at most ``k`` passages.

    Overlapping or adjacent chunks of one article (chunking overlaps them on purpose) are
    merged into one passage spanning them, keeping the better evidence; a passage whose text
    repeats one already kept (the same wire story on two sites) is dropped and its article
    listed in ``also_in``; an article gets at most ``max_per_doc`` of the top places while
    other articles have candidates.
    """
    groups: list[_Group] = []
    by_text: dict[str, _Group] = {}
    for cand in hits:
        chunk = store.chunks[cand.pos]
        touching = [
            g
            for g in groups
            if g.chunk.doc_id == chunk.doc_id and chunk.start <= g.chunk.end + 1 and g.chunk.start <= chunk.end + 1
        ]
        if touching:
            # Kept spans of one article never touch each other, so only this chunk can join
            # them; one bridging several joins them all into the best-ranked.
            into = touching[0]
            into.chunk = _union(store, into.chunk, chunk)
            into.best = into.best if into.best.score >= cand.score else cand
            for g in touching[1:]:
                into.chunk = _union(store, into.chunk, g.chunk)
                into.best = into.best if into.best.score >= g.best.score else g.best
                into.also_in += [d for d in g.also_in if d not in into.also_in]
                groups.remove(g)
            continue
        key = normalize_arabic(chunk.text)
        first = by_text.get(key)
        if first is not None and first in groups:
            if chunk.doc_id != first.chunk.doc_id and chunk.doc_id not in first.also_in:
                first.also_in.append(chunk.doc_id)
            continue
        group = _Group(chunk, cand, [])
        by_text[key] = group
        groups.append(group)
    ranked: list[_Group] = []
    overflow: list[_Group] = []
    per_doc: dict[str, int] = {}
    for g in groups:
        if per_doc.get(g.chunk.doc_id, 0) < max_per_doc:
            per_doc[g.chunk.doc_id] = per_doc.get(g.chunk.doc_id, 0) + 1
            ranked.append(g)
        else:
            overflow.append(g)
    passages = []
    for rank, g in enumerate((ranked + overflow)[:k], start=1):
        doc = store.documents[g.chunk.doc_id]
        passages.append(
            Passage(
                g.chunk,
                g.best.score,
                doc.title,
                doc.date,
                doc.source,
                doc.author,
                rank,
                dense_score=g.best.dense,
                keyword_score=g.best.keyword,
                also_in=tuple(g.also_in),
            )
        )
    return passages


def _union(store: IndexStore, a: Chunk, b: Chunk) -> Chunk:
    start, end = min(a.start, b.start), max(a.end, b.end)
    text = store.documents[a.doc_id].text[start:end]
    first = a if a.start <= b.start else b
    return Chunk(first.chunk_id, a.doc_id, text, start, end, min(a.ordinal, b.ordinal))


def retrieve(
    store: IndexStore,
    query_vec: np.ndarray,
    k: int,
    *,
    question: str = "",
    mode: str = "dense",
    keywords: KeywordIndex | None = None,
    fusion: str = "score",
    weight: float = W_DENSE_FUSION,
) -> list[Passage]:
    """Top-k passages for a question in the given mode (``dense``, ``keyword`` or ``hybrid``)."""
    pool = max(POOL, 3 * k)
    if mode not in ("dense", "keyword", "hybrid"):
        raise ConfigError(f"retrieval mode must be dense, keyword or hybrid, not {mode!r}")
    if keywords is not None and isinstance(store, IndexStore):  # a given keyword index (studies, tests)
        if mode == "keyword":
            hits = keyword_candidates(store, keywords, query_vec, question, pool)
        elif mode == "hybrid":
            hits = hybrid_candidates(store, keywords, query_vec, question, pool, fusion=fusion, weight=weight)
        else:
            hits = dense_candidates(store, query_vec, pool)
    else:  # the backend searches (the local index, or PostgreSQL in one SQL statement)
        hits = store.candidates(mode, query_vec, question, pool, fusion=fusion, weight=weight)
    return to_passages(store, hits, k)
