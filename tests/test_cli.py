"""The `rag` command line: output people read, files it writes, and one-line errors with exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main
from rag.pipeline import RAG

from .conftest import ARTICLES, SEED

ARTICLE = ARTICLES / "001_592edc9b261770c7.txt"  # the Gerasimov–Akar meeting in Ankara
QUESTION = "من هو رئيس الأركان الروسي الذي أجرى محادثات في أنقرة؟"


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rag: error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def articles_index(real_rag: RAG, tmp_path: Path) -> Path:
    """RAG_INDEX_DIR holding a copy of the session's real index of data/articles (nothing to embed)."""
    target = tmp_path / "index"
    shutil.copytree(real_rag.settings.index_dir, target)
    return target


@pytest.mark.slow
def test_ask_json(articles_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["question"] == QUESTION
    assert out["answered"] is True
    assert "جيراسيموف" in out["answer"]
    assert "[1]" in out["answer"]
    cited = out["citations"][0]
    assert cited["number"] == 1 and cited["doc_id"] == ARTICLE.name
    assert cited["quote"] in cited["passage"]
    assert {"title", "date", "source", "start", "end"} <= set(cited)
    assert out["passages"] and out["passages"][0]["rank"] == 1


@pytest.mark.slow
def test_first_ask_builds_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_CORPUS", str(ARTICLE))
    index_dir = tmp_path / "index"
    # Only the default index folder is built automatically: make this test's folder the default.
    monkeypatch.setattr("rag.config.DEFAULT_INDEX_DIR", index_dir)
    assert not index_dir.exists()
    assert main(["ask", QUESTION]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # The short answer first, then the quoted sentence that holds the gold answer.
    assert lines[0].startswith("الإجابة: ") and lines[1] == ""
    assert "جيراسيموف" in lines[2] and "[1]" in lines[2]
    assert "المصادر:" in out and "[1] " in out
    assert (index_dir / "CURRENT").is_file()


@pytest.mark.slow
def test_index_prints_counts_and_reuses_vectors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = tmp_path / "my-index"
    assert main(["index", str(ARTICLE), "--index-dir", str(index_dir)]) == 0
    first = capsys.readouterr().out
    assert first.startswith("indexed 1 articles, ")
    n_chunks = int(first.split(", ")[1].split()[0])
    assert n_chunks >= 1
    assert f"{index_dir}: added 1, changed 0, removed 0; {n_chunks} chunks embedded" in first

    assert main(["index", str(ARTICLE), "--index-dir", str(index_dir)]) == 0
    second = capsys.readouterr().out
    assert f"indexed 1 articles, {n_chunks} chunks" in second
    assert "added 0, changed 0, removed 0; 0 chunks embedded" in second


def test_index_missing_path_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-folder"
    assert main(["index", str(missing), "--index-dir", str(tmp_path / "idx")]) == 2
    captured = capsys.readouterr()
    line = _one_line_error(captured.err)
    assert str(missing) in line and "no such file or folder" in line
    assert captured.out == ""
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_empty_question_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "   "]) == 2
    assert "question is empty" in _one_line_error(capsys.readouterr().err)


def test_malformed_gold_file_error_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "q1", "question": "سؤال؟", "answers": ["جواب"]}, ensure_ascii=False)
    gold.write_text(good + "\n" + '{"id": "q2", "question": \n', encoding="utf-8")
    assert main(["eval", str(gold), "--no-progress"]) == 2
    captured = capsys.readouterr()
    line = _one_line_error(captured.err)
    assert f"{gold}:2: not valid JSON" in line
    assert captured.out == ""


def test_eval_missing_gold_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nope.jsonl"), "--no-progress"]) == 2
    assert "does not exist" in _one_line_error(capsys.readouterr().err)


@pytest.mark.slow
@pytest.mark.skipif(not SEED.exists(), reason="the shared seed gold set is not available")
def test_eval_seed_gold_set(articles_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, report = tmp_path / "metrics.json", tmp_path / "reports" / "report.md"  # reports/ is created
    code = main(["eval", str(SEED), "--json", str(out_json), "--report", str(report), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    n_lines = sum(1 for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip())
    assert out.startswith("seed_qa.jsonl (retrieval=hybrid, answers=none)")
    assert "hit@1 / @3 / @5 / @10" in out and "answer EM / F1 / contains" in out
    assert f"metrics written to {out_json}" in out and f"report written to {report}" in out

    metrics = json.loads(out_json.read_text(encoding="utf-8"))
    assert metrics["n_questions"] == n_lines
    assert metrics["config"]["n_documents"] == 5
    # The product's floor on its own gold set: the right article is retrieved, and answers quote it.
    assert metrics["retrieval"]["hit@5"] >= 0.9
    assert metrics["answer"]["contains"] >= 0.6
    assert f"{metrics['n_questions']} ({metrics['n_answerable']})" in out

    md = report.read_text(encoding="utf-8")
    assert "# Evaluation: seed_qa.jsonl" in md and "](report.png)" in md
    assert report.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_console_script_reports_errors_on_one_line(tmp_path: Path) -> None:
    """The installed `rag` script, as a user runs it: asking a folder that holds no index (a typo in
    --index-dir) is a one-line error naming the command to run; nothing is built there."""
    found = Path(sys.executable).with_name("rag")
    script = str(found) if found.exists() else shutil.which("rag")
    if script is None:
        pytest.skip("the rag console script is not installed")
    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    env = {**os.environ, "RAG_CORPUS": str(empty)}
    proc = subprocess.run(
        [script, "ask", QUESTION, "--index-dir", str(tmp_path / "nowhere" / "index")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    line = _one_line_error(proc.stderr)
    target = tmp_path / "nowhere" / "index"
    assert f"no index in {target}: run `rag index PATHS --index-dir {target}`" in line
    assert not target.exists()


def test_an_unusable_index_folder_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    code = main(["ask", "سؤال؟", "--index-dir", str(blocker / "index")])
    assert code == 2
    assert "a-file" in _one_line_error(capsys.readouterr().err)


def test_indexing_an_empty_folder_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    assert main(["index", str(empty), "--index-dir", str(tmp_path / "idx")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "No articles could be loaded" in line and str(empty) in line
