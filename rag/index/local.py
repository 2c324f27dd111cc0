"""The local index backend: vectors + SQLite docstore + BM25, in immutable generations.

Files of a generation folder (the index folder around it is described in ``generations``)::

    .rag-generation      marker: this project made the folder (only such folders are ever deleted)
    docstore.sqlite      the cleaned articles and their chunks, read row by row (``docstore``)
    vectors.npy          the chunk vectors, memory-mapped; vectors.pq.faiss at scale (``vectors``)
    keywords/            the BM25 side (``keywords``)
    articles.jsonl       the article ids alone, one per line: what `rag repair` reports as lost when
                         the docstore itself is damaged (never read otherwise)
    manifest.json        settings, model, counts, how vectors are searched, every file's size and sha256

Every file is checked against the manifest when it is opened (big ones by samples, see
``manifest``), and the manifest against the checksum that CURRENT records, so damage is
reported (with the repair command) instead of giving wrong answers. Nothing is read whole on
load: a question reads the rows it needs. No pickle: SQLite, JSON, .npy or FAISS's own format.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexMissingError, RagError, StoreError
from ..types import Chunk, Document, TermStats
from .docstore import DOCSTORE, Docstore, DocstoreWriter
from .generations import (
    CURRENT,
    MANIFEST,
    MARKER,
    Current,
    GenerationGone,
    Pin,
    collect_garbage,
    fsync_dir,
    generations,
    new_generation,
    publish,
    read_current,
    repair_hint,
    write_synced,
    writer_lock,
)
from .manifest import (
    FORMAT_VERSION,
    Manifest,
    check_settings,
    checksum,
    file_entries,
    parse_manifest,
    verify_file,
)
from .plan import Duplicate, Plan, plan_update
from .vectors import ANN, VECTORS, AnnParams, VectorIndex, VectorWriter

if TYPE_CHECKING:
    from ..config import Settings
    from ..embed import ArrayEmbeddings
    from ..retrieve import Candidate
    from .keywords import KeywordIndex

# Extra files a generation gets: called with the folder, every article's title by id, the chunks
# (an iterable read back from the new docstore) and their digest.
Writer = Callable[[Path, dict[str, str], Iterable[Chunk], str], None]
ARTICLES = "articles.jsonl"
# Articles embedded and written per step of a build (bounded memory, one cache commit each).
STEP_CHUNKS = 256
ProgressFactory = Callable[[int], Callable[[int], None]]


def embedding_text(title: str, chunk_text: str) -> str:
    """What the model reads for a chunk: the article title helps its passages match questions about it."""
    return f"{title}\n{chunk_text}" if title else chunk_text


@dataclass(frozen=True)
class BuildReport:
    """What an index update did, for the CLI to print."""

    n_documents: int
    n_chunks: int
    embedded_chunks: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    seconds: float
    duplicates: tuple[Duplicate, ...] = ()
    generation: str = ""


class IndexStore:
    """One loaded generation: articles, chunks and vectors, pinned against deletion while in use.

    ``documents`` and ``chunks`` are read-on-access views of the docstore (a Mapping and a
    Sequence), ``dense`` searches the vectors, ``keywords`` the BM25 postings.
    """

    def __init__(
        self,
        index_dir: Path,
        path: Path,
        manifest: Manifest,
        docstore: Docstore,
        dense: VectorIndex,
        pin: Pin | None = None,
        max_postings: int | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.path = path
        self.manifest = manifest
        self.docstore = docstore
        self.documents = docstore.documents
        self.chunks = docstore.chunks
        self.entries = docstore.entries
        self.dense = dense
        self._pin = pin
        self._max_postings = max_postings
        self._keywords: KeywordIndex | None = None
        self._stats: TermStats | None = None

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, index_dir: Path, settings: Settings | None = None, embedding_name: str | None = None) -> IndexStore:
        """Open and verify the live generation of ``index_dir``; check it matches the settings in use."""
        for _ in range(50):
            current = read_current(index_dir)
            if current is None:
                raise IndexMissingError(f"no index in {index_dir}: run `rag index PATHS --index-dir {index_dir}`")
            gen = index_dir / current.name
            try:
                pin = Pin(gen)
            except GenerationGone:
                again = read_current(index_dir)
                if again is not None and again.name != current.name:
                    continue  # a writer swapped generations while we looked: read CURRENT again
                raise IndexCorruptError(
                    f"{index_dir / CURRENT} names {current.name}, which does not exist: {repair_hint(index_dir)}"
                ) from None
            try:
                return cls._open(index_dir, gen, current.manifest_sha256, pin, settings, embedding_name)
            except BaseException:
                pin.close()
                raise
        raise IndexBusyError(f"the index in {index_dir} kept changing while it was being loaded: try again")

    @classmethod
    def _open(
        cls,
        index_dir: Path,
        gen: Path,
        manifest_sha: str | None,
        pin: Pin | None,
        settings: Settings | None,
        embedding_name: str | None,
    ) -> IndexStore:
        manifest = read_manifest(index_dir, gen, manifest_sha)
        if settings is not None:
            check_settings(manifest, settings.index_fingerprint(), embedding_name)
        ann = settings.ann if settings is not None else AnnParams()

        def open_file(name: str) -> Path:
            return verify_file(name, manifest, gen, index_dir)

        name = DOCSTORE
        docstore = None
        try:
            docstore = Docstore(open_file(DOCSTORE))
            name = VECTORS
            graph = open_file(ANN) if manifest.vectors.get("kind") != "flat" else None
            dense = VectorIndex.open(open_file(VECTORS), graph, ann.rerank)
        except (ValueError, TypeError, KeyError, RuntimeError, sqlite3.DatabaseError) as exc:
            if docstore is not None:
                docstore.close()
            raise IndexCorruptError(f"{gen / name} is damaged ({str(exc)[:120]}): {repair_hint(index_dir)}") from exc
        if (
            dense.ntotal != docstore.n_chunks
            or docstore.n_chunks != manifest.n_chunks
            or docstore.n_documents != manifest.n_documents
            or dense.d != manifest.dim
            or docstore.chunks_sha256 != manifest.chunks_sha256
        ):
            docstore.close()
            raise IndexCorruptError(
                f"the index in {gen} is inconsistent (documents, chunks and vectors disagree): {repair_hint(index_dir)}"
            )
        max_postings = settings.keyword_max_postings if settings is not None else None
        return cls(index_dir, gen, manifest, docstore, dense, pin, max_postings)

    @property
    def name(self) -> str:
        """The generation's name: answers record which index version they came from."""
        return self.path.name

    def open_file(self, name: str, full: bool = False) -> Path:
        """A file of this generation checked against the manifest (big ones by samples unless ``full``)."""
        return verify_file(name, self.manifest, self.path, self.index_dir, full=full)

    def is_live(self) -> bool:
        """Whether CURRENT still names this generation (else a newer index has been published)."""
        try:
            current = read_current(self.index_dir)
        except IndexCorruptError:
            return True  # keep answering from what we have; the damage is reported on the next load
        return current is not None and current.name == self.name

    def close(self) -> None:
        """Unpin the generation (a writer may then delete it)."""
        if self._pin is not None:
            self._pin.close()

    # ---- the keyword side (loaded on first use, from the same pinned generation) ------------
    @property
    def keywords(self) -> KeywordIndex:
        """The BM25 index of this generation, checked against its chunks."""
        if self._keywords is None:
            from .keywords import MAX_POSTINGS, KeywordIndex

            self._keywords = KeywordIndex.load(
                self.path, self.manifest.chunks_sha256, self.open_file, self._max_postings or MAX_POSTINGS
            )
        return self._keywords

    @property
    def term_stats(self) -> TermStats:
        """Document frequencies of keyword terms (for the answerer's IDF weights)."""
        if self._stats is None:
            from .keywords import term_stats

            self._stats = term_stats(self.keywords)
        return self._stats

    # ---- searching -----------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.dense.d

    @property
    def dense_reference(self) -> dict[str, float]:
        """The model's cosine levels for related and unrelated texts (measured when the index was built)."""
        return dict(self.manifest.dense_reference)

    def candidates(
        self, mode: str, query_vec: np.ndarray, question: str, pool: int, fusion: str = "score", weight: float = 0.5
    ) -> list[Candidate]:
        """The top ``pool`` chunks for a question in a retrieval mode (``rag.retrieve`` turns them into passages)."""
        from ..retrieve import dense_candidates, hybrid_candidates, keyword_candidates

        if mode == "dense":
            return dense_candidates(self, query_vec, pool)
        if mode == "keyword":
            return keyword_candidates(self, self.keywords, query_vec, question, pool)
        return hybrid_candidates(self, self.keywords, query_vec, question, pool, fusion=fusion, weight=weight)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position, cosine) for one normalised query vector."""
        return self.dense.search(query, k)

    def cosines(self, query: np.ndarray, positions: Sequence[int]) -> np.ndarray:
        """Exact cosines of the query with the chunks at ``positions``."""
        return self.dense.cosines(query, positions)

    def vectors(self) -> np.ndarray:
        """All chunk vectors in chunk order (reads the whole matrix: for small indexes and tests)."""
        return np.array(self.dense.matrix, dtype=np.float32)

    def vectors_at(self, positions: Sequence[int]) -> np.ndarray:
        """The stored vectors of the chunks at ``positions``."""
        return self.dense.rows(positions)


def read_manifest(index_dir: Path, gen: Path, expected_sha: str | None) -> Manifest:
    """Read and parse a generation's manifest, checking it against the checksum CURRENT records."""
    path = gen / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IndexCorruptError(f"{gen} is incomplete (it has no {MANIFEST}): {repair_hint(index_dir)}") from None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {path} ({exc.strerror}): {repair_hint(index_dir)}") from exc
    if expected_sha is not None and checksum(data) != expected_sha:
        raise IndexCorruptError(f"{path} is damaged (its checksum does not match CURRENT): {repair_hint(index_dir)}")
    return parse_manifest(data, path, index_dir)


