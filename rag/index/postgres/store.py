"""The index in PostgreSQL: documents, chunks with pgvector embeddings, BM25 postings, and the searches.

Writes: one transaction per batch, serialised by a transaction-level advisory lock (one per schema),
so indexers on several machines write one database in turn and the BM25 statistics (N, total
length in ``rag_stats``; document frequencies in ``term_df``) stay exact. Embedding, the
slow part, happens before the transaction; the lock is held only while rows are copied in. A
writer killed mid-way leaves nothing: its transaction never commits.

Reads: every search is one SQL statement, so it sees one snapshot: a reader never sees a batch
half-written, nor statistics of another version than the postings. Hybrid search reproduces
``rag.retrieve.hybrid_candidates``: the top ``pool`` chunks by cosine (HNSW) and by BM25, their union
scored by both (exact cosine, full BM25 score), each side min-max scaled over the union, then
``weight × dense + (1 − weight) × bm25``. BM25 is bm25s's Lucene variant, as the local index:
idf = ln(1 + (N − df + 0.5) / (df + 0.5)), tf / (tf + k1 (1 − b + b · len / avgdl)).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ConfigError, IndexCorruptError, StoreError
from ...types import Chunk, Document, TermStats
from ..keywords import ANALYZER, DEFAULT_BM25, analyze_for_bm25, keyword_text
from .schema import HnswParams, check_meta, check_schema_name, check_version, create_schema, extension_schema

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

# Candidates taken from each side before fusion, and the dense weight (rag.retrieve's values).
POOL = 50
W_DENSE = 0.5


@dataclass(frozen=True)
class Hit:
    """A chunk found by a search: its primary key, the ranking score, and both sides' evidence."""

    pk: int
    score: float
    dense: float | None  # cosine of question and chunk
    keyword: float | None  # BM25 score (0 for a chunk sharing no term, in hybrid search)


@dataclass(frozen=True)
class DocumentRow:
    """An indexed article without its text (for `rag list` and incremental indexing)."""

    doc_id: str
    title: str
    path: str
    date: str | None
    source: str | None
    author: str | None
    content_hash: str
    n_chunks: int
    key: str = ""


@dataclass(frozen=True)
class PgStats:
    """What the database holds, and the settings it was built with."""

    n_documents: int
    n_chunks: int
    total_length: int  # sum of the chunks' BM25 lengths
    version: int  # bumped by every committed write
    dim: int
    model: str
    meta: Mapping[str, str]


@dataclass(frozen=True)
class QuestionRows:
    """Everything one question reads, from one snapshot: the hits best first, their chunks and
    articles, the document frequencies asked for, and the statistics row (chunk count, version)."""

    hits: list[Hit]
    chunks: dict[int, Chunk]
    documents: dict[str, Document]
    df: dict[str, int]
    n_chunks: int
    version: int


