"""RAG: settings → index → retrieval → cited answer. `answer()` uses one cached default RAG."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answerer import REFUSAL_THRESHOLD, DenseScale, extract_answer
from .config import MAX_TOP_K, Settings
from .errors import IndexCorruptError, IndexMissingError, QuestionError, RagError
from .types import Answer, Document, Passage, TermStats

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import Runnable

    from .embed import ArrayEmbeddings
    from .index.keywords import KeywordIndex
    from .index.local import BuildReport, IndexStore, LocalIndex
    from .index.postgres.backend import PgIndex
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


def _to_stderr(message: str) -> None:
    print(f"rag: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class IndexReport:
    """What `rag index` did: the update, and every file it skipped or wants the user to check."""

    build: BuildReport
    skipped: tuple[Skipped, ...] = ()
    notices: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class ArticleInfo:
    """One row of `rag list`."""

    doc_id: str
    title: str
    date: str | None
    source: str | None
    chunks: int
    path: str


class RAG:
    """The question-answering pipeline over one index. Cheap to construct; loads on first use.

    Safe to share between threads: each question is answered from one loaded index generation,
    and a newer generation published by any process is picked up by the next question.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        auto_index: bool = True,
        progress: ProgressFactory | None = None,
        embeddings: ArrayEmbeddings | None = None,
        notify: Callable[[str], None] | None = _to_stderr,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._embeddings = embeddings
        self.auto_index = auto_index
        self.progress = progress
        self.notify = notify
        self._store: IndexStore | None = None
        self._chain: Runnable[Any, Answer] | None = None
        self._chat_model: BaseChatModel | None = None
        self._lock = threading.RLock()

    # ---- loaded state --------------------------------------------------------------------
    @property
    def embeddings(self) -> ArrayEmbeddings:
        """The embedding backend (given, or built from the settings once and cached)."""
        if self._embeddings is None:
            from .embed import make_embeddings

            self._embeddings = make_embeddings(self.settings)
        return self._embeddings

    @property
    def backend(self) -> LocalIndex | PgIndex:
        """The index this pipeline reads and writes: a local folder, or a PostgreSQL schema."""
        from .index.keywords import INDEX_WRITERS
        from .index.local import LocalIndex

        if self.settings.backend == "postgres":
            from .index.postgres.backend import PgIndex

            return PgIndex(
                self.settings,
                lambda: self.embeddings,
                progress=self.progress if self.progress is not None else tqdm_progress("embedding"),
                notify=self.notify,
            )

        return LocalIndex(
            self.settings,
            lambda: self.embeddings,
            progress=self.progress if self.progress is not None else tqdm_progress("embedding"),
            notify=self.notify,
            extra_writers=INDEX_WRITERS,
        )

    @property
    def store(self) -> IndexStore:
        """The live index generation, loaded once and reloaded when a newer one is published.

        Only the default index folder, and only when it holds nothing at all, is built on first
        use (from ``settings.corpus``); any other missing or damaged index is an error.
        """
        with self._lock:
            store = self._store
            if store is None or not store.is_live():
                fresh = self._load_or_build()
                self._store = fresh
                # The old generation stays pinned by any question still being answered from it.
                store = fresh
            return store

    @property
    def keywords(self) -> KeywordIndex:
        """The BM25 index of the live generation."""
        return self.store.keywords

    @property
    def term_stats(self) -> TermStats:
        """Keyword document frequencies of the live generation (the answerer's IDF weights)."""
        return self.store.term_stats

    @property
    def dense_scale(self) -> DenseScale:
        """This index's cosine levels for related and unrelated texts (recorded when it was built)."""
        ref = self.store.dense_reference
        return DenseScale(ref["related"], ref["unrelated"])

    def _load_or_build(self) -> IndexStore:
        from .index.generations import index_state, repair_hint
        from .index.local import IndexStore

        if self.settings.backend == "postgres":
            from .index.postgres.backend import PgIndex

            pg = self.backend
            assert isinstance(pg, PgIndex)
            if not pg.exists() and self.auto_index and self.settings.uses_default_index():
                self.index(self.settings.corpus)
            return pg.open()  # type: ignore[return-value]

        index_dir = self.settings.index_dir
        state = index_state(index_dir)
        if state == "live":
            return IndexStore.load(index_dir, self.settings, self.embeddings.name)
        if state == "orphaned":
            raise IndexCorruptError(
                f"{index_dir} holds index generations but no CURRENT file: {repair_hint(index_dir)}"
            )
        if state == "foreign" and not index_dir.is_dir():
            raise IndexMissingError(f"{index_dir} is a file, not an index folder: give another --index-dir")
        if state == "foreign":
            raise IndexMissingError(
                f"{index_dir} is not an index folder (it holds other files): give another --index-dir"
            )
        if not (self.auto_index and self.settings.uses_default_index()):
            raise IndexMissingError(f"no index in {index_dir}: run `rag index PATHS --index-dir {index_dir}`")
        self.index(self.settings.corpus)
        return IndexStore.load(index_dir, self.settings, self.embeddings.name)

    # ---- building ------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        sync: bool = False,
        rebuild: bool = False,
        wait: bool = True,
    ) -> IndexReport:
        """Add the articles under ``paths`` (new and changed ones; everything else stays).

        ``sync``: the index then holds exactly these articles (files that fail to load keep their
        previous version). ``rebuild``: re-embed every article (after a model or chunking change).
        Without ``paths``: the configured corpus (``settings.corpus``, the sample articles by
        default); with ``rebuild`` and no paths, just the articles already indexed.
        """
        from .ingest import read_articles

        if paths is None or len(paths) == 0:
            paths = [] if rebuild else list(self.settings.corpus)
        loaded = read_articles(list(paths), max_file_mb=self.settings.max_file_mb) if paths else None
        protected = [s.path for s in loaded.skipped] if loaded else []
        build = self.backend.update(
            loaded.documents if loaded else (), sync=sync, protected_paths=protected, rebuild=rebuild, wait=wait
        )
        self._forget()
        return IndexReport(build, loaded.skipped if loaded else (), loaded.notices if loaded else ())

    def index_documents(
        self, docs: Sequence[Document], *, sync: bool = True, rebuild: bool = False, wait: bool = True
    ) -> BuildReport:
        """Index already loaded documents (by default the index then holds exactly these)."""
        report = self.backend.update(list(docs), sync=sync, rebuild=rebuild, wait=wait)
        self._forget()
        return report

    def remove(self, doc_ids: Sequence[str], *, wait: bool = True) -> BuildReport:
        """Remove articles by id (see ``list_articles``)."""
        if not doc_ids:
            raise RagError("name the articles to remove by id (see `rag list`)")
        self._require_index()
        report = self.backend.update(remove=list(doc_ids), wait=wait)
        self._forget()
        return report

    def repair(self, *, wait: bool = True) -> str:
        """Make the live index intact again (falling back to the newest intact earlier generation)."""
        message = self.backend.repair(wait=wait)
        self._forget()
        return message

    def list_articles(self) -> list[ArticleInfo]:
        """What the index holds, one row per article, by id."""
        store = self.store
        return [
            ArticleInfo(d.doc_id, d.title, d.date, d.source, store.entries[d.doc_id].n_chunks, d.path)
            for d in sorted(store.documents.values(), key=lambda d: d.doc_id)
        ]

    def _require_index(self) -> None:
        from .index.generations import index_state

        if self.settings.backend == "postgres":
            if not self.backend.exists():  # type: ignore[union-attr]
                raise IndexMissingError(f"no index in PostgreSQL schema {self.settings.pg_schema}: nothing to change")
            return

        if index_state(self.settings.index_dir) in ("empty", "foreign"):
            raise IndexMissingError(f"no index in {self.settings.index_dir}: nothing to change")

    def _forget(self) -> None:
        with self._lock:
            self._store = None

    # ---- asking --------------------------------------------------------------------------
    def check_question(self, question: str, k: int | None = None) -> tuple[str, int]:
        """The question stripped and the number of passages, or a QuestionError saying what to change."""
        question = (question or "").strip()
        if not question:
            raise QuestionError("the question is empty: ask something about the articles")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(
                f"the question is {len(question):,} characters long; the limit is {limit:,}: ask a shorter question"
            )
        k = self.settings.top_k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_TOP_K:
            raise QuestionError(f"the number of passages (k) must be between 1 and {MAX_TOP_K}, not {k}")
        return question, k

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        """The top-k passages for a question."""
        return self.search(question, k)[0]

    def search(
        self, question: str, k: int | None = None, store: IndexStore | None = None, mode: str | None = None
    ) -> tuple[list[Passage], dict[str, float]]:
        """Top-k passages and the time spent embedding and searching (ms); ``mode`` overrides the
        configured retrieval (dense, keyword, hybrid) for this question."""
        from .config import RETRIEVAL_MODES
        from .retrieve import retrieve

        question, k = self.check_question(question, k)
        mode = mode or self.settings.retrieval
        if mode not in RETRIEVAL_MODES:
            raise QuestionError(f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}, not {mode!r}")
        store = store or self.store
        t0 = time.perf_counter()
        qvec = self.embeddings.embed_query_vector(question)
        t1 = time.perf_counter()
        passages = retrieve(store, qvec, k, question=question, mode=mode)
        t2 = time.perf_counter()
        return passages, {"embed": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3}

    def answer_from(self, question: str, passages: Sequence[Passage], store: IndexStore | None = None) -> Answer:
        """The extractive answer to a question from already retrieved passages."""
        store = store or self.store
        ref = store.dense_reference
        result = extract_answer(
            question,
            passages,
            store.term_stats,
            threshold=REFUSAL_THRESHOLD,
            max_quotes=self.settings.max_quotes,
            scale=DenseScale(ref["related"], ref["unrelated"]),
        )
        return replace(result, index_version=store.name)

    def answer(
        self,
        question: str,
        k: int | None = None,
        history: Sequence[Any] | None = None,
        *,
        use_llm: bool | None = None,
        retrieval: str | None = None,
    ) -> Answer:
        """Answer a question from the articles, with ``[n]`` citations (or say the articles do not).

        ``history``: earlier turns as ``{"role": "user"|"assistant", "content": …}`` messages (the
        format of OpenAI and of Gradio's chatbot); ``use_llm``: override the configured answer mode.
        """
        return self.as_chain().invoke(self._chain_input(question, k, history, use_llm, retrieval))

    def stream(
        self,
        question: str,
        k: int | None = None,
        history: Sequence[Any] | None = None,
        *,
        use_llm: bool | None = None,
        retrieval: str | None = None,
    ) -> Iterator[Answer]:
        """Partial answers while a language model writes, then the final checked one."""
        yield from self.as_chain().stream(self._chain_input(question, k, history, use_llm, retrieval))

    @staticmethod
    def _chain_input(
        question: str, k: int | None, history: Sequence[Any] | None, use_llm: bool | None, retrieval: str | None
    ) -> dict[str, Any]:
        return {
            "question": question,
            "k": k,
            "chat_history": list(history or ()),
            "use_llm": use_llm,
            "retrieval": retrieval,
        }

    def as_chain(self) -> Runnable[Any, Answer]:
        """The LangChain Runnable behind `answer()`: invoke/batch/stream and their async forms."""
        if self._chain is None:
            from .chain import build_chain

            self._chain = build_chain(self)
        return self._chain

    # ---- the language model (only with --llm) -------------------------------------------------
    @property
    def chat_model(self) -> BaseChatModel:
        """The configured chat model (a gguf: file is served on first use)."""
        with self._lock:
            if self._chat_model is None:
                from .llm import make_chat_model

                self._chat_model = make_chat_model(self.settings)
            return self._chat_model

    def llm_answer_chain(self) -> Runnable[dict[str, Any], str]:
        """prompt | chat model | parser over the numbered sources."""
        from .answerer.llm import answer_chain, load_prompts

        return answer_chain(self.chat_model, load_prompts())

    def condense(self, question: str, history: Sequence[Mapping[str, str]], *, use_llm: bool) -> tuple[str, bool]:
        """A follow-up made to stand alone, and whether a model rewrote it: by the model when there
        is one (falling back on failure), else by carrying the previous question's subject."""
        from .chain import carry_subject, history_text

        if use_llm:
            from .answerer.llm import condense_chain, garbled, load_prompts

            try:
                text = condense_chain(self.chat_model, load_prompts()).invoke(
                    {"history": history_text(history), "question": question}
                )
                line = next((x.strip() for x in text.strip().splitlines() if x.strip()), "")
                if line and not garbled(line) and len(line) <= self.settings.max_question_chars:
                    return line, True
            except Exception:  # the model is unavailable: the answer step will say so
                pass
        return carry_subject(question, history), False

    def as_retriever(self, k: int | None = None) -> BaseRetriever:
        """This pipeline's retrieval as a LangChain retriever (imports LangChain's retriever stack)."""
        from .lc import make_retriever

        return make_retriever(self, k or self.settings.top_k)


_default: RAG | None = None
_default_lock = threading.Lock()


def default_rag() -> RAG:
    """The process-wide RAG built from environment settings."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RAG()
        return _default


def answer(question: str, k: int | None = None, history: Sequence[Any] | None = None) -> Answer:
    """Answer an Arabic question from the default index (built from the sample articles on first use);
    ``history``: the conversation so far, as role/content messages."""
    return default_rag().answer(question, k, history)
