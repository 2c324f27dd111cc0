"""The keyword side of the index: BM25 over title + chunk text, persisted next to FAISS (no pickle).

Layout of ``<generation>/keywords/``::

    vocab.sqlite             terms(term, col, df): a term's column and how many chunks hold it
    data.csc.index.npy       precomputed BM25 weight of each (term, chunk) pair, CSC by term
    indices.csc.index.npy    chunk position of each weight
    indptr.csc.index.npy     where each term's column starts
    nonoccurrence_array.index.npy   (BM25L / BM25+ only) the score of a term a chunk lacks
    params.index.json        BM25 variant and parameters, number of chunks
    analysis.json            analyzer name, chunk count and a digest of the chunk ids

bm25s computes the weights at build time; a query only sums a few precomputed columns, which
numpy does directly: importing bm25s pulls in scipy (~0.4 s) that ``rag ask`` need not pay.

At a million chunks the postings are gigabytes: the arrays are memory-mapped and the vocabulary
is looked up term by term in SQLite, so loading reads neither. Each term's column is stored in
impact order (highest weight first), and a query reads at most ``max_postings`` entries of a
column: a very frequent term (in half the archive) costs a bounded slice, and the chunks it
leaves out are those where it weighs least, which BM25's low IDF for such a term makes the
least consequential. Indexes smaller than the cap are scored exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..arabic import analyze
from ..errors import IndexCorruptError
from ..types import Chunk, TermStats

KEYWORDS_DIR = "keywords"
ANALYSIS = "analysis.json"
VOCAB = "vocab.sqlite"
FORMAT_VERSION = 2
# Postings read per query term at most (see the module docstring; benchmarks/scale.md).
MAX_POSTINGS = 100_000
# Change it whenever analyze_for_bm25 (or rag.arabic.analyze) changes what it emits: an index
# analysed differently must be rebuilt, not queried with mismatching terms.
ANALYZER = "snowball-stopwords/v3"

_DATA, _INDICES, _INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
_PARAMS, _NONOCC = "params.index.json", "nonoccurrence_array.index.npy"


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


class Vocab(Mapping[str, int]):
    """term → column of a loaded keyword index, read from ``vocab.sqlite`` term by term (and remembered)."""

    def __init__(self, path: Path) -> None:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, int] | None] = {}
        with self._lock:
            self._n = int(self._db.execute("SELECT count(*) FROM terms").fetchone()[0])

    def lookup(self, term: str) -> tuple[int, int] | None:
        """(column, document frequency) of a term, or None when no chunk has it."""
        if term in self._seen:
            return self._seen[term]
        with self._lock:
            row = self._db.execute("SELECT col, df FROM terms WHERE term = ?", (term,)).fetchone()
        hit = (int(row[0]), int(row[1])) if row else None
        if len(self._seen) < 200_000:
            self._seen[term] = hit
        return hit

    def __getitem__(self, term: str) -> int:
        hit = self.lookup(term)
        if hit is None:
            raise KeyError(term)
        return hit[0]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            rows = self._db.execute("SELECT term FROM terms ORDER BY col").fetchall()
        return iter([r[0] for r in rows])


class DocumentFrequencies(Mapping[str, int]):
    """term → number of chunks holding it, from the keyword index's vocabulary (the answerer's IDF)."""

    def __init__(self, vocab: Mapping[str, int], indptr: np.ndarray) -> None:
        self._vocab = vocab
        self._indptr = indptr

    def __getitem__(self, term: str) -> int:
        if isinstance(self._vocab, Vocab):
            hit = self._vocab.lookup(term)
            if hit is None:
                raise KeyError(term)
            return hit[1]
        col = self._vocab[term]
        return int(self._indptr[col + 1] - self._indptr[col])

    def __len__(self) -> int:
        return len(self._vocab)

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocab)


class KeywordIndex:
    """BM25 weights over the chunks of one index generation; ``search`` ranks chunk positions."""

    def __init__(
        self,
        vocab: Mapping[str, int],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        n_chunks: int,
        params: BM25Params = DEFAULT_BM25,
        nonoccurrence: np.ndarray | None = None,
        analyzer: str = ANALYZER,
        chunks_digest: str = "",
        max_postings: int = MAX_POSTINGS,
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
        self.max_postings = max_postings

    # ---- building ------------------------------------------------------------------------
    @classmethod
    def build(
        cls, chunk_terms: Sequence[Sequence[str]], params: BM25Params = DEFAULT_BM25, chunks_digest: str = ""
    ) -> KeywordIndex:
        """Index already-analysed chunks (one term list per chunk, in store order) with bm25s."""
        vocab: dict[str, int] = {}
        # Chunks with the same text share one term list (``chunk_terms``): map it to ids once.
        by_list: dict[int, list[int]] = {}
        ids = []
        for terms in chunk_terms:
            row = by_list.get(id(terms))
            if row is None:
                row = [vocab.setdefault(t, len(vocab)) for t in terms]
                by_list[id(terms)] = row
            ids.append(row)
        del by_list
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
        del ids
        scores = bm25.scores
        data = np.asarray(scores["data"], np.float32)
        indices = np.asarray(scores["indices"], np.int32)
        indptr = np.asarray(scores["indptr"], np.int64)
        # Impact order: within each term's column, the highest weight first (ties by position).
        cols = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
        order = np.lexsort((indices, -data, cols))
        del cols
        return cls(
            vocab,
            data[order],
            indices[order],
            indptr,
            n,
            params,
            None if bm25.nonoccurrence_array is None else np.asarray(bm25.nonoccurrence_array, np.float32),
            chunks_digest=chunks_digest,
        )

    def save(self, folder: Path) -> None:
        """Write the index as .npy + .json files and the vocabulary as SQLite (no pickle), each fsynced."""
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
        df = np.diff(self.indptr)
        db = sqlite3.connect(folder / VOCAB, isolation_level=None)
        try:
            db.executescript(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                "CREATE TABLE terms(term TEXT PRIMARY KEY, col INTEGER NOT NULL, df INTEGER NOT NULL) WITHOUT ROWID;"
                "BEGIN;"
            )
            db.executemany("INSERT INTO terms VALUES (?, ?, ?)", ((t, c, int(df[c])) for t, c in self.vocab.items()))
            db.execute("COMMIT")
        finally:
            db.close()
        with open(folder / VOCAB, "rb+") as f:
            os.fsync(f.fileno())
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
        cls,
        gen: Path,
        chunks_digest: str | None = None,
        open_file: Callable[[str], Path] | None = None,
        max_postings: int = MAX_POSTINGS,
    ) -> KeywordIndex:
        """Open ``gen/keywords``; with ``chunks_digest``, also check it indexes exactly those chunks.

        ``open_file(name)`` checks a file of the generation against the manifest and returns its
        path (the index store passes one); by default files are used as they are. Arrays are
        memory-mapped, the vocabulary read on demand.
        """
        folder = gen / KEYWORDS_DIR
        opener = open_file or (lambda name: gen / name)

        def file(name: str) -> Path:
            return opener(f"{KEYWORDS_DIR}/{name}")

        try:
            meta = json.loads(file(ANALYSIS).read_bytes())
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
            raw = json.loads(file(_PARAMS).read_bytes())
            params = BM25Params(raw["method"], float(raw["k1"]), float(raw["b"]), float(raw["delta"]))
            nonocc = _load_npy(file(_NONOCC)) if params.method in ("bm25l", "bm25+") else None
            index = cls(
                Vocab(file(VOCAB)),
                _load_npy(file(_DATA)),
                _load_npy(file(_INDICES)),
                _load_npy(file(_INDPTR)),
                int(raw["num_docs"]),
                params,
                nonocc,
                meta["analyzer"],
                str(meta.get("chunks_sha256", "")),
                max_postings,
            )
        except (OSError, ValueError, KeyError, TypeError, sqlite3.DatabaseError) as exc:
            raise IndexCorruptError(f"keyword index in {folder} is damaged ({exc}): run `rag index --rebuild`") from exc
        n_terms = len(index.indptr) - 1
        if (
            index.n_chunks != meta.get("n_chunks")
            or len(index.data) != len(index.indices)
            or len(index.data) != int(index.indptr[-1])
            or len(index.vocab) != n_terms
        ):
            raise IndexCorruptError(f"keyword index in {folder} is inconsistent: run `rag index --rebuild`")
        if chunks_digest is not None and chunks_digest != index.chunks_digest:
            raise IndexCorruptError(f"keyword index in {folder} does not match the index's chunks: run `rag index`")
        return index

    @property
    def df(self) -> DocumentFrequencies:
        """How many chunks hold each term."""
        return DocumentFrequencies(self.vocab, self.indptr)

    # ---- searching -----------------------------------------------------------------------
    def _column(self, term: str) -> tuple[int, int, int] | None:
        col = self.vocab.get(term)
        if col is None:
            return None
        lo, hi = int(self.indptr[col]), int(self.indptr[col + 1])
        return col, lo, min(hi, lo + self.max_postings)

    def _postings(self, term: str) -> tuple[int, np.ndarray, np.ndarray] | None:
        """A term's column, and the chunks and weights of its postings read (the strongest first)."""
        span = self._column(term)
        if span is None:
            return None
        col, lo, hi = span
        return col, self.indices[lo:hi], self.data[lo:hi]

    def scores(self, terms: Sequence[str], alternatives: Sequence[Sequence[str]] = ()) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every chunk for analysed query terms, and which chunks share at least one term.

        ``alternatives``: groups of terms standing for one word (an English word's Arabic renderings,
        rag/crosslingual.py); a group adds, per chunk, the score of its best term there, once.
        """
        scores = np.zeros(self.n_chunks, dtype=np.float32)
        matched = np.zeros(self.n_chunks, dtype=bool)
        # A repeated query term counts again, as in Lucene and bm25s.
        for t in terms:
            postings = self._postings(t)
            if postings is None:
                continue
            col, rows, weights = postings
            scores[rows] += weights  # rows are distinct within one term's column
            matched[rows] = True
            if self.nonoccurrence is not None:
                scores += self.nonoccurrence[col]
        if alternatives and self.nonoccurrence is not None:
            # Variants that score absent terms too: each term's whole score array.
            for group in alternatives:
                alts = [self.scores([t]) for t in group]
                scores += np.max([a for a, _ in alts], axis=0)
                matched |= np.any([m for _, m in alts], axis=0)
        elif alternatives:
            # Only the chunks in the group's postings change, so one scratch array of per-chunk bests
            # is reused (at a million chunks a full score array per rendering cost 6.4 ms p50 a question, this
            # 2.6 ms: benchmarks/README.md).
            best = np.zeros(self.n_chunks, dtype=np.float32)
            for group in alternatives:
                touched = []
                for t in group:
                    postings = self._postings(t)
                    if postings is None:
                        continue
                    _, rows, weights = postings
                    best[rows] = np.maximum(best[rows], weights)
                    touched.append(rows)
                if touched:
                    rows = np.concatenate(touched)  # a chunk listed twice gets the same sum twice
                    scores[rows] += best[rows]
                    matched[rows] = True
                    best[rows] = 0.0
        return scores, matched

    def top(self, scores: np.ndarray, matched: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best of ``scores`` among matched chunks, best first (ties in store order)."""
        hits = np.flatnonzero(matched)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        # Best first; equal scores in store order, so a ranking never depends on argpartition.
        hits = hits[np.lexsort((hits, -scores[hits]))]
        return [(int(i), float(scores[i])) for i in hits]

    def search_terms(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position, BM25 score) for analysed query terms; chunks sharing no term are left out."""
        if k <= 0 or not self.n_chunks:
            return []
        scores, matched = self.scores(terms)
        return self.top(scores, matched, k)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position in store order, BM25 score) for a question, best first."""
        return self.search_terms(analyze_for_bm25(query), k)