# ---- SQL -----------------------------------------------------------------------------------
_BM25_WEIGHT = (
    "ln(1 + (st.n - p.df + 0.5) / (p.df + 0.5)) * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / st.avgdl))"
)
# Query terms with their multiplicity (a repeated term counts again), the corpus statistics, and
# every posting of those terms with its term's document frequency (from term_df, kept exact by the
# writers): the BM25 score of every chunk sharing a term. Shared by keyword and hybrid search.
# The postings are read term by term (the LATERAL subquery, kept apart by OFFSET 0): left to
# itself, the planner walked all postings in chunk order to group them (12.8 s instead of 0.1 s at
# 100k chunks, benchmarks/pg_scale.md).
_BM25_POSTINGS = """st AS (
    SELECT n_chunks::float8 AS n,
           CASE WHEN n_chunks > 0 THEN total_length::float8 / n_chunks ELSE 1 END AS avgdl
    FROM rag_stats
), p AS (
    SELECT p.chunk, p.tf, p.length, qt.qn, qt.grp, td.df::float8 AS df
    FROM qt JOIN term_df td ON td.term = qt.term
    CROSS JOIN LATERAL (SELECT chunk, tf, length FROM postings WHERE term = qt.term OFFSET 0) p
)"""
_BM25_CTES = f"""
qt AS (
    SELECT term, NULL::int AS grp, count(*)::float8 AS qn FROM unnest(%(terms)s::text[]) AS t(term) GROUP BY term
), {_BM25_POSTINGS}, bm AS (
    SELECT p.chunk, sum(p.qn * {_BM25_WEIGHT}) AS score FROM p CROSS JOIN st GROUP BY p.chunk
)"""
# The same with groups of alternative terms (an English word's Arabic renderings, rag/crosslingual.py):
# each query term comes with a group number, and a group adds, per chunk, its best term's score
# once (as KeywordIndex.scores with ``alternatives``). A plain term is a group of its own.
_BM25_CTES_GROUPED = f"""
qt AS (
    SELECT term, grp, count(*)::float8 AS qn
    FROM unnest(%(terms)s::text[], %(groups)s::int[]) AS t(term, grp) GROUP BY term, grp
), {_BM25_POSTINGS}, bm AS (
    SELECT chunk, sum(best) AS score
    FROM (SELECT p.chunk, max(p.qn * {_BM25_WEIGHT}) AS best FROM p CROSS JOIN st GROUP BY p.chunk, p.grp) g
    GROUP BY chunk
)"""

_HYBRID_HITS_T = """
WITH {ctes}, kw AS (
    SELECT chunk AS pk, row_number() OVER (ORDER BY score DESC, chunk) AS krank
    FROM bm ORDER BY score DESC, chunk LIMIT %(pool)s
), dn AS (
    SELECT pk, row_number() OVER (ORDER BY dist, pk) AS drank
    FROM (SELECT pk, embedding <#> %(v)s::vector AS dist FROM chunks ORDER BY 2 LIMIT %(pool)s) d
), cand AS (
    SELECT pk, min(drank) AS drank, min(krank) AS krank
    FROM (SELECT pk, drank, NULL::bigint AS krank FROM dn UNION ALL SELECT pk, NULL, krank FROM kw) u
    GROUP BY pk
), scored AS (
    SELECT c.pk, c.drank, c.krank, -(ch.embedding <#> %(v)s::vector) AS cos, coalesce(bm.score, 0) AS kw
    FROM cand c JOIN chunks ch ON ch.pk = c.pk LEFT JOIN bm ON bm.chunk = c.pk
), mm AS (
    SELECT *, min(cos) OVER () AS cmin, max(cos) OVER () AS cmax, min(kw) OVER () AS kmin, max(kw) OVER () AS kmax
    FROM scored
), fu AS (
    SELECT pk, drank, krank, cos, kw,
           %(w)s * CASE WHEN cmax > cmin THEN (cos - cmin) / (cmax - cmin) ELSE 1 END
           + (1 - %(w)s) * CASE WHEN kmax > kmin THEN (kw - kmin) / (kmax - kmin) ELSE 1 END AS fused
    FROM mm
), hits AS (
    SELECT pk, fused AS score, cos, kw,
           row_number() OVER (ORDER BY fused DESC, drank NULLS LAST, krank NULLS LAST) AS rank
    FROM fu
    ORDER BY rank
    LIMIT %(k)s
)"""

