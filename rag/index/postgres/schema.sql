-- The rag index in PostgreSQL, schema version 2 (2 added term_df). rag.index.postgres.schema fills in {dim}, {m} and
-- {ef_construction} (integers) and runs this in one transaction, in the index's own schema.

-- Settings the index was built with (schema_version, embedding model and dim, chunking, analyzer,
-- HNSW parameters): a store opened with other settings is refused instead of mixing vectors.
CREATE TABLE IF NOT EXISTS rag_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- One row: the corpus statistics BM25 needs (N, average length) and a version bumped by every
-- write. Writers update it in the transaction that changes the chunks, so it is always exact.
CREATE TABLE IF NOT EXISTS rag_stats (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    n_documents  bigint NOT NULL DEFAULT 0,
    n_chunks     bigint NOT NULL DEFAULT 0,
    total_length bigint NOT NULL DEFAULT 0,   -- sum of chunks.length
    version      bigint NOT NULL DEFAULT 0
);
INSERT INTO rag_stats DEFAULT VALUES ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS documents (
    doc_id       text PRIMARY KEY,
    title        text NOT NULL,
    text         text NOT NULL,
    path         text NOT NULL DEFAULT '',
    date         text,
    source       text,
    author       text,
    content_hash text NOT NULL DEFAULT '',
    key          text NOT NULL DEFAULT '',        -- the source key (rag.index.plan.source_key)
    n_chunks     integer NOT NULL,
    indexed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS chunks (
    pk        bigserial PRIMARY KEY,              -- insertion order: ties rank in it, as store order does locally
    chunk_id  text NOT NULL UNIQUE,
    doc_id    text NOT NULL REFERENCES documents ON DELETE CASCADE,
    ordinal   integer NOT NULL,
    start     integer NOT NULL,
    "end"     integer NOT NULL,
    text      text NOT NULL,
    length    integer NOT NULL,                   -- BM25 document length: analysed terms, repeats counted
    embedding vector({dim}) NOT NULL              -- L2-normalised: inner product = cosine
);
CREATE INDEX IF NOT EXISTS chunks_doc_id ON chunks (doc_id);
CREATE INDEX IF NOT EXISTS chunks_embedding ON chunks
    USING hnsw (embedding vector_ip_ops) WITH (m = {m}, ef_construction = {ef_construction});

-- BM25 postings: one row per (term, chunk). The chunk's length is repeated here so a query scores
-- from this table's primary key alone (an index-only scan). No foreign key (a check per row would
-- slow bulk loads): the writer deletes a chunk's postings in the transaction that deletes the chunk.
CREATE TABLE IF NOT EXISTS postings (
    term   text NOT NULL,
    chunk  bigint NOT NULL,
    tf     integer NOT NULL,
    length integer NOT NULL,
    PRIMARY KEY (term, chunk) INCLUDE (tf, length)
);
CREATE INDEX IF NOT EXISTS postings_chunk ON postings (chunk);

-- Document frequency of every term: the number of its postings rows, kept by the writers in the
-- transaction that adds or deletes those rows (writers take turns under the advisory lock, so the
-- counters never conflict). Read by the searches and by the answerer's IDF weights in one lookup
-- per question instead of a count per term; `rag repair` recounts it from the postings.
CREATE TABLE IF NOT EXISTS term_df (
    term text PRIMARY KEY,
    df   bigint NOT NULL CHECK (df >= 0)
);
