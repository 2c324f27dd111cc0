"""A bounded load test of the chat window on loopback: N concurrent gradio_client sessions asking M
questions in all, while one upload is being indexed. Prints errors, p50/p95 latency, and which index
generations the answers came from (readers keep the old index until the new one is live).

    python benchmarks/load_app.py [--sessions 20] [--questions 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--questions", type=int, default=200)
    args = p.parse_args()
    from gradio_client import Client, handle_file

    from rag.config import Settings
    from rag.pipeline import RAG

    work = Path(tempfile.mkdtemp(prefix="rag-load-"))
    index_dir = work / "index"
    RAG(Settings(index_dir=index_dir), progress=lambda total: lambda n: None).index()  # the sample articles
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        gold = [json.loads(line) for line in (ROOT / "data" / "gold" / "seed_qa.jsonl").read_text("utf-8").splitlines()]
        questions = [g["question"] for g in gold]
        # The upload: ARCD paragraphs as articles (tens of chunks to embed: several seconds of indexing).
        uploads = work / "uploads"
        uploads.mkdir()
        arcd = json.loads((ROOT.parent / "shared" / "gold" / "arcd-train.json").read_text("utf-8"))
        for n, para in enumerate(p for art in arcd["data"] for p in art["paragraphs"][:1]):
            if n == 25:
                break
            (uploads / f"arcd{n:02d}.txt").write_text(f"فقرة {n}\n\n{para['context']}\n", encoding="utf-8")

        latencies: list[float] = []
        errors: list[str] = []
        versions: list[str] = []
        lock = threading.Lock()
        per_session = args.questions // args.sessions

        def session(s: int) -> None:
            client = Client(url, verbose=False)
            for i in range(per_session):
                q = questions[(s * per_session + i) % len(questions)]
                t0 = time.perf_counter()
                try:
                    out = client.predict(q, 5, "hybrid", False, api_name="/ask")
                    with lock:
                        latencies.append((time.perf_counter() - t0) * 1e3)
                        versions.append(out["index_version"])
                except Exception as exc:  # every failure is counted and shown
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:100]}")

        upload_report: dict[str, object] = {}

        def upload() -> None:
            client = Client(url, verbose=False)
            t0 = time.perf_counter()
            report, _table = client.predict(
                [handle_file(str(f)) for f in sorted(uploads.iterdir())], api_name="/upload"
            )
            upload_report.update(seconds=round(time.perf_counter() - t0, 1), report=report.splitlines()[0])

        threads = [threading.Thread(target=session, args=(s,)) for s in range(args.sessions)]
        uploader = threading.Thread(target=upload)
        t0 = time.perf_counter()
        uploader.start()
        for t in threads:
            t.start()
        for t in [uploader, *threads]:
            t.join()
        wall = time.perf_counter() - t0
        lat = sorted(latencies)
        result = {
            "sessions": args.sessions,
            "questions": len(lat) + len(errors),
            "errors": len(errors),
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
            "wall_s": round(wall, 1),
            "answers_per_generation": {v: versions.count(v) for v in sorted(set(versions))},
            "upload": upload_report,
            "first_errors": errors[:5],
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        app.terminate()
        app.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