_KEYWORD_HITS_T = """
WITH {ctes}, hits AS (
    SELECT bm.chunk AS pk, bm.score, -(c.embedding <#> %(v)s::vector) AS cos, bm.score AS kw,
           row_number() OVER (ORDER BY bm.score DESC, bm.chunk) AS rank
    FROM bm JOIN chunks c ON c.pk = bm.chunk
    ORDER BY rank LIMIT %(k)s
)"""
_HYBRID_HITS = _HYBRID_HITS_T.format(ctes=_BM25_CTES)
_KEYWORD_HITS = _KEYWORD_HITS_T.format(ctes=_BM25_CTES)
_DENSE_HITS = """
WITH hits AS (
    SELECT pk, -dist AS score, -dist AS cos, NULL::float8 AS kw, row_number() OVER (ORDER BY dist, pk) AS rank
    FROM (SELECT pk, embedding <#> %(v)s::vector AS dist FROM chunks ORDER BY embedding <#> %(v)s::vector, pk
          LIMIT %(k)s) d
)"""
# Each search as a statement of its own: the hits, best first.
_HITS = "\nSELECT pk, score, cos, kw FROM hits ORDER BY rank"
_HYBRID = _HYBRID_HITS + _HITS
_KEYWORD = _KEYWORD_HITS + _HITS
# What one question reads, in one statement (so one snapshot, one round trip): the hits, their
# chunks, those chunks' articles, the document frequencies of the terms the answerer will weigh,
# and the statistics row the scores were computed from.
_QUESTION = """
SELECT (SELECT json_agg(json_build_array(pk, score, cos, kw) ORDER BY rank) FROM hits),
       (SELECT json_agg(json_build_array(c.pk, c.chunk_id, c.doc_id, c.text, c.start, c."end", c.ordinal))
        FROM chunks c WHERE c.pk IN (SELECT pk FROM hits)),
       (SELECT json_agg(json_build_array(d.doc_id, d.title, d.text, d.path, d.date, d.source, d.author,
                                         d.content_hash))
        FROM documents d WHERE d.doc_id IN (SELECT c.doc_id FROM chunks c WHERE c.pk IN (SELECT pk FROM hits))),
       (SELECT json_object_agg(term, df) FROM term_df WHERE term = ANY(%(df_terms)s::text[])),
       (SELECT n_chunks FROM rag_stats), (SELECT version FROM rag_stats)
"""
QUESTION_SQL = {
    "hybrid": _HYBRID_HITS + _QUESTION,
    "keyword": _KEYWORD_HITS + _QUESTION,
    "dense": _DENSE_HITS + _QUESTION,
}
# With groups of alternative terms (only questions with English words read through the glossary:
# the extra grouping level is left out of every other question's statement).
QUESTION_SQL_GROUPED = {
    "hybrid": _HYBRID_HITS_T.format(ctes=_BM25_CTES_GROUPED) + _QUESTION,
    "keyword": _KEYWORD_HITS_T.format(ctes=_BM25_CTES_GROUPED) + _QUESTION,
    "dense": _DENSE_HITS + _QUESTION,
}

_KEYWORD_NO_VEC = f"""
WITH {_BM25_CTES}
SELECT chunk, score, NULL::float8 FROM bm ORDER BY score DESC, chunk LIMIT %(k)s
"""

_DENSE = "SELECT pk, -(embedding <#> %(v)s::vector) FROM chunks ORDER BY embedding <#> %(v)s::vector, pk LIMIT %(k)s"


def vector_literal(vec: np.ndarray) -> str:
    """pgvector's text form of one vector; ``%.9g`` gives back the exact float32 value."""
    v = np.asarray(vec, dtype=np.float32).ravel()
    return "[" + ",".join(f"{x:.9g}" for x in v.tolist()) + "]"


def chunk_terms_of(documents: Sequence[Document], chunks: Sequence[Chunk]) -> list[list[str]]:
    """BM25 terms of each chunk, as the local index analyses them: title + chunk text."""
    titles = {d.doc_id: d.title for d in documents}
    return [analyze_for_bm25(keyword_text(titles.get(c.doc_id, ""), c.text)) for c in chunks]


