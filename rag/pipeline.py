"""RAG: settings → index → retrieval → cited answer. `answer()` uses one cached default RAG."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .answerer import REFUSAL_THRESHOLD, DenseScale, extract_answer
from .config import Settings
from .errors import IndexMissingError
from .types import Answer, Document, Passage, TermStats

if TYPE_CHECKING:
    from langchain_core.retrievers import BaseRetriever

    from .embed import ArrayEmbeddings
    from .index.keywords import KeywordIndex
    from .index.local import BuildReport, IndexStore
    from .ingest import Skipped

ProgressFactory = Callable[[int], Callable[[int], None]]


def tqdm_progress(desc: str) -> ProgressFactory:
    """A progress-bar factory for index builds (tqdm on stderr, silent when nothing to embed)."""

    def factory(total: int) -> Callable[[int], None]:
        if total == 0:
            return lambda n: None
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit="chunk", file=sys.stderr, leave=False)

        def update(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return update

    return factory


class RAG:
    """The question-answering pipeline over one index. Cheap to construct; loads on first use."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        auto_index: bool = True,
        progress: ProgressFactory | None = None,
        embeddings: ArrayEmbeddings | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._embeddings = embeddings
        self.auto_index = auto_index
        self.progress = progress
        self._store: IndexStore | None = None
        self._stats: TermStats | None = None
        self._keywords: KeywordIndex | None = None
        self._lock = threading.Lock()

    # ---- loaded state --------------------------------------------------------------------
    @property
    def embeddings(self) -> ArrayEmbeddings:
        """The embedding backend (given, or built from the settings once and cached)."""
        if self._embeddings is None:
            from .embed import make_embeddings

            self._embeddings = make_embeddings(self.settings)
        return self._embeddings

    @property
    def store(self) -> IndexStore:
        """The loaded index; built from ``settings.corpus`` on first use when there is none."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._load_or_build()
        return self._store

    def _load_or_build(self) -> IndexStore:
        from .index.local import IndexStore, live_generation

        if live_generation(self.settings.index_dir) is None:
            if not self.auto_index:
                raise IndexMissingError(f"no index in {self.settings.index_dir}: run `rag index` to build one")
            self.index(self.settings.corpus)
        return IndexStore.load(self.settings.index_dir, self.settings, self.embeddings.name)

    @property
    def term_stats(self) -> TermStats:
        if self._stats is None:
            from .index.keywords import load_term_stats

            self._stats = load_term_stats(self.store.path)
        return self._stats

    @property
    def dense_scale(self) -> DenseScale:
        """This index's cosine levels for related and unrelated texts (recorded when it was built)."""
        ref = self.store.manifest.get("dense_reference") or {}
        return DenseScale(float(ref.get("related", 1.0)), float(ref.get("unrelated", 0.0)))

    @property
    def keywords(self) -> KeywordIndex:
        """The BM25 index of the loaded generation (loaded on first use, checked against its chunks)."""
        if self._keywords is None:
            from .index.keywords import KeywordIndex

            store = self.store
            self._keywords = KeywordIndex.load(store.path, store.chunks)
        return self._keywords

    # ---- building ------------------------------------------------------------------------
    def index(
        self, paths: Sequence[str | Path] | None = None, *, rebuild: bool = False
    ) -> tuple[BuildReport, list[Skipped]]:
        """(Re)index files/folders (default: the configured corpus), embedding only new or changed articles."""
        from .ingest import load_documents

        docs, skipped = load_documents(list(paths or self.settings.corpus))
        keep = self._doc_ids_of_paths([s.path for s in skipped])
        return self.index_documents(docs, rebuild=rebuild, keep=keep), skipped

    def index_documents(
        self, docs: Sequence[Document], *, rebuild: bool = False, keep: Sequence[str] = ()
    ) -> BuildReport:
        """Make the index hold exactly ``docs`` (plus ``keep``), embedding only what changed."""
        from .index.keywords import INDEX_WRITERS
        from .index.local import build_index

        report = build_index(
            self.settings,
            docs,
            self.embeddings,
            rebuild=rebuild,
            keep=keep,
            progress=self.progress if self.progress is not None else tqdm_progress("embedding"),
            extra_writers=INDEX_WRITERS,
        )
        self._store = None
        self._stats = None
        self._keywords = None
        return report

    def _doc_ids_of_paths(self, paths: Sequence[str]) -> list[str]:
        """Doc ids the live index holds for these source paths (to keep them when their files fail to load)."""
        import json

        from .index.local import live_generation

        gen = live_generation(self.settings.index_dir)
        if gen is None or not paths:
            return []
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        wanted = {str(Path(p).resolve()) for p in paths}
        return [
            i
            for i, meta in manifest.get("documents", {}).items()
            if str(Path(meta.get("path", "")).resolve()) in wanted
        ]

    # ---- asking --------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        """The top-k passages for a question."""
        return self.search(question, k)[0]

    def search(self, question: str, k: int | None = None) -> tuple[list[Passage], dict[str, float]]:
        """Top-k passages and the time spent embedding and searching (ms)."""
        from .retrieve import retrieve

        question = _check_question(question)
        store = self.store
        keywords = self.keywords if self.settings.retrieval != "dense" else None
        t0 = time.perf_counter()
        qvec = self.embeddings.embed_query_vector(question)
        t1 = time.perf_counter()
        passages = retrieve(
            store, qvec, k or self.settings.top_k, question=question, mode=self.settings.retrieval, keywords=keywords
        )
        t2 = time.perf_counter()
        return passages, {"embed": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3}

    def answer_from(self, question: str, passages: Sequence[Passage]) -> Answer:
        """The extractive answer to a question from already retrieved passages."""
        return extract_answer(
            question,
            passages,
            self.term_stats,
            threshold=REFUSAL_THRESHOLD,
            max_quotes=self.settings.max_quotes,
            scale=self.dense_scale,
        )

    def answer(self, question: str, k: int | None = None) -> Answer:
        """Answer a question from the articles, with ``[n]`` citations (or say the articles do not)."""
        passages, timings = self.search(question, k)
        t0 = time.perf_counter()
        result = self.answer_from(question, passages)
        timings["answer"] = (time.perf_counter() - t0) * 1e3
        timings["total"] = timings["embed"] + timings["search"] + timings["answer"]
        result.timings_ms.update(timings)
        return result

    def as_retriever(self, k: int | None = None) -> BaseRetriever:
        """This pipeline's retrieval as a LangChain retriever (imports LangChain's retriever stack)."""
        from .lc import make_retriever

        return make_retriever(self, k or self.settings.top_k)


def _check_question(question: str) -> str:
    from .errors import RagError

    question = (question or "").strip()
    if not question:
        raise RagError("the question is empty: ask something about the articles")
    return question


_default: RAG | None = None
_default_lock = threading.Lock()


def default_rag() -> RAG:
    """The process-wide RAG built from environment settings."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RAG()
        return _default


def answer(question: str, k: int | None = None) -> Answer:
    """Answer an Arabic question from the default index (built from the sample articles on first use)."""
    return default_rag().answer(question, k)
