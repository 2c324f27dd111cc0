"""The PostgreSQL backend behind the pipeline: the same two roles as ``rag.index.local``.

``PgIndex`` is the writer (``update``, ``repair``, ``open``), ``PgSnapshot`` what one question
reads (``candidates``, ``chunks``, ``documents``, ``entries``, ``term_stats``, ``dense_reference``,
``name``). The pipeline, the chain, `rag eval` and the chat window use them exactly as they use
``LocalIndex`` and ``IndexStore``.

Consistency. A question's search, the chunks and articles it returns and the document frequencies
of the question's words are read by one SQL statement (``PgStore.read_question``): one snapshot, so
a writer committing meanwhile is not seen half-way, and one round trip. Writers
commit a batch of whole articles per transaction (``BATCH_DOCS``), each under the store's
advisory lock, after embedding it outside any transaction: an indexer killed mid-way leaves its
committed batches, which are complete articles, and nothing of the batch it was writing; running
it again skips what was committed (same content hash) and resumes. A whole `rag index` run is not
one transaction on purpose: it would hold the writers' lock for the hours embedding can take.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import IndexMissingError, RagError
from ...types import Chunk, Document, TermStats
from ..docstore import DocEntry
from ..local import BuildReport, ProgressFactory, embedding_text
from ..plan import plan_update
from .schema import HnswParams
from .store import PgStore

if TYPE_CHECKING:
    from ...config import Settings
    from ...embed import ArrayEmbeddings
    from ...retrieve import Candidate

BATCH_DOCS = 32
_STORES: dict[tuple[str, str, int], PgStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(settings: Settings, dim: int, model: str) -> PgStore:
    """One pooled store per database, schema and model in this process."""
    key = (str(settings.pg_dsn), settings.pg_schema, dim)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None or store.model != model:
            store = PgStore(
                str(settings.pg_dsn),
                dim,
                model,
                index_settings=settings.index_fingerprint(),
                hnsw=HnswParams(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search),
                schema=settings.pg_schema,
                pool_size=settings.pg_pool_size,
            )
            _STORES[key] = store
        return store


def _where(settings: Settings) -> str:
    return f"PostgreSQL schema {settings.pg_schema}"


class PgIndex:
    """An index in PostgreSQL: opened by readers, updated by any number of writers (they take turns)."""

    def __init__(
        self,
        settings: Settings,
        embeddings: Callable[[], ArrayEmbeddings],
        *,
        progress: ProgressFactory | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._embeddings = embeddings
        self.progress = progress
        self.notify = notify

    def _store(self) -> PgStore:
        emb = self._embeddings()
        return store_for(self.settings, emb.dim, emb.name)

    def exists(self) -> bool:
        """Whether the schema holds a rag index."""
        store = self._store()
        with store.pool.connection() as conn:
            row = conn.execute("SELECT to_regclass('rag_meta') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def open(self) -> PgSnapshot:
        if not self.exists():
            raise IndexMissingError(
                f"no index in {_where(self.settings)}: run `rag index PATHS` with RAG_BACKEND=postgres"
            )
        return PgSnapshot(self._store(), self.settings)

    def update(
        self,
        loaded: Sequence[Document] = (),
        *,
        sync: bool = False,
        protected_paths: Iterable[str] = (),
        remove: Iterable[str] = (),
        rebuild: bool = False,
        wait: bool = True,
    ) -> BuildReport:
        """Add (or with ``sync`` make the index hold exactly) ``loaded``; drop ``remove``; ``rebuild``
        re-embeds everything. ``wait`` is accepted for the local backend's signature: writers here
        take turns per batch, they never refuse each other."""
        from ...chunk import chunk_documents
        from ..keywords import chunk_terms

        t0 = time.perf_counter()
        store = self._store()
        emb = self._embeddings()
        if rebuild:
            store.drop()
        store.ensure_schema()
        _ensure_reference(store, emb)
        rows = store.list_documents()
        old_keys = {r.doc_id: r.key for r in rows}
        remove = list(remove)
        unknown = [i for i in remove if i not in old_keys]
        if unknown:
            raise RagError(
                f"no article with id {', '.join(map(repr, unknown))} in {_where(self.settings)}: see `rag list`"
            )
        old_docs = store.documents(list(old_keys)) if (loaded or sync) else {r.doc_id: _stub(r) for r in rows}
        plan = plan_update(old_docs, old_keys, loaded, sync=sync, protected_paths=protected_paths, remove=remove)
        todo = [d for d in plan.documents if d.doc_id in set(plan.added) | set(plan.changed)]
        embedded = 0
        callback = None
        if todo:
            chunks_all = chunk_documents(
                todo,
                chunk_tokens=self.settings.chunk_tokens,
                chunk_overlap=self.settings.chunk_overlap,
                tokenizer=self.settings.tokenizer,
            )
            callback = self.progress(len(chunks_all)) if self.progress else None
            by_doc: dict[str, list[Chunk]] = {}
            for c in chunks_all:
                by_doc.setdefault(c.doc_id, []).append(c)
            for lo in range(0, len(todo), BATCH_DOCS):
                batch = todo[lo : lo + BATCH_DOCS]
                chunks = [c for d in batch for c in by_doc.get(d.doc_id, [])]
                titles = {d.doc_id: d.title for d in batch}
                vecs = emb.embed_in_batches([embedding_text(titles[c.doc_id], c.text) for c in chunks], callback)
                embedded += len(chunks)
                store.upsert_documents(batch, chunks, vecs, chunk_terms(titles, chunks), keys=plan.keys)
        if plan.removed:
            store.remove_documents(plan.removed)
        if todo or plan.removed:
            store.analyze()
        stats = store.stats()
        return BuildReport(
            n_documents=stats.n_documents,
            n_chunks=stats.n_chunks,
            embedded_chunks=embedded,
            added=plan.added,
            changed=plan.changed,
            removed=plan.removed,
            kept=plan.kept,
            seconds=time.perf_counter() - t0,
            duplicates=plan.duplicates,
            generation=f"postgres:{self.settings.pg_schema}@{stats.version}",
        )

    def repair(self, wait: bool = True) -> str:
        """Check the statistics against the tables (one snapshot); there are no files to restore."""
        stats = self._store().verify()
        return (
            f"the index in {_where(self.settings)} is consistent ({stats.n_documents} articles, "
            f"{stats.n_chunks} chunks, version {stats.version}): nothing to repair"
        )


def _stub(row: Any) -> Document:
    return Document(row.doc_id, row.title, "", row.path, row.date, row.source, row.author, row.content_hash)


def _ensure_reference(store: PgStore, emb: ArrayEmbeddings) -> None:
    """The model's cosine levels (related / unrelated texts), measured once per index."""
    with store.pool.connection() as conn:
        row = conn.execute("SELECT value FROM rag_meta WHERE key = 'dense_reference'").fetchone()
    if row:
        return
    from ...embed import measure_scale

    ref = json.dumps(measure_scale(emb))
    with store.pool.connection() as conn:
        conn.execute("INSERT INTO rag_meta VALUES ('dense_reference', %s) ON CONFLICT (key) DO NOTHING", (ref,))