class PgStore:
    """An index in one PostgreSQL schema, used through a pool of connections (opened on first use)."""

    def __init__(
        self,
        dsn: str,
        dim: int,
        model: str,
        *,
        index_settings: Mapping[str, Any] | None = None,
        hnsw: HnswParams | None = None,
        schema: str = "rag",
        pool_size: int = 4,
    ) -> None:
        self.dsn = dsn
        self.dim = int(dim)
        self.model = model
        self.index_settings = dict(index_settings or {})
        self.hnsw = hnsw or HnswParams()
        self.schema = check_schema_name(schema)
        if pool_size < 1:
            raise ConfigError(f"the PostgreSQL pool size must be at least 1, not {pool_size}")
        self.pool_size = pool_size
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()
        self._checked = False

    # ---- connections -------------------------------------------------------------------------
    @property
    def pool(self) -> ConnectionPool[Any]:
        """The connection pool, opened on first use."""
        with self._lock:
            if self._pool is None:
                self._pool = self._open_pool()
            return self._pool

    def _open_pool(self) -> ConnectionPool[Any]:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise ConfigError("the PostgreSQL backend needs psycopg: pip install 'rag[pg]'") from exc
        # One probe connection first: a wrong DSN is one clear error, not a pool retrying for 30 s.
        try:
            psycopg.connect(self.dsn, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL ({_first_line(exc)}): check RAG_PG_DSN") from exc
        schema, ef = self.schema, max(self.hnsw.ef_search, 1)

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                f"SET search_path = {schema}, {extension_schema(conn)}; "
                f"SET hnsw.ef_search = {int(ef)}; SET hnsw.iterative_scan = strict_order"
            )

        pool: ConnectionPool[Any] = ConnectionPool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            kwargs={"autocommit": True},
            configure=configure,
            open=False,
            name=f"rag-{schema}",
        )
        pool.open(wait=True, timeout=30)
        return pool

    def close(self) -> None:
        """Close the pool's connections."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _meta(self) -> dict[str, str]:
        return {
            "embedding_model": self.model,
            "dim": str(self.dim),
            "index_settings": json.dumps(self.index_settings, sort_keys=True),
            "analyzer": ANALYZER,
            "bm25": json.dumps({"method": DEFAULT_BM25.method, "k1": DEFAULT_BM25.k1, "b": DEFAULT_BM25.b}),
        }

    # ---- schema --------------------------------------------------------------------------
    def ensure_schema(self) -> dict[str, str]:
        """Create the schema if missing (pgvector checked); refuse one built with another model or settings."""
        import psycopg

        with self.pool.connection() as conn:
            try:
                meta = create_schema(conn, self.schema, self.dim, self.hnsw, self._meta())
            except psycopg.Error as exc:
                raise StoreError(f"cannot create the rag schema in PostgreSQL: {_first_line(exc)}") from exc
        self._checked = True
        return meta

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """Once per store: the schema exists and was built with our settings."""
        if self._checked:
            return
        row = conn.execute("SELECT to_regclass('rag_meta') IS NOT NULL").fetchone()
        if not (row and row[0]):
            raise StoreError(f"no rag index in PostgreSQL schema {self.schema}: run `rag index` first")
        stored = dict(conn.execute("SELECT key, value FROM rag_meta").fetchall())
        check_version(stored, self.schema)
        check_meta(stored, self._meta(), self.schema)
        self._checked = True

    # ---- writing -------------------------------------------------------------------------
    def upsert_documents(
        self,
        documents: Sequence[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        chunk_terms: Sequence[Sequence[str]] | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> int:
        """Add or replace documents with all their chunks, vectors and BM25 terms, in one transaction.

        A document already stored is replaced whole (its old chunks and postings deleted in the same
        transaction). ``vectors[i]`` is the L2-normalised embedding of ``chunks[i]``; ``chunk_terms[i]``
        its analysed terms (computed when omitted). Returns the index version after the commit.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(chunks), self.dim):
            raise ConfigError(f"expected {len(chunks)} vectors of dimension {self.dim}, got shape {vectors.shape}")
        ids = [d.doc_id for d in documents]
        if len(set(ids)) != len(ids):
            raise ConfigError("a batch names the same document twice")
        known = set(ids)
        orphans = {c.doc_id for c in chunks} - known
        if orphans:
            raise ConfigError(f"chunks of documents not in the batch: {', '.join(sorted(orphans)[:3])}")
        terms = list(chunk_terms) if chunk_terms is not None else chunk_terms_of(documents, chunks)
        if len(terms) != len(chunks):
            raise ConfigError(f"expected terms for {len(chunks)} chunks, got {len(terms)}")
        per_doc = Counter(c.doc_id for c in chunks)
        lengths = [len(t) for t in terms]
        with self.pool.connection() as conn:
            self._check(conn)
            with conn.transaction():
                self._write_lock(conn)
                gone_docs, gone_chunks, gone_length = self._delete(conn, ids)
                with conn.cursor() as cur:
                    with cur.copy(
                        "COPY documents (doc_id, title, text, path, date, source, author, content_hash, key, n_chunks) "
                        "FROM STDIN"
                    ) as cp:
                        for d in documents:
                            cp.write_row(
                                (
                                    d.doc_id,
                                    d.title,
                                    d.text,
                                    d.path,
                                    d.date,
                                    d.source,
                                    d.author,
                                    d.content_hash,
                                    (keys or {}).get(d.doc_id, ""),
                                    per_doc.get(d.doc_id, 0),
                                )
                            )
                    pks: list[int] = []
                    if chunks:
                        cur.execute(
                            "SELECT nextval(pg_get_serial_sequence('chunks', 'pk')) FROM generate_series(1, %s)",
                            (len(chunks),),
                        )
                        pks = sorted(int(r[0]) for r in cur.fetchall())
                    with cur.copy(
                        'COPY chunks (pk, chunk_id, doc_id, ordinal, start, "end", text, length, embedding) FROM STDIN'
                    ) as cp:
                        for pk, c, n, v in zip(pks, chunks, lengths, vectors, strict=True):
                            cp.write_row(
                                (pk, c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.text, n, vector_literal(v))
                            )
                    df: Counter[str] = Counter()
                    with cur.copy("COPY postings (term, chunk, tf, length) FROM STDIN") as cp:
                        for pk, t, n in zip(pks, terms, lengths, strict=True):
                            counts = Counter(t)
                            df.update(counts.keys())
                            for term, tf in counts.items():
                                cp.write_row((term, pk, tf, n))
                    if df:
                        # Sorted: the same lock order as any other writer's (they queue on the
                        # advisory lock anyway; this keeps it safe if that ever changes).
                        new_terms = sorted(df)
                        cur.execute(
                            "INSERT INTO term_df (term, df) SELECT * FROM unnest(%s::text[], %s::bigint[]) "
                            "ON CONFLICT (term) DO UPDATE SET df = term_df.df + EXCLUDED.df",
                            (new_terms, [df[t] for t in new_terms]),
                        )
                row = conn.execute(
                    "UPDATE rag_stats SET n_documents = n_documents + %s, n_chunks = n_chunks + %s, "
                    "total_length = total_length + %s, version = version + 1 RETURNING version",
                    (len(documents) - gone_docs, len(chunks) - gone_chunks, sum(lengths) - gone_length),
                ).fetchone()
        assert row is not None
        return int(row[0])

    def remove_documents(self, doc_ids: Iterable[str]) -> int:
        """Remove documents with their chunks and postings, in one transaction; return how many existed."""
        ids = list(dict.fromkeys(doc_ids))
        with self.pool.connection() as conn:
            self._check(conn)
            with conn.transaction():
                self._write_lock(conn)
                gone_docs, gone_chunks, gone_length = self._delete(conn, ids)
                if gone_docs:
                    conn.execute(
                        "UPDATE rag_stats SET n_documents = n_documents - %s, n_chunks = n_chunks - %s, "
                        "total_length = total_length - %s, version = version + 1",
                        (gone_docs, gone_chunks, gone_length),
                    )
        return gone_docs

    def _write_lock(self, conn: psycopg.Connection[Any]) -> None:
        # Writers of one schema take turns (released at commit or rollback, or when a killed
        # writer's connection drops): statistics updates never interleave.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"rag-write:{self.schema}",))

    @staticmethod
    def _delete(conn: psycopg.Connection[Any], ids: Sequence[str]) -> tuple[int, int, int]:
        """Delete documents (chunks cascade, postings explicitly, their terms' document frequencies
        lowered); return what went, for the statistics."""
        if not ids:
            return 0, 0, 0
        row = conn.execute(
            "SELECT count(*), coalesce(sum(length), 0) FROM chunks WHERE doc_id = ANY(%s)", (list(ids),)
        ).fetchone()
        assert row is not None
        if row[0]:
            left = conn.execute(
                "WITH gone AS (DELETE FROM postings WHERE chunk IN (SELECT pk FROM chunks WHERE doc_id = ANY(%s)) "
                "RETURNING term), n AS (SELECT term, count(*) AS n FROM gone GROUP BY term) "
                "UPDATE term_df t SET df = t.df - n.n FROM n WHERE t.term = n.term RETURNING t.term, t.df",
                (list(ids),),
            ).fetchall()
            gone_terms = [term for term, df in left if df == 0]
            if gone_terms:
                conn.execute("DELETE FROM term_df WHERE term = ANY(%s) AND df = 0", (gone_terms,))
        cur = conn.execute("DELETE FROM documents WHERE doc_id = ANY(%s)", (list(ids),))
        return cur.rowcount, int(row[0]), int(row[1])

    # ---- searching -----------------------------------------------------------------------
    def _query(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self.pool.connection() as conn:
            self._check(conn)
            return conn.execute(sql, params).fetchall()

    def _vec(self, qvec: np.ndarray) -> str:
        q = np.asarray(qvec, dtype=np.float32).ravel()
        if q.shape != (self.dim,):
            raise ConfigError(f"query vector of dimension {q.shape[0]}, the index holds {self.dim}")
        return vector_literal(q)

    @staticmethod
    def _bm25(terms: Sequence[str]) -> dict[str, Any]:
        return {"terms": list(terms), "k1": float(DEFAULT_BM25.k1), "b": float(DEFAULT_BM25.b)}

    def dense(self, qvec: np.ndarray, k: int) -> list[Hit]:
        """Top-k chunks by cosine (pgvector HNSW), best first."""
        if k <= 0:
            return []
        rows = self._query(_DENSE, {"v": self._vec(qvec), "k": k})
        return [Hit(int(pk), float(s), float(s), None) for pk, s in rows]

    def keyword(self, terms: Sequence[str], k: int, qvec: np.ndarray | None = None) -> list[Hit]:
        """Top-k chunks by BM25 for analysed query terms (ties in insertion order); with ``qvec``, their cosines."""
        if k <= 0 or not terms:
            return []
        params = {**self._bm25(terms), "k": k}
        if qvec is None:
            rows = self._query(_KEYWORD_NO_VEC, params)
            return [Hit(int(pk), float(s), None, float(s)) for pk, s, _ in rows]
        rows = self._query(_KEYWORD, {**params, "v": self._vec(qvec)})
        return [Hit(int(pk), float(s), float(c), float(s)) for pk, s, c, _ in rows]

    def hybrid(
        self, qvec: np.ndarray, terms: Sequence[str], k: int | None = None, pool: int = POOL, weight: float = W_DENSE
    ) -> list[Hit]:
        """Dense and BM25 pools fused by min-max score combination, in one SQL statement, best first.

        ``k=None`` returns the whole union of the two pools (up to 2 × pool), as
        ``rag.retrieve.hybrid_candidates`` does.
        """
        if pool <= 0:
            return []
        params = {**self._bm25(terms), "v": self._vec(qvec), "pool": pool, "w": float(weight), "k": k or 2 * pool}
        rows = self._query(_HYBRID, params)
        return [Hit(int(pk), float(f), float(c), float(b)) for pk, f, c, b in rows]

    def read_question(
        self,
        mode: str,
        qvec: np.ndarray,
        terms: Sequence[str],
        pool: int = POOL,
        weight: float = W_DENSE,
        df_terms: Iterable[str] = (),
        alternatives: Sequence[Sequence[str]] = (),
    ) -> QuestionRows:
        """One question's search (``dense``, ``keyword`` or ``hybrid``, as the methods above with
        ``pool`` hits, ``2 × pool`` for hybrid), the rows it returns and the document frequencies of
        ``df_terms``: one statement, so one snapshot and one round trip.

        ``alternatives``: groups of terms standing for one word (an English word's renderings); a
        group adds the score of its best term in a chunk, once (KeywordIndex.scores does the same).
        """
        sql = (QUESTION_SQL_GROUPED if alternatives else QUESTION_SQL).get(mode)
        if sql is None:
            raise ConfigError(f"the search mode must be one of {', '.join(QUESTION_SQL)}, not {mode!r}")
        bm25 = self._bm25(terms)
        if alternatives:
            # A plain term is a group of its own; each group of alternatives shares one number.
            bm25["terms"] = [*terms, *(t for group in alternatives for t in group)]
            n = len(terms)
            bm25["groups"] = [*range(n), *(n + g for g, group in enumerate(alternatives) for _ in group)]
        params = {
            **bm25,
            "v": self._vec(qvec),
            "pool": pool,
            "w": float(weight),
            "k": 2 * pool if mode == "hybrid" else pool,
            "df_terms": sorted(set(df_terms)),
        }
        (hits, chunks, docs, df, n_chunks, version), *_ = self._query(sql, params)
        return QuestionRows(
            [Hit(int(pk), float(sc), float(c), None if kw is None else float(kw)) for pk, sc, c, kw in hits or ()],
            {int(r[0]): Chunk(*r[1:]) for r in chunks or ()},
            {r[0]: Document(*r) for r in docs or ()},
            {term: int(n) for term, n in (df or {}).items() if n},
            int(n_chunks),
            int(version),
        )

    def version(self) -> int:
        """The index version: bumped by every committed write."""
        rows = self._query("SELECT version FROM rag_stats", {})
        return int(rows[0][0])

    def cosines(self, qvec: np.ndarray, pks: Sequence[int]) -> list[float]:
        """Cosine of the question with each given chunk (0.0 for a chunk no longer stored), in order."""
        if not pks:
            return []
        rows = self._query(
            "SELECT pk, -(embedding <#> %(v)s::vector) FROM chunks WHERE pk = ANY(%(pks)s)",
            {"v": self._vec(qvec), "pks": [int(p) for p in pks]},
        )
        found = {int(pk): float(c) for pk, c in rows}
        return [found.get(int(p), 0.0) for p in pks]

    # ---- fetching ------------------------------------------------------------------------
    def chunks(self, pks: Sequence[int]) -> dict[int, Chunk]:
        """The chunks with these primary keys (missing ones are left out)."""
        if not pks:
            return {}
        rows = self._query(
            'SELECT pk, chunk_id, doc_id, text, start, "end", ordinal FROM chunks WHERE pk = ANY(%(pks)s)',
            {"pks": [int(p) for p in pks]},
        )
        return {int(r[0]): Chunk(*r[1:]) for r in rows}

    def documents(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The documents with these ids, text included (missing ones are left out)."""
        ids = list(doc_ids)
        if not ids:
            return {}
        rows = self._query(
            "SELECT doc_id, title, text, path, date, source, author, content_hash FROM documents "
            "WHERE doc_id = ANY(%(ids)s)",
            {"ids": ids},
        )
        return {r[0]: Document(*r) for r in rows}

    def list_documents(self) -> list[DocumentRow]:
        """Every indexed document without its text, by id."""
        rows = self._query(
            "SELECT doc_id, title, path, date, source, author, content_hash, n_chunks, key FROM documents "
            "ORDER BY doc_id",
            {},
        )
        return [DocumentRow(*r) for r in rows]

    def document_chunks(self, doc_id: str) -> list[tuple[int, Chunk]]:
        """(primary key, chunk) of one document, in reading order."""
        rows = self._query(
            'SELECT pk, chunk_id, doc_id, text, start, "end", ordinal FROM chunks '
            "WHERE doc_id = %(d)s ORDER BY ordinal",
            {"d": doc_id},
        )
        return [(int(r[0]), Chunk(*r[1:])) for r in rows]

    def term_stats(self, terms: Iterable[str]) -> TermStats:
        """Chunk count and document frequencies of the given terms (for the extractive answerer's IDF)."""
        rows = self._query(
            "SELECT term, df FROM term_df WHERE term = ANY(%(t)s::text[]) AND df > 0 "
            "UNION ALL SELECT NULL, n_chunks FROM rag_stats",
            {"t": sorted(set(terms))},
        )
        n = next(int(df) for term, df in rows if term is None)
        return TermStats(n, {term: int(df) for term, df in rows if term is not None})

    def stats(self) -> PgStats:
        """Counts, version and the settings the index was built with (one snapshot)."""
        with self.pool.connection() as conn:
            self._check(conn)
            return self._stats(conn)

    @staticmethod
    def _stats(conn: psycopg.Connection[Any]) -> PgStats:
        rows = conn.execute(
            "SELECT n_documents, n_chunks, total_length, version, NULL, NULL FROM rag_stats "
            "UNION ALL SELECT NULL, NULL, NULL, NULL, key, value FROM rag_meta"
        ).fetchall()
        head = next(r for r in rows if r[4] is None)
        meta = {r[4]: r[5] for r in rows if r[4] is not None}
        return PgStats(
            int(head[0]),
            int(head[1]),
            int(head[2]),
            int(head[3]),
            int(meta.get("dim", 0)),
            meta.get("embedding_model", ""),
            meta,
        )

    def verify(self) -> PgStats:
        """Recount documents, chunks, lengths and postings from the tables; raise if the statistics disagree.

        Reads one snapshot (a repeatable-read transaction), so it can run while writers commit.
        """
        with self.pool.connection() as conn:
            self._check(conn)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                stats = self._stats(conn)
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks), "
                    "(SELECT coalesce(sum(length), 0) FROM chunks), (SELECT coalesce(sum(tf), 0) FROM postings), "
                    "(SELECT count(*) FROM postings p LEFT JOIN chunks c ON c.pk = p.chunk WHERE c.pk IS NULL OR "
                    "c.length <> p.length), "
                    "(SELECT coalesce(sum(n_chunks), 0) FROM documents), "
                    "(SELECT count(*) FROM (SELECT term, count(*) AS n FROM postings GROUP BY term) r "
                    "FULL JOIN (SELECT term, df FROM term_df WHERE df > 0) t USING (term) "
                    "WHERE r.n IS DISTINCT FROM t.df)"
                ).fetchone()
        assert row is not None
        n_docs, n_chunks, total, tf_sum, bad_postings, doc_chunks, bad_df = (int(x) for x in row)
        if (
            (n_docs, n_chunks, total) != (stats.n_documents, stats.n_chunks, stats.total_length)
            or tf_sum != total
            or bad_postings
            or doc_chunks != n_chunks
            or bad_df
        ):
            raise IndexCorruptError(
                f"the index in PostgreSQL schema {self.schema} is inconsistent "
                f"(documents {n_docs}/{stats.n_documents}, "
                f"chunks {n_chunks}/{stats.n_chunks}, length {total}/{stats.total_length}/{tf_sum}, "
                f"stray postings {bad_postings}, wrong document frequencies {bad_df}): rebuild it"
            )
        return stats

    def analyze(self) -> None:
        """Refresh the planner's statistics (after a bulk load; autovacuum does it later by itself).

        Until then the planner guesses the tables' sizes and may scan all postings instead of the
        query terms' (on ARCD: 7 ms instead of 1 ms per hybrid statement).
        """
        with self.pool.connection() as conn:
            self._check(conn)
            conn.execute("ANALYZE documents, chunks, postings, term_df, rag_stats")

    def drop(self) -> None:
        """Delete the whole index (the schema and everything in it)."""
        with self.pool.connection() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self._checked = False


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
