"""The persisted index: FAISS vectors + JSON-lines docstore + manifest, written atomically.

Layout of ``index_dir``::

    CURRENT              name of the live generation folder (replaced atomically)
    gen-<time>-<rand>/   manifest.json, documents.jsonl, chunks.jsonl, vectors.faiss,
                         keywords/ (added by the keyword index)

A build writes a complete new generation folder, then swaps CURRENT with `os.replace`
(atomic on POSIX and Windows). An interrupted build leaves CURRENT pointing at the
previous, complete generation; the stray folder is removed by the next build. No pickle:
every file is JSON, JSON lines or FAISS's own format.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from ..types import Chunk, Document

if TYPE_CHECKING:
    import faiss

    from ..config import Settings
    from ..embed import ArrayEmbeddings

FORMAT_VERSION = 1
CURRENT = "CURRENT"


def embedding_text(title: str, chunk_text: str) -> str:
    """What the model reads for a chunk: the article title helps its passages match questions about it."""
    return f"{title}\n{chunk_text}" if title else chunk_text


@dataclass(frozen=True)
class BuildReport:
    """What an index build did, for the CLI to print."""

    n_documents: int
    n_chunks: int
    embedded_chunks: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    seconds: float


class IndexStore:
    """A loaded index generation: documents, chunks, and the FAISS inner-product index."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        documents: dict[str, Document],
        chunks: list[Chunk],
        index: faiss.Index,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.index = index

    # ---- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, index_dir: Path, settings: Settings | None = None, embedding_name: str | None = None) -> IndexStore:
        """Open the live generation in ``index_dir``; check it matches the settings in use."""
        gen = live_generation(index_dir)
        if gen is None:
            raise IndexMissingError(f"no index in {index_dir}: run `rag index` to build one")
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read {gen / 'manifest.json'}: run `rag index --rebuild`") from exc
        check_manifest(manifest, settings, embedding_name)
        import faiss

        try:
            documents = {d.doc_id: d for d in (Document(**row) for row in _read_jsonl(gen / "documents.jsonl"))}
            chunks = [Chunk(**row) for row in _read_jsonl(gen / "chunks.jsonl")]
            index = faiss.read_index(str(gen / "vectors.faiss"))
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            raise IndexCorruptError(f"index files in {gen} are damaged ({exc}): run `rag index --rebuild`") from exc
        if index.ntotal != len(chunks) or manifest.get("n_chunks") != len(chunks):
            raise IndexCorruptError(f"index in {gen} is inconsistent (vectors ≠ chunks): run `rag index --rebuild`")
        return cls(gen, manifest, documents, chunks, index)

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