# ---- writing -----------------------------------------------------------------------------
class LocalIndex:
    """One index folder on this machine: opened by readers, updated by one writer at a time."""

    def __init__(
        self,
        settings: Settings,
        embeddings: Callable[[], ArrayEmbeddings],
        *,
        progress: ProgressFactory | None = None,
        notify: Callable[[str], None] | None = None,
        extra_writers: Sequence[Writer] = (),
    ) -> None:
        self.settings = settings
        self.index_dir = settings.index_dir
        self._embeddings = embeddings
        self.progress = progress
        self.notify = notify
        self.extra_writers = tuple(extra_writers)
        self._migrating = False

    def open(self) -> IndexStore:
        """The live generation, loaded, verified and pinned."""
        return IndexStore.load(self.index_dir, self.settings, self._embeddings().name)

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
        """Add (or, with ``sync``, make the index hold exactly) ``loaded``; drop ``remove``; with
        ``rebuild``, re-embed every article (after a model or chunking change)."""
        t0 = time.perf_counter()
        with writer_lock(self.index_dir, wait=wait, notify=self.notify):
            legacy: _Format2 | None = None
            try:
                old = self._open_previous(rebuild)
            except IndexMismatchError:
                # An index written by the previous format: `--rebuild` reads its articles and
                # vectors (checked against its manifest) so that nothing is embedded again.
                legacy = _read_format2(self.index_dir) if rebuild else None
                if legacy is None:
                    raise
                old = None
                self._seed_cache(legacy)
                self._migrating = True
            try:
                old_docs: Mapping[str, Document] = old.documents if old is not None else {}
                old_keys = {i: e.key for i, e in old.entries.items()} if old is not None else {}
                if legacy is not None:
                    old_docs, old_keys = legacy.documents, legacy.keys
                unknown = [i for i in remove if i not in old_docs]
                if unknown:
                    raise RagError(
                        f"no article with id {', '.join(map(repr, unknown))} in {self.index_dir}: see `rag list`"
                    )
                plan = plan_update(
                    old_docs, old_keys, loaded, sync=sync, protected_paths=protected_paths, remove=remove
                )
                if old is not None and not plan.touched and not rebuild:
                    collect_garbage(self.index_dir)
                    return _report(plan, old.manifest.n_chunks, 0, t0, old.name)
                gen, n_chunks, embedded = self._write(plan, None if rebuild else old, old)
            finally:
                if old is not None:
                    old.close()
            collect_garbage(self.index_dir)
            return _report(plan, n_chunks, embedded, t0, gen.name)

    def _seed_cache(self, legacy: _Format2) -> None:
        from .embedcache import EmbeddingCache

        emb = self._embeddings()
        if legacy.embedding_name != emb.name or legacy.vectors.shape[1:] != (emb.dim,):
            return  # another model: its vectors are no use
        cache = EmbeddingCache(self.index_dir, emb.name, emb.dim)
        try:
            titles = {i: d.title for i, d in legacy.documents.items()}
            texts = [embedding_text(titles.get(c.doc_id, ""), c.text) for c in legacy.chunks]
            for lo in range(0, len(texts), 5000):
                cache.put_many(texts[lo : lo + 5000], legacy.vectors[lo : lo + 5000])
        finally:
            cache.close()

    def _open_previous(self, rebuild: bool) -> IndexStore | None:
        state = read_current(self.index_dir)
        if state is None:
            if generations(self.index_dir):
                raise IndexCorruptError(
                    f"{self.index_dir} holds index generations but no CURRENT file: {repair_hint(self.index_dir)}"
                )
            return None
        if rebuild:  # only the articles are needed: the settings or model may have changed
            return IndexStore.load(self.index_dir)
        return self.open()

    def _write(self, plan: Plan, reuse: IndexStore | None, previous: IndexStore | None) -> tuple[Path, int, int]:
        """Write ``plan`` as a new generation, streaming: articles go through chunking, embedding
        and the docstore a step at a time, and every computed vector is committed to the
        embedding cache first, so an interrupted build resumes where it stopped."""
        from ..chunk import chunk_documents
        from .embedcache import EmbeddingCache

        emb = self._embeddings()
        docs = plan.documents
        titles = {d.doc_id: d.title for d in docs}
        # Unchanged articles keep their chunks and vectors: embedding is the expensive step.
        same: set[str] = set()
        if reuse is not None:
            for d in docs:
                entry = reuse.entries.get(d.doc_id)
                if entry is not None and entry.content_hash == d.content_hash:
                    old = reuse.documents[d.doc_id]
                    if old.text == d.text and old.title == d.title:
                        same.add(d.doc_id)
        to_chunk = [d for d in docs if d.doc_id not in same]
        new_chunks = chunk_documents(
            to_chunk,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            tokenizer=self.settings.tokenizer,
        )
        by_doc: dict[str, list[Chunk]] = {}
        for c in new_chunks:
            by_doc.setdefault(c.doc_id, []).append(c)
        texts = [embedding_text(titles[c.doc_id], c.text) for c in new_chunks]
        n_total = len(new_chunks) + sum(reuse.entries[i].n_chunks for i in same if reuse is not None)
        cache = EmbeddingCache(self.index_dir, emb.name, emb.dim)
        try:
            if reuse is not None:
                # An edited article keeps most of its chunks word for word: their vectors too.
                _cache_old_vectors(reuse, cache, [d.doc_id for d in to_chunk if d.doc_id in reuse.entries])
            missing = cache.missing(texts)
            check_disk_space(self.index_dir, docs, n_total, emb.dim, len(missing), self.settings.ann)
            resumed = len(texts) - len(missing)
            if resumed and reuse is None and self.notify:
                self.notify(
                    f"reusing {resumed} of {len(texts)} chunk vectors of the index's previous format"
                    if self._migrating
                    else f"resuming: {resumed} of {len(texts)} chunk vectors were already computed by an earlier run"
                )
            callback = self.progress(len(missing)) if self.progress else None
            for i in range(0, len(missing), STEP_CHUNKS):
                step = [texts[n] for n in missing[i : i + STEP_CHUNKS]]
                cache.put_many(step, emb.embed_in_batches(step, callback))

            def items() -> Iterator[tuple[Document, str, Sequence[Chunk], np.ndarray]]:
                for lo in range(0, len(docs), 500):
                    block = docs[lo : lo + 500]
                    old: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
                    kept = [d.doc_id for d in block if d.doc_id in same]
                    if kept and reuse is not None:
                        rows = reuse.docstore.chunks_of(kept)
                        vecs = reuse.vectors_at([p for p, _ in rows])
                        for (_, c), v in zip(rows, vecs, strict=True):
                            old.setdefault(c.doc_id, []).append((c, v))
                    fresh = [c for d in block if d.doc_id not in same for c in by_doc.get(d.doc_id, [])]
                    found = cache.get_many([embedding_text(titles[c.doc_id], c.text) for c in fresh])
                    if len(found) != len(fresh):
                        raise StoreError(
                            "an embedding went missing from the cache during the build: run `rag index` again"
                        )
                    n = 0
                    for d in block:
                        if d.doc_id in same:
                            pairs = sorted(old.get(d.doc_id, []), key=lambda p: p[0].ordinal)
                            chunks = [c for c, _ in pairs]
                            matrix = np.array([v for _, v in pairs], dtype=np.float32).reshape(-1, emb.dim)
                        else:
                            chunks = by_doc.get(d.doc_id, [])
                            matrix = np.array([found[n + j] for j in range(len(chunks))], dtype=np.float32)
                            matrix = matrix.reshape(-1, emb.dim)
                            n += len(chunks)
                        yield d, plan.keys.get(d.doc_id, "") if plan.keys else "", chunks, matrix

            # The model's cosine scale only changes with the model.
            same_model = previous is not None and previous.manifest.embedding_name == emb.name
            if same_model and previous is not None:
                reference = dict(previous.manifest.dense_reference)
            else:
                from ..embed import measure_scale

                reference = measure_scale(emb)
            gen, manifest = write_generation(
                self.index_dir,
                settings=self.settings,
                embedding={"runtime": self.settings.runtime, "name": emb.name, "dim": emb.dim},
                dense_reference=reference,
                items=items(),
                extra_writers=self.extra_writers,
            )
        except BaseException:
            cache.close()
            raise
        cache.clear()  # its vectors now live in the published generation
        return gen, manifest.n_chunks, len(missing)

    def repair(self, wait: bool = True) -> str:
        """Make the folder's live generation an intact one; say what was done."""
        with writer_lock(self.index_dir, wait=wait, notify=self.notify):
            problem = None
            current = None
            try:
                current = read_current(self.index_dir)
                if current is not None:
                    store = IndexStore.load(self.index_dir)
                    _verify_all(store)
                    n = len(store.documents)
                    store.close()
                    return f"the index in {self.index_dir} is intact ({current.name}, {n} articles): nothing to repair"
            except (IndexCorruptError, IndexMissingError) as exc:
                problem = str(exc).split(": run `rag repair", 1)[0]
            cur = self.index_dir / CURRENT
            if cur.is_dir() and not cur.is_symlink():
                try:
                    cur.rmdir()  # an empty folder where CURRENT belongs holds nothing to lose
                except OSError:
                    raise IndexCorruptError(
                        f"{cur} is a folder with files in it, where the index's CURRENT file belongs: "
                        "move it elsewhere, then run `rag repair` again"
                    ) from None
            damaged_docs: set[str] = set()
            if current is not None:
                damaged_docs = _article_ids(self.index_dir / current.name)
            for gen in reversed(generations(self.index_dir)):
                if current is not None and gen.name == current.name:
                    continue
                try:
                    manifest_data = (gen / MANIFEST).read_bytes()
                    store = IndexStore._open(self.index_dir, gen, checksum(manifest_data), None, None, None)
                    _verify_all(store)
                except (OSError, RagError):
                    continue
                publish(self.index_dir, gen.name, checksum(manifest_data))
                lost = sorted(damaged_docs - set(store.entries))
                n_docs = len(store.documents)
                store.close()
                why = problem or "the index had no usable CURRENT"
                msg = f"{why}; restored {gen.name} ({n_docs} articles)"
                if lost:
                    shown = ", ".join(lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
                    msg += f". It lacks {len(lost)} article(s) indexed later: {shown}; index them again"
                return msg
            rebuilt = self._rebuild_from_articles(current)
            if rebuilt is not None:
                return f"{problem or 'the index was damaged'}; {rebuilt}"
            raise IndexCorruptError(
                f"{problem or 'no usable index'}; no intact earlier generation is left in {self.index_dir}: "
                f"index your articles again with `rag index --sync PATHS --index-dir {self.index_dir}`"
            )

    def _rebuild_from_articles(self, current: Current | None) -> str | None:
        """When only derived files (vectors, chunks, keywords) are damaged, the stored articles are
        intact: re-chunk and re-embed them into a new generation. None when they are not usable."""
        if current is None:
            return None
        gen = self.index_dir / current.name
        try:
            manifest = read_manifest(self.index_dir, gen, current.manifest_sha256)
            store = Docstore(verify_file(DOCSTORE, manifest, gen, self.index_dir, full=True))
            try:
                docs = dict(store.documents.items())
                keys = {i: e.key for i, e in store.entries.items()}
            finally:
                store.close()
        except (OSError, RagError, ValueError, TypeError, KeyError, sqlite3.DatabaseError):
            return None
        if len(docs) != manifest.n_documents:
            return None
        plan = Plan(tuple(docs[i] for i in sorted(docs)), keys, (), (), (), (), ())
        new_gen, n_chunks, _ = self._write(plan, None, None)
        return f"its {len(docs)} articles were intact and were embedded again into {new_gen.name} ({n_chunks} chunks)"


@dataclass(frozen=True)
class _Format2:
    """What `rag index --rebuild` needs of an index written in the previous format (2)."""

    documents: dict[str, Document]
    keys: dict[str, str]
    chunks: list[Chunk]
    vectors: np.ndarray
    embedding_name: str


def _read_format2(index_dir: Path) -> _Format2 | None:
    """The articles, chunks and vectors of a live format-2 generation, each file checked against
    its manifest's sha256; None when the live generation is not one (or is damaged)."""
    current = read_current(index_dir)
    if current is None:
        return None
    gen = index_dir / current.name
    try:
        raw = json.loads((gen / MANIFEST).read_bytes())
        if raw.get("format_version") != 2:
            return None

        def read(name: str) -> bytes:
            data = (gen / name).read_bytes()
            if checksum(data) != raw["files"][name]["sha256"]:
                raise ValueError(f"{name} does not match its checksum")
            return data

        def rows(name: str) -> list[dict[str, Any]]:
            return [json.loads(line) for line in read(name).decode("utf-8").splitlines() if line.strip()]

        import faiss

        docs = {d.doc_id: d for d in (Document(**r) for r in rows("documents.jsonl"))}
        chunks = [Chunk(**r) for r in rows("chunks.jsonl")]
        index = faiss.deserialize_index(np.frombuffer(read("vectors.faiss"), dtype=np.uint8))
        vectors = np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)
        keys = {i: str(e.get("key", "")) for i, e in raw["documents"].items()}
        if len(vectors) != len(chunks) or set(keys) != set(docs):
            return None
        return _Format2(docs, keys, chunks, vectors, str(raw["embedding"]["name"]))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def _article_ids(gen: Path) -> set[str]:
    """The ids a (possibly damaged) generation held, from its articles list; empty if unreadable."""
    try:
        return {json.loads(line) for line in (gen / ARTICLES).read_text("utf-8").splitlines() if line}
    except (OSError, ValueError, TypeError):
        return set()


