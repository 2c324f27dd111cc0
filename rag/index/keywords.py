"""The keyword side of the index: BM25 over title + chunk text, persisted next to FAISS (no pickle).

Layout of ``<generation>/keywords/`` (bm25s's own file names, so ``bm25s.BM25.load`` reads it too)::

    params.index.json        BM25 variant and parameters, number of chunks
    vocab.index.json         term → column
    data.csc.index.npy       precomputed BM25 weight of each (term, chunk) pair, CSC by term
    indices.csc.index.npy    chunk position of each weight
    indptr.csc.index.npy     where each term's column starts
    nonoccurrence_array.index.npy   (BM25L / BM25+ only) the score of a term a chunk lacks
    analysis.json            analyzer name, chunk count and a digest of the chunk ids

The index is rebuilt from all chunks at every build (2-4 s for 10k chunks, nearly all of it
Arabic analysis; embedding them takes minutes), so it always holds exactly the generation's
chunks in ``IndexStore.chunks`` order, whichever articles were re-embedded.
bm25s computes the weights at build time; a query only sums a few precomputed columns, which
numpy does directly: importing bm25s pulls in scipy (~0.4 s) that ``rag ask`` need not pay.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..arabic import analyze
from ..errors import IndexCorruptError
from ..types import Chunk, Document, TermStats

TERM_STATS = "term_stats.json"
KEYWORDS_DIR = "keywords"
ANALYSIS = "analysis.json"
FORMAT_VERSION = 1
# Change it whenever analyze_for_bm25 (or rag.arabic.analyze) changes what it emits: an index
# analysed differently must be rebuilt, not queried with mismatching terms.
ANALYZER = "snowball-stopwords/v3"

_DATA, _INDICES, _INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
_VOCAB, _PARAMS, _NONOCC = "vocab.index.json", "params.index.json", "nonoccurrence_array.index.npy"


# ---- analysis ------------------------------------------------------------------------------
def analyze_for_bm25(text: str) -> list[str]:
    """BM25 terms of a chunk or a question: ``rag.arabic.analyze`` (stopwords out, Snowball stems, normalised).

    benchmarks/README.md compares it with no stemming, Tashaphyne, ISRI, Light10, added
    surface forms and character 4-grams: none retrieves ARCD passages clearly better, and ISRI
    (the only one level with it) costs ~2 s of NLTK import on `rag ask`.
    """
    return analyze(text)


def keyword_text(title: str, chunk_text: str) -> str:
    """What BM25 indexes for a chunk: its article title helps questions find the article's passages."""
    return f"{title}\n{chunk_text}" if title else chunk_text


# ---- the index -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BM25Params:
    """A BM25 variant as bm25s names it: ``lucene``, ``robertson``, ``atire``, ``bm25l`` or ``bm25+``."""

    method: str = "lucene"
    k1: float = 1.2
    b: float = 0.75
    delta: float = 0.5  # BM25L / BM25+ only


# Chosen on ARCD (benchmarks/README.md): Lucene's BM25 with its own default k1, b.
DEFAULT_BM25 = BM25Params()