def chunks_sha256(chunks: Iterable[Chunk]) -> str:
    """A digest of the chunk ids in order: ties the keyword index to the store's chunk list."""
    h = hashlib.sha256()
    for c in chunks:
        h.update(c.chunk_id.encode())
        h.update(b"\n")
    return h.hexdigest()


def chunk_terms(titles: Mapping[str, str], chunks: Iterable[Chunk]) -> list[list[str]]:
    """BM25 terms of each chunk (title + text). A text seen before in this build (the same wire
    story on two sites, a repeated boilerplate paragraph) is analysed once."""
    seen: dict[str, list[str]] = {}
    out = []
    for c in chunks:
        text = keyword_text(titles.get(c.doc_id, ""), c.text)
        terms = seen.get(text)
        if terms is None:
            terms = analyze_for_bm25(text)
            seen[text] = terms
        out.append(terms)
    return out


def write_keywords(gen: Path, titles: Mapping[str, str], chunks: Iterable[Chunk], chunks_digest: str) -> None:
    """The keyword side of a new generation: BM25 over title + text of every chunk, in ``gen/keywords``."""
    KeywordIndex.build(chunk_terms(titles, chunks), DEFAULT_BM25, chunks_digest).save(gen / KEYWORDS_DIR)


def _load_npy(path: Path) -> np.ndarray:
    from .vectors import load_matrix

    return load_matrix(path)


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


def term_stats(index: KeywordIndex) -> TermStats:
    """Document frequencies of keyword terms (for the answerer's IDF weights), from the BM25 vocabulary."""
    return TermStats(index.n_chunks, index.df)


# Everything the keyword side writes into a new index generation, in order.
INDEX_WRITERS = (write_keywords,)