def _verify_all(store: IndexStore) -> None:
    """Check every file of a generation in full, the lazily loaded ones included."""
    for name in store.manifest.files:
        store.open_file(name, full=True)
    _ = store.keywords, store.term_stats


def _report(plan: Plan, n_chunks: int, embedded: int, t0: float, generation: str) -> BuildReport:
    return BuildReport(
        n_documents=len(plan.documents),
        n_chunks=n_chunks,
        embedded_chunks=embedded,
        added=plan.added,
        changed=plan.changed,
        removed=plan.removed,
        kept=plan.kept,
        seconds=time.perf_counter() - t0,
        duplicates=plan.duplicates,
        generation=generation,
    )


def _cache_old_vectors(reuse: IndexStore, cache: Any, doc_ids: Sequence[str]) -> None:
    """Put the previous vectors of re-chunked articles into the cache, keyed by the text the model read."""
    for lo in range(0, len(doc_ids), 500):
        rows = reuse.docstore.chunks_of(doc_ids[lo : lo + 500])
        if not rows:
            continue
        vecs = reuse.vectors_at([p for p, _ in rows])
        texts = [embedding_text(reuse.documents[c.doc_id].title, c.text) for _, c in rows]
        cache.put_many(texts, vecs)


def check_disk_space(
    index_dir: Path,
    documents: Sequence[Document],
    n_chunks: int,
    dim: int,
    n_embed: int = 0,
    ann: AnnParams | None = None,
) -> None:
    """Fail before the embedding work, not after it, when the new generation cannot fit on the disk."""
    text = sum(len(d.text.encode()) + len(d.title.encode()) for d in documents)
    # Articles once, chunks with their overlap once more, BM25 postings about as much again as
    # the text, the vectors (and the embedding cache's copy of the new ones), the quantised codes
    # at scale, and a margin for SQLite and file-system overhead.
    graph = n_chunks * (ann.pq_m // 2 + 16) if ann is not None and n_chunks >= ann.min_chunks else 0
    needed = 4 * text + n_chunks * dim * 4 + n_embed * (dim * 4 + 64) + graph + (1 << 20)
    free = shutil.disk_usage(index_dir).free
    if free < needed:
        raise StoreError(
            f"not enough disk space in {index_dir}: the new index needs about {needed / 1e6:.1f} MB and "
            f"{free / 1e6:.1f} MB are free; free some space or use --index-dir on another disk"
        )


def write_generation(
    index_dir: Path,
    *,
    settings: Settings,
    embedding: dict[str, Any],
    dense_reference: dict[str, float],
    items: Iterable[tuple[Document, str, Sequence[Chunk], np.ndarray]],
    extra_writers: Sequence[Writer] = (),
) -> tuple[Path, Manifest]:
    """Write a complete generation from (article, source key, its chunks, their vectors) in store
    order, then atomically make it the live one. Call with the writer lock."""
    from .vectors import build_ann
    from .vectors import plan as vector_plan

    gen: Path | None = None
    store: DocstoreWriter | None = None
    vectors: VectorWriter | None = None
    try:
        gen = new_generation(index_dir)
        store = DocstoreWriter(gen / DOCSTORE)
        vectors = VectorWriter(gen / VECTORS, int(embedding["dim"]))
        titles: dict[str, str] = {}
        with open(gen / ARTICLES, "w", encoding="utf-8") as ids:
            for doc, key, chunks, matrix in items:
                store.add(doc, key, chunks)
                vectors.append(matrix)
                titles[doc.doc_id] = doc.title
                ids.write(json.dumps(doc.doc_id, ensure_ascii=False) + "\n")
            ids.flush()
            os.fsync(ids.fileno())
        store.close()
        matrix = vectors.close()
        store_written, vectors = store, None
        store = None
        fsync_file(gen / DOCSTORE)
        entry = vector_plan(len(matrix), settings.ann, int(embedding["dim"]))
        build_ann(gen, matrix, entry)
        digest = store_written.chunks_sha256
        if extra_writers:
            reader = Docstore(gen / DOCSTORE)
            try:
                for writer in extra_writers:
                    writer(gen, titles, reader.chunks, digest)
            finally:
                reader.close()
        files = file_entries(gen, skip=(MARKER, MANIFEST))
        raw = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": settings.index_fingerprint(),
            "embedding": embedding,
            "dense_reference": dense_reference,
            "n_documents": store_written.n_documents,
            "n_chunks": store_written.n_chunks,
            "chunks_sha256": digest,
            "vectors": entry,
            "files": {name: {"sha256": e.sha256, "size": e.size, "sample": e.sample} for name, e in files.items()},
        }
        data = json.dumps(raw, ensure_ascii=False, indent=1).encode()
        # The manifest goes last: a generation without one is never treated as complete.
        write_synced(gen / MANIFEST, data)
        fsync_dir(gen)
        manifest = parse_manifest(data, gen / MANIFEST, index_dir)
        publish(index_dir, gen.name, checksum(data))
    except BaseException as exc:
        for part in (store, vectors):
            if part is not None:
                part.abort()
        if gen is not None:
            shutil.rmtree(gen, ignore_errors=True)
        if isinstance(exc, (OSError, sqlite3.OperationalError)):
            why = getattr(exc, "strerror", None) or exc
            raise StoreError(
                f"could not write the new index in {index_dir} ({why}); the previous index is unchanged"
            ) from exc
        raise
    return gen, manifest


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def build_index(
    settings: Settings,
    documents: Sequence[Document],
    embeddings: ArrayEmbeddings,
    *,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
    extra_writers: Sequence[Writer] = (),
) -> BuildReport:
    """Make the index in ``settings.index_dir`` hold exactly ``documents``, embedding only what changed."""
    backend = LocalIndex(settings, lambda: embeddings, progress=progress, extra_writers=extra_writers)
    return backend.update(documents, sync=True, rebuild=rebuild)
