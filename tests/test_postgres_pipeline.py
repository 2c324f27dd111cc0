"""The whole product on PostgreSQL: real `rag` processes and `RAG` objects with RAG_BACKEND=postgres,
the real embedding model, a real server (tests/conftest.py's session fixture), one schema per test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rag.config import Settings

from .conftest import ARTICLES, ROOT, SEED

psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL tests need psycopg: pip install -e '.[dev]'")

pytestmark = pytest.mark.slow

QUESTIONS = [
    "من هو رئيس الأركان الروسي الذي أجرى محادثات في أنقرة؟",
    "كم عدد الجنود الأتراك الذين قتلوا في إدلب؟",
    "ما الذي دعت إليه تركيا روسيا؟",
]
CITIES = ["القاهرة", "عمان", "الرباط", "تونس", "بيروت", "الدوحة", "مسقط", "الكويت"]


def _article(n: int) -> str:
    """A short news item of its own (one or two chunks)."""
    city = CITIES[n % len(CITIES)]
    return (
        f"افتتاح معرض الكتاب رقم {n} في {city}\n\n"
        f"افتتح وزير الثقافة في {city} المعرض رقم {n} بمشاركة ناشرين من بلدان عربية عديدة. "
        f"وقال المنظمون إن المعرض رقم {n} يستمر أسبوعا ويضم ندوات عن الترجمة والنشر الرقمي.\n"
    )


def _env(dsn: str, schema: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAG_BACKEND": "postgres",
        "RAG_PG_DSN": dsn,
        "RAG_PG_SCHEMA": schema,
        "OMP_NUM_THREADS": "1",
    }


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *args]


def _rag(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(_cmd(*args), capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc


def _settings(dsn: str, schema: str) -> Settings:
    return Settings.from_env(backend="postgres", pg_dsn=dsn, pg_schema=schema)


def _folder(path: Path, numbers: range) -> Path:
    path.mkdir(parents=True)
    for n in numbers:
        (path / f"item-{n:03d}.txt").write_text(_article(n), encoding="utf-8")
    return path


def _whole_articles(dsn: str, schema: str) -> tuple[int, int]:
    """(articles, chunks) stored, after checking every article has all its chunks and every chunk its postings."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        bad = conn.execute(
            f"SELECT count(*) FROM {schema}.documents d "
            f"WHERE d.n_chunks <> (SELECT count(*) FROM {schema}.chunks c WHERE c.doc_id = d.doc_id)"
        ).fetchone()
        bare = conn.execute(
            f"SELECT count(*) FROM {schema}.chunks c "
            f"WHERE NOT EXISTS (SELECT 1 FROM {schema}.postings p WHERE p.chunk = c.pk)"
        ).fetchone()
        counts = conn.execute(
            f"SELECT (SELECT count(*) FROM {schema}.documents), (SELECT count(*) FROM {schema}.chunks)"
        ).fetchone()
    assert bad == (0,), "an article is stored without all its chunks"
    assert bare == (0,), "a chunk is stored without its postings"
    assert counts is not None
    return int(counts[0]), int(counts[1])


def _expected_chunks(paths: list[Path]) -> int:
    """How many chunks the indexer makes of these articles (the same loader and chunker)."""
    from rag.chunk import chunk_documents
    from rag.ingest.readers import load_documents

    s = Settings.from_env()
    docs, _ = load_documents(paths)
    return len(chunk_documents(docs, chunk_tokens=s.chunk_tokens, chunk_overlap=s.chunk_overlap, tokenizer=s.tokenizer))