class PgSnapshot:
    """What a question reads from PostgreSQL: searches and the rows they return, in one snapshot."""

    def __init__(self, store: PgStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        stats = store.stats()
        self.version = stats.version
        self.name = f"postgres:{settings.pg_schema}@{stats.version}"
        ref = json.loads(stats.meta.get("dense_reference", '{"related": 0.85, "unrelated": 0.7}'))
        self.dense_reference = {"related": float(ref["related"]), "unrelated": float(ref["unrelated"])}
        self.n_chunks = stats.n_chunks
        self._chunks: dict[int, Chunk] = {}
        self._docs: dict[str, Document] = {}
        self.chunks = _ChunkLookup(self)
        self.documents = _DocumentLookup(self)
        self.entries = _EntryLookup(self)
        self._lock = threading.Lock()
        self._df = _DocFreq(store)
        self._stale = False

    def is_live(self) -> bool:
        """Whether no writer has committed since this snapshot was taken (else the pipeline reopens)."""
        return not self._stale and self.store.version() == self.version

    def close(self) -> None:
        """Nothing is pinned: the pool stays open for the process."""

    # ---- one question -----------------------------------------------------------------------
    def candidates(
        self, mode: str, query_vec: np.ndarray, question: str, pool: int, fusion: str = "score", weight: float = 0.5
    ) -> list[Candidate]:
        """The question's candidates, with their chunks, articles and the document frequencies of the
        question's words (the answerer's IDF weights) read in the same statement: one round trip."""
        from ...arabic import analyze_words
        from ...crosslingual import english_keys, fusion_weight, latin_names, translated_terms
        from ...retrieve import Candidate
        from ..keywords import analyze_for_bm25

        terms = analyze_for_bm25(question)
        # An English word reaches BM25 as the best of its glossary's Arabic renderings (rag.crosslingual).
        alternatives = translated_terms(question)
        if mode == "keyword" and not terms and not alternatives:
            return []
        # The answerer weighs every reading of every question word (rag.answerer.extractive).
        wanted = {t for word in analyze_words(question) for t in word} | set(terms)
        wanted |= {t for group in alternatives for t in group}
        wanted |= {k for word in english_keys(question) for k in word if not k.startswith("~")}

        # A question partly in another script leans on the cross-lingual dense side, as locally.
        weight = fusion_weight(question, weight)
        rows = self.store.read_question(mode, query_vec, terms, pool, weight, wanted, alternatives)
        with self._lock:
            self._chunks.update(rows.chunks)
            self._docs.update(rows.documents)
            if rows.version == self.version:
                self._df.remember(wanted, rows.df)
            else:
                # A writer committed since this snapshot opened: these frequencies are the newer
                # version's; leave the cache to this one, and let the pipeline reopen next question.
                self._stale = True
        # Every search mode returns the cosine (dense is never None here).
        hits = [Candidate(h.pk, h.score, h.dense or 0.0, h.keyword) for h in rows.hits]
        if mode == "hybrid" and fusion == "score" and hits and latin_names(question):
            # Latin-script names matched by skeleton join the keyword evidence, as locally: hybrid
            # returns the whole candidate pool with both scores, so it is fused again here.
            hits = _fused_with_names(question, hits, [rows.chunks[c.pos].text for c in hits], weight)
        return hits

    @property
    def term_stats(self) -> TermStats:
        return TermStats(self.n_chunks, self._df)


def _fused_with_names(question: str, hits: list[Candidate], texts: list[str], weight: float) -> list[Candidate]:
    """rag.retrieve.hybrid_candidates' fusion of the pool, with the question's names in the keyword side."""
    from ...crosslingual import name_scores, with_names
    from ...retrieve import fuse_scores

    cos = np.array([c.dense for c in hits], dtype=np.float64)
    bm = np.array([c.keyword or 0.0 for c in hits], dtype=np.float64)
    bm = with_names(bm, np.asarray(name_scores(question, texts), dtype=np.float64))
    return fuse_scores([c.pos for c in hits], cos, bm, weight)  # ties keep the statement's order


class _ChunkLookup(Mapping[int, Chunk]):
    def __init__(self, snap: PgSnapshot) -> None:
        self._snap = snap

    def __getitem__(self, pk: int) -> Chunk:
        hit = self._snap._chunks.get(pk)
        if hit is None:
            hit = self._snap.store.chunks([pk])[pk]
        return hit

    def __len__(self) -> int:
        return self._snap.n_chunks

    def __iter__(self) -> Iterator[int]:
        raise TypeError("the chunks of a PostgreSQL index are read by key, not listed")


class _DocumentLookup(Mapping[str, Document]):
    def __init__(self, snap: PgSnapshot) -> None:
        self._snap = snap

    def __getitem__(self, doc_id: str) -> Document:
        hit = self._snap._docs.get(doc_id)
        if hit is None:
            hit = self._snap.store.documents([doc_id])[doc_id]
            self._snap._docs[doc_id] = hit
        return hit

    def __len__(self) -> int:
        return self._snap.store.stats().n_documents

    def __iter__(self) -> Iterator[str]:
        return iter([r.doc_id for r in self._snap.store.list_documents()])

    def values(self) -> list[Document]:  # type: ignore[override]
        return [_stub(r) for r in self._snap.store.list_documents()]


class _EntryLookup(Mapping[str, DocEntry]):
    def __init__(self, snap: PgSnapshot) -> None:
        self._snap = snap
        self._all: dict[str, DocEntry] | None = None

    def _load(self) -> dict[str, DocEntry]:
        if self._all is None:
            self._all = {
                r.doc_id: DocEntry(r.content_hash, r.path, r.key, r.n_chunks) for r in self._snap.store.list_documents()
            }
        return self._all

    def __getitem__(self, doc_id: str) -> DocEntry:
        return self._load()[doc_id]

    def __len__(self) -> int:
        return len(self._load())

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())


class _DocFreq(Mapping[str, int]):
    """Document frequencies of the snapshot: those of each question's words arrive with its search
    (``remember``); any other term asked is read from term_df on its own (and remembered)."""

    def __init__(self, store: PgStore) -> None:
        self._store = store
        self._seen: dict[str, int] = {}

    def remember(self, asked: Iterable[str], found: Mapping[str, int]) -> None:
        """Record the frequencies of ``asked`` terms (0 for those ``found`` lacks)."""
        self._seen.update({term: int(found.get(term, 0)) for term in asked})

    def __getitem__(self, term: str) -> int:
        if term not in self._seen:
            stats = self._store.term_stats([term])
            self._seen[term] = int(stats.df.get(term, 0))
        if not self._seen[term]:
            raise KeyError(term)
        return self._seen[term]

    def get(self, term: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[term]
        except KeyError:
            return default

    def __len__(self) -> int:
        return len(self._seen)

    def __iter__(self) -> Iterator[str]:
        return iter(self._seen)
