"""The chat window, launched for real on a free local port: `gradio_client` calls, and a real headless
Chromium that asks in Arabic and checks what a reader sees."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from .conftest import ROOT, another_writer

pytestmark = pytest.mark.slow
gradio_client = pytest.importorskip("gradio_client", reason="gradio is not installed")

QUESTION = "كم عدد الجنود الأتراك الذين قتلوا في إدلب؟"
NEW_ARTICLE = (
    "مهرجان الزيتون في جرش يختتم دورته\n\n"
    "اختتم مهرجان الزيتون في مدينة جرش دورته العاشرة بمشاركة 240 مزارعا من مختلف المحافظات. "
    "وقالت إدارة المهرجان إن عدد الزوار تجاوز 85 ألف زائر خلال عشرة أيام.\n"
)
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(real_rag, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    index_dir = tmp_path_factory.mktemp("app") / "index"
    shutil.copytree(real_rag.settings.index_dir, index_dir)
    port = _free_port()
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(index_dir.parent / "app.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, stdout=log, stderr=log, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((index_dir.parent / "app.log").read_text(errors="replace")) from None
            time.sleep(0.5)
    yield url, index_dir
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def client(app_url):  # type: ignore[no-untyped-def]
    return gradio_client.Client(app_url[0], verbose=False)


def test_a_seed_question_is_answered_with_citations(client) -> None:  # type: ignore[no-untyped-def]
    out = client.predict(QUESTION, 5, "hybrid", False, api_name="/ask")
    assert out["answered"] and "6 جنود أتراك" in out["answer"] and "[1]" in out["answer"]
    c = out["citations"][0]
    assert c["doc_id"] == "003_186e581e48ef242c.txt" and c["quote"] in c["passage"]


def test_an_off_topic_question_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    out = client.predict("ما هي أفضل وصفة لكعكة الشوكولاتة؟", 5, "hybrid", False, api_name="/ask")
    assert not out["answered"] and not out["citations"]


def test_an_empty_question_is_a_message_not_a_trace(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="the question is empty") as info:
        client.predict("   ", 5, "hybrid", False, api_name="/ask")
    assert "Traceback" not in str(info.value)


def test_the_evaluation_tab_gives_the_same_metrics_as_rag_eval(client, app_url) -> None:  # type: ignore[no-untyped-def]
    table, _plot, _failed = client.predict("seed", None, api_name="/evaluate")
    shown = {row[0]: row[1] for row in table["data"]}
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", str(ROOT / "data" / "gold" / "seed_qa.jsonl"), "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ, "RAG_INDEX_DIR": str(app_url[1])},
        timeout=300,
        check=True,
    )
    cli = dict(line.strip().split("  ", 1) for line in proc.stdout.splitlines()[1:] if "  " in line.strip())
    cli = {k.strip(): v.strip() for k, v in cli.items()}
    assert shown["EM / F1 / contains"] == cli["answer EM / F1 / contains"]
    assert f"{shown['hit@1']} / {shown['hit@3']} / {shown['hit@5']} / {shown['hit@10']}" == cli["hit@1 / @3 / @5 / @10"]
    assert shown["unanswerable refused"] == cli["unanswerable refused"]


def test_an_uploaded_article_is_answerable_at_once(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "jerash.txt"
    path.write_text(NEW_ARTICLE, encoding="utf-8")
    report, table = client.predict([gradio_client.handle_file(str(path))], api_name="/upload")
    assert "أضيف 1" in report
    assert "jerash.txt" in [row[0] for row in table["data"]]
    out = client.predict("كم مزارعا شارك في مهرجان الزيتون في جرش؟", 5, "hybrid", False, api_name="/ask")
    assert out["answered"] and "240 مزارعا" in out["answer"] and out["citations"][0]["doc_id"] == "jerash.txt"


def test_a_bad_upload_is_reported_and_the_index_is_intact(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\xff\xfe\x00\xd8" * 100)
    with pytest.raises(Exception, match=r"broken\.txt") as info:
        client.predict([gradio_client.handle_file(str(bad))], api_name="/upload")
    assert "Traceback" not in str(info.value)
    out = client.predict(QUESTION, 5, "hybrid", False, api_name="/ask")
    assert out["answered"] and "6 جنود أتراك" in out["answer"]
    # A bad file among good ones is reported by name; the good one is indexed.
    good = tmp_path / "jerash2.txt"
    good.write_text(NEW_ARTICLE.replace("العاشرة", "الحادية عشرة"), encoding="utf-8")
    report, _ = client.predict(
        [gradio_client.handle_file(str(bad)), gradio_client.handle_file(str(good))], api_name="/upload"
    )
    assert "broken.txt" in report and "أضيف 1" in report


def test_in_a_real_browser(app_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ar")

        def watch(request) -> None:  # type: ignore[no-untyped-def]
            host = urlparse(request.url).hostname
            if request.url.startswith(("http", "ws")) and host != "127.0.0.1":
                outside.append(request.url)

        page.on("request", watch)
        page.goto(app_url[0], wait_until="networkidle")
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#send").click()
        source = page.locator("#sources .source").first
        source.wait_for(timeout=60_000)
        answer = page.locator("#chat").get_by_text("6 جنود أتراك").last
        answer.wait_for(timeout=60_000)
        assert answer.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert page.locator("#question textarea").evaluate("e => getComputedStyle(e).direction") == "rtl"
        mark = page.locator("#sources mark").first
        assert mark.is_visible() and "6 جنود أتراك" in mark.inner_text()
        assert "أردوغان لبوتين" in source.inner_text()
        page.locator('#chat a[href="#src-1"]').first.click()
        page.wait_for_timeout(600)
        assert source.evaluate(
            "e => { const r = e.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }"
        )
        font = mark.evaluate("e => getComputedStyle(e).fontFamily")
        assert "Noto Naskh Arabic" in font
        assert page.evaluate("document.fonts.check('16px \"Noto Naskh Arabic\"', 'سلام')")
        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("RAG_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["RAG_SCREENSHOT"])
        browser.close()
    assert outside == [], f"requests left 127.0.0.1: {outside}"
    json.dumps(outside)


def test_an_upload_while_another_process_writes_says_the_index_is_busy(client, app_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with another_writer(app_url[1]):
        path = tmp_path / "busy.txt"
        path.write_text(NEW_ARTICLE.replace("جرش", "عجلون"), encoding="utf-8")
        with pytest.raises(Exception, match="is being updated by pid"):
            client.predict([gradio_client.handle_file(str(path))], api_name="/upload")
        out = client.predict(QUESTION, 5, "hybrid", False, api_name="/ask")  # readers are not blocked
        assert out["answered"]


def test_removing_an_article(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ajloun.txt"
    path.write_text(NEW_ARTICLE.replace("جرش", "عجلون").replace("240", "310"), encoding="utf-8")
    client.predict([gradio_client.handle_file(str(path))], api_name="/upload")
    report, table = client.predict(["ajloun.txt"], api_name="/remove")
    assert "حُذف 1" in report and "ajloun.txt" not in [row[0] for row in table["data"]]
    out = client.predict("كم مزارعا شارك في مهرجان الزيتون في عجلون؟", 5, "hybrid", False, api_name="/ask")
    assert all(c["doc_id"] != "ajloun.txt" for c in out["citations"])
    with pytest.raises(Exception, match="no article with id"):
        client.predict(["nope.txt"], api_name="/remove")