class KeywordIndex:
    """BM25 weights over the chunks of one index generation; ``search`` ranks chunk positions."""

    def __init__(
        self,
        vocab: dict[str, int],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        n_chunks: int,
        params: BM25Params = DEFAULT_BM25,
        nonoccurrence: np.ndarray | None = None,
        analyzer: str = ANALYZER,
        chunks_digest: str = "",
    ) -> None:
        self.vocab = vocab
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.n_chunks = n_chunks
        self.params = params
        self.nonoccurrence = nonoccurrence
        self.analyzer = analyzer
        self.chunks_digest = chunks_digest

    # ---- building ------------------------------------------------------------------------
    @classmethod
    def build(
        cls, chunk_terms: Sequence[Sequence[str]], params: BM25Params = DEFAULT_BM25, chunks_digest: str = ""
    ) -> KeywordIndex:
        """Index already-analysed chunks (one term list per chunk, in store order) with bm25s."""
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in terms] for terms in chunk_terms]
        n = len(ids)
        if not vocab:  # no chunks, or none with a term: bm25s cannot index that
            empty = np.zeros(0, np.float32)
            nonocc = empty if params.method in ("bm25l", "bm25+") else None
            return cls(
                {}, empty, np.zeros(0, np.int32), np.zeros(1, np.int64), n, params, nonocc, chunks_digest=chunks_digest
            )
        import bm25s  # build time only: it imports scipy

        bm25 = bm25s.BM25(k1=params.k1, b=params.b, delta=params.delta, method=params.method)
        # A (token ids, vocab) tuple keeps our first-seen term order: the files come out the
        # same on every build, where bm25s's own vocabulary follows set order.
        bm25.index((ids, vocab), create_empty_token=False, show_progress=False)
        scores = bm25.scores
        return cls(
            vocab,
            np.asarray(scores["data"], np.float32),
            np.asarray(scores["indices"], np.int32),
            np.asarray(scores["indptr"], np.int64),
            n,
            params,
            None if bm25.nonoccurrence_array is None else np.asarray(bm25.nonoccurrence_array, np.float32),
            chunks_digest=chunks_digest,
        )

    def save(self, folder: Path) -> None:
        """Write the index as .npy + .json files (bm25s's layout, no pickle), each fsynced."""
        folder.mkdir(parents=True, exist_ok=True)
        _save_npy(folder / _DATA, self.data)
        _save_npy(folder / _INDICES, self.indices)
        _save_npy(folder / _INDPTR, self.indptr)
        if self.nonoccurrence is not None:
            _save_npy(folder / _NONOCC, self.nonoccurrence)
        params = {
            **asdict(self.params),
            "idf_method": self.params.method,
            "dtype": "float32",
            "int_dtype": "int32",
            "num_docs": self.n_chunks,
            "backend": "numpy",
        }
        _save_json(folder / _PARAMS, params)
        _save_json(folder / _VOCAB, self.vocab)
        _save_json(
            folder / ANALYSIS,
            {
                "format_version": FORMAT_VERSION,
                "analyzer": self.analyzer,
                "n_chunks": self.n_chunks,
                "chunks_sha256": self.chunks_digest,
            },
        )

    # ---- reading -------------------------------------------------------------------------
    @classmethod
    def load(
        cls, gen: Path, chunks: Sequence[Chunk] | None = None, read: Callable[[str], bytes] | None = None
    ) -> KeywordIndex:
        """Open ``gen/keywords``; with ``chunks``, also check it indexes exactly those chunks.

        ``read(name)`` returns a file of the generation (the index store passes one that checks
        each file against the manifest's checksum); by default files are read as they are.
        """
        folder = gen / KEYWORDS_DIR
        reader = read or (lambda name: (gen / name).read_bytes())

        def file(name: str) -> bytes:
            return reader(f"{KEYWORDS_DIR}/{name}")

        try:
            meta = json.loads(file(ANALYSIS))
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"the index in {gen} has no keyword index: run `rag index --rebuild`") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read {folder / ANALYSIS} ({exc}): run `rag index --rebuild`") from exc
        if meta.get("format_version") != FORMAT_VERSION or meta.get("analyzer") != ANALYZER:
            raise IndexCorruptError(
                f"the keyword index in {gen} was built by another version ({meta.get('analyzer')}): "
                "run `rag index --rebuild`"
            )
        try:
            raw = json.loads(file(_PARAMS))
            vocab = json.loads(file(_VOCAB))
            params = BM25Params(raw["method"], float(raw["k1"]), float(raw["b"]), float(raw["delta"]))
            nonocc = _load_npy(file(_NONOCC)) if params.method in ("bm25l", "bm25+") else None
            index = cls(
                vocab,
                _load_npy(file(_DATA)),
                _load_npy(file(_INDICES)),
                _load_npy(file(_INDPTR)),
                int(raw["num_docs"]),
                params,
                nonocc,
                meta["analyzer"],
                str(meta.get("chunks_sha256", "")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"keyword index in {folder} is damaged ({exc}): run `rag index --rebuild`") from exc
        n_terms = len(index.indptr) - 1
        if (
            index.n_chunks != meta.get("n_chunks")
            or len(index.data) != len(index.indices)
            or len(index.data) != int(index.indptr[-1])
            or len(vocab) != n_terms
        ):
            raise IndexCorruptError(f"keyword index in {folder} is inconsistent: run `rag index --rebuild`")
        if chunks is not None and (len(chunks) != index.n_chunks or chunks_sha256(chunks) != index.chunks_digest):
            raise IndexCorruptError(f"keyword index in {folder} does not match the index's chunks: run `rag index`")
        return index

    # ---- searching -----------------------------------------------------------------------
    def scores(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every chunk for analysed query terms, and which chunks share at least one term."""
        scores = np.zeros(self.n_chunks, dtype=np.float32)
        matched = np.zeros(self.n_chunks, dtype=bool)
        # A repeated query term counts again, as in Lucene and bm25s.
        for t in terms:
            col = self.vocab.get(t)
            if col is None:
                continue
            lo, hi = int(self.indptr[col]), int(self.indptr[col + 1])
            rows = self.indices[lo:hi]
            scores[rows] += self.data[lo:hi]  # rows are distinct within one term's column
            matched[rows] = True
            if self.nonoccurrence is not None:
                scores += self.nonoccurrence[col]
        return scores, matched

    def search_terms(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position, BM25 score) for analysed query terms; chunks sharing no term are left out."""
        if k <= 0 or not self.n_chunks:
            return []
        scores, matched = self.scores(terms)
        hits = np.flatnonzero(matched)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        # Best first; equal scores in store order, so a ranking never depends on argpartition.
        hits = hits[np.lexsort((hits, -scores[hits]))]
        return [(int(i), float(scores[i])) for i in hits]

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position in store order, BM25 score) for a question, best first."""
        return self.search_terms(analyze_for_bm25(query), k)


def chunks_sha256(chunks: Sequence[Chunk]) -> str:
    """A digest of the chunk ids in order: ties the keyword index to the store's chunk list."""
    h = hashlib.sha256()
    for c in chunks:
        h.update(c.chunk_id.encode())
        h.update(b"\n")
    return h.hexdigest()


def _chunk_terms(documents: Sequence[Document], chunks: Sequence[Chunk]) -> list[list[str]]:
    titles = {d.doc_id: d.title for d in documents}
    return [analyze_for_bm25(keyword_text(titles.get(c.doc_id, ""), c.text)) for c in chunks]


def _write_bm25(gen: Path, terms: Sequence[Sequence[str]], chunks: Sequence[Chunk]) -> None:
    KeywordIndex.build(terms, DEFAULT_BM25, chunks_sha256(chunks)).save(gen / KEYWORDS_DIR)


def _write_stats(gen: Path, terms: Sequence[Sequence[str]]) -> None:
    df: Counter[str] = Counter()
    for t in terms:
        df.update(set(t))
    _save_json(gen / TERM_STATS, {"n_chunks": len(terms), "df": dict(df)})


def write_keyword_index(gen: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Extra writer for ``build_index``: BM25 over title + text of every chunk, saved in ``gen/keywords``."""
    _write_bm25(gen, _chunk_terms(documents, chunks), chunks)


def write_keywords(gen: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Extra writer for ``build_index``: term statistics and the BM25 index, analysing each chunk once."""
    terms = _chunk_terms(documents, chunks)
    _write_stats(gen, terms)
    _write_bm25(gen, terms, chunks)


def _load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _save_json(path: Path, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


# ---- term statistics for the extractive answerer -------------------------------------------
def write_term_stats(gen: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Count, for every keyword term, how many chunks contain it (titles included)."""
    _write_stats(gen, _chunk_terms(documents, chunks))


def load_term_stats(gen: Path, read: Callable[[str], bytes] | None = None) -> TermStats:
    """Read the term statistics of an index generation (through ``read``, as ``KeywordIndex.load``)."""
    data = read(TERM_STATS) if read is not None else (gen / TERM_STATS).read_bytes()
    try:
        raw = json.loads(data)
        return TermStats(int(raw["n_chunks"]), dict(raw["df"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{gen / TERM_STATS} is damaged ({exc}): run `rag index --rebuild`") from exc


# Everything the keyword side writes into a new index generation, in order.
INDEX_WRITERS = (write_keywords,)
