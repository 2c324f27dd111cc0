"""PostgreSQL + pgvector as an index backend: schema, store (SQL BM25 + HNSW, fused in one statement), server."""