def test_rag_commands_on_postgres_answer_as_the_local_index(
    pg_server: tuple[str, object | None],
    pg_schema: str,
    real_rag: Any,
    tmp_path: Path,
) -> None:
    env = _env(pg_server[0], pg_schema)
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    done = _rag(env, "index", str(articles))
    assert done.returncode == 0, done.stderr
    assert "indexed 5 articles" in done.stdout and "added 5" in done.stdout and f"schema {pg_schema}" in done.stdout

    for q in QUESTIONS:
        asked = _rag(env, "ask", "--json", q)
        assert asked.returncode == 0, asked.stderr
        got = json.loads(asked.stdout)
        local = real_rag.answer(q)
        assert got["answer"] == local.text, q
        assert [c["doc_id"] for c in got["citations"]] == [c.doc_id for c in local.citations]

    listed = _rag(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = [a["doc_id"] for a in json.loads(listed.stdout)]
    assert ids == sorted(p.name for p in ARTICLES.iterdir())

    gone = "001_592edc9b261770c7.txt"  # the article QUESTIONS[0] is answered from
    removed = _rag(env, "remove", gone)
    assert removed.returncode == 0, removed.stderr
    assert "removed 1" in removed.stdout and "now holds 4 articles" in removed.stdout
    listed = _rag(env, "list", "--json")
    assert gone not in [a["doc_id"] for a in json.loads(listed.stdout)]
    asked = _rag(env, "ask", "--json", QUESTIONS[0])
    assert gone not in [c["doc_id"] for c in json.loads(asked.stdout)["citations"]]

    repaired = _rag(env, "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "is consistent (4 articles" in repaired.stdout
    unknown = _rag(env, "remove", "no-such-article")
    assert unknown.returncode != 0 and "no article with id 'no-such-article'" in unknown.stderr


def test_four_rag_index_processes_and_eight_reader_threads(
    pg_server: tuple[str, object | None], pg_schema: str, real_rag: Any, tmp_path: Path
) -> None:
    """The issue's concurrency test: 4 indexers adding disjoint sets at once while 8 threads ask."""
    from rag.pipeline import RAG

    dsn = pg_server[0]
    env = _env(dsn, pg_schema)
    base = _folder(tmp_path / "base", range(0, 2))
    done = _rag(env, "index", str(base))  # the readers need an index to open
    assert done.returncode == 0, done.stderr
    feeds = [_folder(tmp_path / f"feed{w}", range(100 + 10 * w, 106 + 10 * w)) for w in range(4)]

    errors: list[BaseException] = []
    answers: list[int] = []
    stop = threading.Event()
    settings = _settings(dsn, pg_schema)

    def reader(i: int) -> None:
        rag = RAG(settings, auto_index=False, embeddings=real_rag.embeddings)
        q = f"أين افتتح المعرض رقم {[0, 1, 100, 111, 122, 133, 104, 115][i]}؟"
        while not stop.is_set():
            try:
                a = rag.answer(q)
                assert a.index_version.startswith(f"postgres:{pg_schema}@")
                answers.append(len(a.citations))
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    procs = [
        subprocess.Popen(
            _cmd("index", str(f)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        for f in feeds
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    time.sleep(1)  # the readers ask the complete index too
    stop.set()
    for t in threads:
        t.join(60)
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert "added 6, changed 0, removed 0" in out
    assert not errors, repr(errors[0])
    assert len(answers) >= 8
    n_docs, n_chunks = _whole_articles(dsn, pg_schema)
    assert n_docs == 2 + 4 * 6
    assert n_chunks == _expected_chunks([base, *feeds])
    repaired = _rag(env, "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert f"is consistent ({n_docs} articles, {n_chunks} chunks" in repaired.stdout


def test_an_indexer_killed_mid_run_leaves_whole_articles_and_a_rerun_completes_the_set(
    pg_server: tuple[str, object | None], pg_schema: str, tmp_path: Path
) -> None:
    from rag.index.postgres.backend import BATCH_DOCS

    dsn = pg_server[0]
    env = _env(dsn, pg_schema)
    n_articles = 3 * BATCH_DOCS  # three batches: the kill lands after the first commits
    feed = _folder(tmp_path / "feed", range(n_articles))
    proc = subprocess.Popen(
        _cmd("index", str(feed)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 600
        stored = 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.monotonic() < deadline and proc.poll() is None:
                exists = conn.execute("SELECT to_regclass(%s)", (f"{pg_schema}.documents",)).fetchone()
                if exists and exists[0]:
                    row = conn.execute(f"SELECT count(*) FROM {pg_schema}.documents").fetchone()
                    stored = int(row[0]) if row else 0
                    if stored:
                        break
                time.sleep(0.05)
        assert proc.poll() is None, "the indexer finished before it could be killed: give it more articles"
        assert stored, "the indexer committed nothing in 10 minutes"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    n_docs, n_chunks = _whole_articles(dsn, pg_schema)
    assert 0 < n_docs < n_articles and n_docs % BATCH_DOCS == 0  # whole batches of whole articles
    repaired = _rag(env, "repair")
    assert repaired.returncode == 0 and f"consistent ({n_docs} articles" in repaired.stdout, repaired.stderr

    rerun = _rag(env, "index", str(feed))
    assert rerun.returncode == 0, rerun.stderr
    total = _expected_chunks([feed])
    # Only what the killed run had not committed is embedded again.
    assert f"added {n_articles - n_docs}, changed 0, removed 0" in rerun.stdout
    assert f"{total - n_chunks} chunks embedded" in rerun.stdout
    assert _whole_articles(dsn, pg_schema) == (n_articles, total)
    repaired = _rag(env, "repair")
    assert f"consistent ({n_articles} articles, {total} chunks" in repaired.stdout


@pytest.mark.parametrize("gold", [SEED, ROOT / "data" / "gold" / "seed_qa_en.jsonl"], ids=["arabic", "english"])
def test_rag_eval_of_the_seed_set_on_postgres_gives_the_local_figures(
    pg_server: tuple[str, object | None], pg_schema: str, sample_index: Path, tmp_path: Path, gold: Path
) -> None:
    # In English too: every glossary rendering of a word (the best one counts) and the names
    # matched by skeleton reach the PostgreSQL search as they reach the local one.
    local_env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_INDEX_DIR": str(sample_index), "OMP_NUM_THREADS": "1"}
    pg_env = _env(pg_server[0], pg_schema)
    assert _rag(pg_env, "index", str(ARTICLES)).returncode == 0
    figures = {}
    for name, env in (("local", local_env), ("postgres", pg_env)):
        out = tmp_path / f"{name}.json"
        done = _rag(env, "eval", str(gold), "--json", str(out), "--no-progress")
        assert done.returncode == 0, done.stderr[-2000:]
        m = json.loads(out.read_text(encoding="utf-8"))
        figures[name] = {
            "hit@1": m["retrieval"]["hit@1"],
            "hit@5": m["retrieval"]["hit@5"],
            "mrr@10": m["retrieval"]["mrr@10"],
            "contains": m["answer"]["contains"],
            "f1": m["answer"]["f1"],
            "answerable refused": m["refusal"]["answerable_refused"],
            "unanswerable refused": m["refusal"]["unanswerable_refused"],
        }
    assert figures["postgres"] == pytest.approx(figures["local"], abs=1e-9)
    assert figures["local"]["hit@1"] > 0.6  # the comparison is of a working pipeline