def live_generation(index_dir: Path) -> Path | None:
    """The folder CURRENT points at, or None when there is no complete index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    gen = index_dir / name
    return gen if name and (gen / "manifest.json").is_file() else None


def check_manifest(manifest: dict[str, Any], settings: Settings | None, embedding_name: str | None) -> None:
    """Raise IndexMismatchError, naming both sides, if the index was built differently."""
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index format {manifest.get('format_version')} is not the format this version reads "
            f"({FORMAT_VERSION}): run `rag index --rebuild`"
        )
    if settings is None:
        return
    built = manifest.get("settings", {})
    wanted = settings.index_fingerprint()
    diffs = [f"{k}={built.get(k)!r}" for k in wanted if built.get(k) != wanted[k]]
    if diffs:
        now = ", ".join(f"{k}={wanted[k]!r}" for k in wanted if built.get(k) != wanted[k])
        raise IndexMismatchError(f"index built with {', '.join(diffs)}, you are using {now}: run `rag index --rebuild`")
    built_model = manifest.get("embedding", {}).get("name")
    if embedding_name is not None and built_model != embedding_name:
        raise IndexMismatchError(
            f"index built with {built_model}, you are using {embedding_name}: run `rag index --rebuild`"
        )


# ---- writing -----------------------------------------------------------------------------
def build_index(
    settings: Settings,
    documents: Sequence[Document],
    embeddings: ArrayEmbeddings,
    *,
    rebuild: bool = False,
    keep: Iterable[str] = (),
    progress: Callable[[int], Callable[[int], None]] | None = None,
    extra_writers: Sequence[Callable[[Path, Sequence[Document], Sequence[Chunk]], None]] = (),
) -> BuildReport:
    """Index ``documents`` into ``settings.index_dir``, embedding only new or changed articles.

    ``keep`` names doc ids of the previous index to carry over unchanged even though they
    are not in ``documents`` (their files failed to load this time: we never drop data
    because of a bad read). Everything else absent from ``documents`` is removed.
    ``progress(total)`` returns a callback taking the number of chunks just embedded.
    """
    from ..chunk import chunk_documents

    t0 = time.perf_counter()
    index_dir = settings.index_dir
    # Fail before minutes of embedding, not after, when the index folder cannot be created.
    index_dir.mkdir(parents=True, exist_ok=True)
    old: IndexStore | None = None
    if not rebuild and live_generation(index_dir) is not None:
        # A mismatching or damaged index raises here: the user chooses to --rebuild.
        old = IndexStore.load(index_dir, settings, embeddings.name)
    keep = set(keep)
    new_by_id = {d.doc_id: d for d in documents}
    old_docs = old.documents if old else {}
    unchanged = {i for i, d in new_by_id.items() if i in old_docs and old_docs[i].content_hash == d.content_hash}
    carried = {i for i in keep if i in old_docs and i not in new_by_id}
    to_embed = [d for i, d in new_by_id.items() if i not in unchanged]

    # Reuse the stored vectors of unchanged articles: embedding is the expensive step.
    reused_chunks: list[Chunk] = []
    reused_vecs = np.zeros((0, embeddings.dim), dtype=np.float32)
    if old is not None:
        keep_ids = unchanged | carried
        mask = np.array([c.doc_id in keep_ids for c in old.chunks], dtype=bool)
        if mask.any():
            reused_vecs = old.vectors()[mask]
            reused_chunks = [c for c, m in zip(old.chunks, mask, strict=True) if m]

    new_chunks = chunk_documents(
        to_embed,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        tokenizer=settings.tokenizer,
    )
    titles = {d.doc_id: d.title for d in to_embed}
    texts = [embedding_text(titles[c.doc_id], c.text) for c in new_chunks]
    # An edited article keeps most of its chunks word for word: reuse their vectors too.
    known = _vectors_by_text(old) if old is not None and to_embed else {}
    missing = [n for n, t in enumerate(texts) if t not in known]
    callback = progress(len(missing)) if progress else None
    fresh = embeddings.embed_in_batches([texts[n] for n in missing], callback)
    new_vecs = np.zeros((len(texts), embeddings.dim), dtype=np.float32)
    for n, t in enumerate(texts):
        if t in known:
            new_vecs[n] = known[t]
    if missing:
        new_vecs[missing] = fresh

    all_docs = [new_by_id[i] for i in sorted(new_by_id)] + [old_docs[i] for i in sorted(carried)]
    order = {d.doc_id: n for n, d in enumerate(all_docs)}
    chunks = reused_chunks + new_chunks
    vecs = np.concatenate([reused_vecs, new_vecs]) if len(chunks) else reused_vecs
    # Keep chunks grouped by article in a stable order, so a rebuild and an update agree.
    perm = sorted(range(len(chunks)), key=lambda n: (order[chunks[n].doc_id], chunks[n].ordinal))
    chunks = [chunks[n] for n in perm]
    vecs = vecs[perm] if len(perm) else vecs

    # The model's cosine scale only changes with the model, which a loaded old index shares.
    reference = old.manifest.get("dense_reference") if old is not None else None
    if reference is None:
        from ..embed import measure_scale

        reference = measure_scale(embeddings)
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": settings.index_fingerprint(),
        "embedding": {"runtime": settings.runtime, "name": embeddings.name, "dim": embeddings.dim},
        "dense_reference": reference,
        "n_documents": len(all_docs),
        "n_chunks": len(chunks),
        "documents": {d.doc_id: {"content_hash": d.content_hash, "path": d.path} for d in all_docs},
    }
    write_generation(index_dir, manifest, all_docs, chunks, vecs, extra_writers)
    old_ids = set(old_docs)
    return BuildReport(
        n_documents=len(all_docs),
        n_chunks=len(chunks),
        embedded_chunks=len(missing),
        added=tuple(sorted(set(new_by_id) - old_ids)),
        changed=tuple(sorted(i for i in new_by_id if i in old_ids and i not in unchanged)),
        removed=tuple(sorted(old_ids - set(new_by_id) - carried)),
        kept=tuple(sorted(carried)),
        seconds=time.perf_counter() - t0,
    )


def _vectors_by_text(store: IndexStore) -> dict[str, np.ndarray]:
    """Stored vectors keyed by the exact text the model read (title + chunk)."""
    vectors = store.vectors()
    titles = {i: d.title for i, d in store.documents.items()}
    return {embedding_text(titles.get(c.doc_id, ""), c.text): vectors[n] for n, c in enumerate(store.chunks)}


def write_generation(
    index_dir: Path,
    manifest: dict[str, Any],
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    extra_writers: Sequence[Callable[[Path, Sequence[Document], Sequence[Chunk]], None]] = (),
) -> Path:
    """Write a complete generation folder, then atomically make it the live one."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    gen = index_dir / name
    gen.mkdir()
    try:
        _write_jsonl(gen / "documents.jsonl", (asdict(d) for d in documents))
        _write_jsonl(gen / "chunks.jsonl", (asdict(c) for c in chunks))
        index = faiss.IndexFlatIP(int(manifest["embedding"]["dim"]))
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(gen / "vectors.faiss"))
        for writer in extra_writers:
            writer(gen, documents, chunks)
        # The manifest goes last: a generation without one is never treated as complete.
        _write_text(gen / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        _fsync_dir(gen)
        _write_text(index_dir / (CURRENT + ".tmp"), name)
        os.replace(index_dir / (CURRENT + ".tmp"), index_dir / CURRENT)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise
    _remove_stale_generations(index_dir, keep=name)
    return gen


def _remove_stale_generations(index_dir: Path, keep: str) -> None:
    for p in index_dir.glob("gen-*"):
        if p.name != keep and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
