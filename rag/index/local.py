"""The local index backend: FAISS vectors + JSON-lines docstore + BM25, in immutable generations.

Files of a generation folder (the index folder around it is described in ``generations``)::

    .rag-generation   marker: this project made the folder (only such folders are ever deleted)
    documents.jsonl   the cleaned articles, one per line
    chunks.jsonl      the chunks (text, character offsets) in store order
    vectors.faiss     FAISS inner-product index over the chunk vectors, same order
    keywords/, term_stats.json   the keyword side (``rag.index.keywords``)
    manifest.json     settings, model, one entry per article, and every file's size and sha256

Every file is checked against the manifest when it is loaded, and the manifest against the
checksum that CURRENT records, so damage is reported (with the repair command) instead of
giving wrong answers. No pickle: every file is JSON, JSON lines, .npy or FAISS's own format.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import IndexBusyError, IndexCorruptError, IndexMissingError, RagError, StoreError
from ..types import Chunk, Document, TermStats
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
    DocEntry,
    Manifest,
    check_settings,
    checksum,
    file_entries,
    parse_manifest,
    verify,
)
from .plan import Duplicate, Plan, plan_update

if TYPE_CHECKING:
    import faiss

    from ..config import Settings
    from ..embed import ArrayEmbeddings
    from .keywords import KeywordIndex

DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.faiss"
Writer = Callable[[Path, Sequence[Document], Sequence[Chunk]], None]
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
    """One loaded generation: documents, chunks and vectors, pinned against deletion while in use."""

    def __init__(
        self,
        index_dir: Path,
        path: Path,
        manifest: Manifest,
        documents: dict[str, Document],
        chunks: list[Chunk],
        index: faiss.Index,
        pin: Pin | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.path = path
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.index = index
        self._pin = pin
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
        import faiss

        def read(name: str) -> bytes:
            return _read_verified(index_dir, gen, manifest, name)

        name = DOCUMENTS
        try:
            documents = {d.doc_id: d for d in (Document(**row) for row in _parse_jsonl(read(DOCUMENTS)))}
            name = CHUNKS
            chunks = [Chunk(**row) for row in _parse_jsonl(read(CHUNKS))]
            name = VECTORS
            index = faiss.deserialize_index(np.frombuffer(read(VECTORS), dtype=np.uint8))
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise IndexCorruptError(f"{gen / name} is damaged ({str(exc)[:120]}): {repair_hint(index_dir)}") from exc
        if (
            index.ntotal != len(chunks)
            or len(chunks) != manifest.n_chunks
            or int(index.d) != manifest.dim
            or set(documents) != set(manifest.documents)
            or any(c.doc_id not in documents for c in chunks)
        ):
            raise IndexCorruptError(
                f"the index in {gen} is inconsistent (documents, chunks and vectors disagree): {repair_hint(index_dir)}"
            )
        return cls(index_dir, gen, manifest, documents, chunks, index, pin)

    @property
    def name(self) -> str:
        """The generation's name: answers record which index version they came from."""
        return self.path.name

    def read(self, name: str) -> bytes:
        """A file of this generation, checked against the manifest."""
        return _read_verified(self.index_dir, self.path, self.manifest, name)

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
            from .keywords import KeywordIndex

            self._keywords = KeywordIndex.load(self.path, self.chunks, read=self.read)
        return self._keywords

    @property
    def term_stats(self) -> TermStats:
        """Document frequencies of keyword terms (for the answerer's IDF weights)."""
        if self._stats is None:
            from .keywords import load_term_stats

            self._stats = load_term_stats(self.path, read=self.read)
        return self._stats

    # ---- searching -----------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.index.d)

    def vectors(self) -> np.ndarray:
        """All chunk vectors, in chunk order (a flat index stores them exactly)."""
        if self.index.ntotal == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.index.reconstruct_n(0, self.index.ntotal), dtype=np.float32)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position, cosine) for one normalised query vector."""
        k = min(k, self.index.ntotal)
        if k <= 0:
            return []
        scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


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


def _read_verified(index_dir: Path, gen: Path, manifest: Manifest, name: str) -> bytes:
    try:
        data = (gen / name).read_bytes()
    except FileNotFoundError:
        raise IndexCorruptError(f"{gen / name} is missing: {repair_hint(index_dir)}") from None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {gen / name} ({exc.strerror}): {repair_hint(index_dir)}") from exc
    return verify(data, name, manifest, gen, index_dir)


def _parse_jsonl(data: bytes) -> list[dict[str, Any]]:
    rows = []
    for line in io.StringIO(data.decode("utf-8")):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a line is not a JSON object")
            rows.append(row)
    return rows


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
            old = self._open_previous(rebuild)
            try:
                old_docs = old.documents if old is not None else {}
                old_keys = {i: e.key for i, e in old.manifest.documents.items()} if old is not None else {}
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
        from ..chunk import chunk_documents

        emb = self._embeddings()
        docs = plan.documents
        # Unchanged articles keep their chunks and vectors: embedding is the expensive step.
        same = {
            d.doc_id
            for d in docs
            if reuse is not None
            and d.doc_id in reuse.documents
            and reuse.documents[d.doc_id].content_hash == d.content_hash
            and reuse.documents[d.doc_id].text == d.text
            and reuse.documents[d.doc_id].title == d.title
        }
        to_chunk = [d for d in docs if d.doc_id not in same]
        new_chunks = chunk_documents(
            to_chunk,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            tokenizer=self.settings.tokenizer,
        )
        titles = {d.doc_id: d.title for d in to_chunk}
        texts = [embedding_text(titles[c.doc_id], c.text) for c in new_chunks]
        # An edited article keeps most of its chunks word for word: reuse their vectors too.
        known = _vectors_by_text(reuse) if reuse is not None and texts else {}
        missing = [n for n, t in enumerate(texts) if t not in known]
        n_total = len(new_chunks) + sum(1 for c in (reuse.chunks if reuse else []) if c.doc_id in same)
        check_disk_space(self.index_dir, docs, n_total, emb.dim)
        callback = self.progress(len(missing)) if self.progress else None
        fresh = emb.embed_in_batches([texts[n] for n in missing], callback)
        new_vecs = np.zeros((len(texts), emb.dim), dtype=np.float32)
        for n, t in enumerate(texts):
            if t in known:
                new_vecs[n] = known[t]
        if missing:
            new_vecs[missing] = fresh

        chunks: list[Chunk] = []
        parts: list[np.ndarray] = []
        if reuse is not None and same:
            mask = np.array([c.doc_id in same for c in reuse.chunks], dtype=bool)
            chunks = [c for c, m in zip(reuse.chunks, mask, strict=True) if m]
            parts.append(reuse.vectors()[mask])
        chunks += new_chunks
        parts.append(new_vecs)
        vecs = np.concatenate(parts) if parts else np.zeros((0, emb.dim), np.float32)
        # Chunks grouped by article in id order, so an update and a rebuild write the same files.
        order = {d.doc_id: n for n, d in enumerate(docs)}
        perm = sorted(range(len(chunks)), key=lambda n: (order[chunks[n].doc_id], chunks[n].ordinal))
        chunks = [chunks[n] for n in perm]
        vecs = vecs[perm] if perm else vecs

        # The model's cosine scale only changes with the model.
        same_model = previous is not None and previous.manifest.embedding_name == emb.name
        if same_model and previous is not None:
            reference = dict(previous.manifest.dense_reference)
        else:
            from ..embed import measure_scale

            reference = measure_scale(emb)
        gen, _ = write_generation(
            self.index_dir,
            settings=self.settings,
            embedding={"runtime": self.settings.runtime, "name": emb.name, "dim": emb.dim},
            dense_reference=reference,
            documents=docs,
            keys=plan.keys,
            chunks=chunks,
            vectors=vecs,
            extra_writers=self.extra_writers,
        )
        return gen, len(chunks), len(missing)

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
            damaged_docs: dict[str, DocEntry] = {}
            if current is not None:
                try:
                    damaged_docs = dict(read_manifest(self.index_dir, self.index_dir / current.name, None).documents)
                except (IndexCorruptError, RagError):
                    pass
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
                lost = sorted(set(damaged_docs) - set(store.documents))
                why = problem or "the index had no usable CURRENT"
                msg = f"{why}; restored {gen.name} ({len(store.documents)} articles)"
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
            rows = _parse_jsonl(_read_verified(self.index_dir, gen, manifest, DOCUMENTS))
            docs = {d.doc_id: d for d in (Document(**row) for row in rows)}
        except (OSError, RagError, ValueError, TypeError):
            return None
        if set(docs) != set(manifest.documents):
            return None
        keys = {i: e.key for i, e in manifest.documents.items()}
        plan = Plan(tuple(docs[i] for i in sorted(docs)), keys, (), (), (), (), ())
        new_gen, n_chunks, _ = self._write(plan, None, None)
        return f"its {len(docs)} articles were intact and were embedded again into {new_gen.name} ({n_chunks} chunks)"


def _verify_all(store: IndexStore) -> None:
    """Check every file of a generation, the lazily loaded ones included."""
    for name in store.manifest.files:
        store.read(name)
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


def _vectors_by_text(store: IndexStore) -> dict[str, np.ndarray]:
    """Stored vectors keyed by the exact text the model read (title + chunk)."""
    vectors = store.vectors()
    titles = {i: d.title for i, d in store.documents.items()}
    return {embedding_text(titles.get(c.doc_id, ""), c.text): vectors[n] for n, c in enumerate(store.chunks)}


def check_disk_space(index_dir: Path, documents: Sequence[Document], n_chunks: int, dim: int) -> None:
    """Fail before the embedding work, not after it, when the new generation cannot fit on the disk."""
    text = sum(len(d.text.encode()) + len(d.title.encode()) for d in documents)
    # Articles once, chunks with their overlap once more, BM25 postings and statistics about as
    # much again as the text, the vectors, and a margin for JSON and file-system overhead.
    needed = 4 * text + n_chunks * dim * 4 + (1 << 20)
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
    documents: Sequence[Document],
    keys: dict[str, str] | Any,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    extra_writers: Sequence[Writer] = (),
) -> tuple[Path, Manifest]:
    """Write a complete generation, then atomically make it the live one. Call with the writer lock."""
    import faiss

    gen: Path | None = None
    try:
        gen = new_generation(index_dir)
        per_doc: dict[str, int] = {}
        for c in chunks:
            per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
        _write_jsonl(gen / DOCUMENTS, (asdict(d) for d in documents))
        _write_jsonl(gen / CHUNKS, (asdict(c) for c in chunks))
        index = faiss.IndexFlatIP(int(embedding["dim"]))
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        write_synced(gen / VECTORS, faiss.serialize_index(index).tobytes())
        for writer in extra_writers:
            writer(gen, documents, chunks)
        files = file_entries(gen, skip=(MARKER, MANIFEST))
        raw = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": settings.index_fingerprint(),
            "embedding": embedding,
            "dense_reference": dense_reference,
            "n_documents": len(documents),
            "n_chunks": len(chunks),
            "documents": {
                d.doc_id: {
                    "content_hash": d.content_hash,
                    "path": d.path,
                    "key": keys.get(d.doc_id, "") if keys else "",
                    "n_chunks": per_doc.get(d.doc_id, 0),
                }
                for d in documents
            },
            "files": {name: {"sha256": e.sha256, "size": e.size} for name, e in files.items()},
        }
        data = json.dumps(raw, ensure_ascii=False, indent=1).encode()
        # The manifest goes last: a generation without one is never treated as complete.
        write_synced(gen / MANIFEST, data)
        fsync_dir(gen)
        manifest = parse_manifest(data, gen / MANIFEST, index_dir)
        publish(index_dir, gen.name, checksum(data))
    except BaseException as exc:
        if gen is not None:
            shutil.rmtree(gen, ignore_errors=True)
        if isinstance(exc, OSError):
            raise StoreError(
                f"could not write the new index in {index_dir} ({exc.strerror or exc}); the previous index is unchanged"
            ) from exc
        raise
    return gen, manifest


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write(json.dumps(row, ensure_ascii=False))
        buf.write("\n")
    write_synced(path, buf.getvalue().encode())


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
