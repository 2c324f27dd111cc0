"""`rag bench --scale 10k,100k,1M`: what an index costs as it grows to a million chunks.

For each size an index is built from the real chunks of the sample corpora (ARCD's paragraphs
and the five articles), embedded once with the real model, plus copies of them whose vectors are
the real ones with Gaussian noise (σ = 0.02 per component, renormalised: each copy's cosine to
its original is ≈ 0.93, and a question's top ten are near-ties among copies, the hard case for
an approximate index). Copies keep their text: BM25 sees every term in as many chunks as at
that size, the very frequent ones included. Embedding is left out (≈ 13 chunks/s: the figures
are "build from vectors"); everything else is the real build path (`write_generation`).

Each size is built, then measured, in child processes, so each figure's peak RSS is its own:
build time and peak RSS, load time (median of 5), warm `answer()` p50/p95 in dense and hybrid
mode over real questions (the seed set's and ARCD's), recall@10 of the vector search against
exact search, the disk size, and a cold `rag ask` (wall, peak RSS). Results go to
benchmarks/scale.md (a table) and benchmarks/scale.png (the curves).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from .config import PROJECT_ROOT, Settings
from .errors import ConfigError
from .types import Chunk, Document

NOISE = 0.02
OUT_MD = PROJECT_ROOT / "benchmarks" / "scale.md"
OUT_PNG = PROJECT_ROOT / "benchmarks" / "scale.png"


def parse_sizes(text: str) -> list[int]:
    """'10k,100k,1M' → [10000, 100000, 1000000]."""
    sizes = []
    for part in text.split(","):
        p = part.strip().lower()
        mult = {"k": 1_000, "m": 1_000_000}.get(p[-1:], 1)
        try:
            n = int(float(p[:-1] if mult > 1 else p) * mult)
        except ValueError:
            raise ConfigError(f"--scale takes sizes like 10k,100k,1M, not {text!r}") from None
        if not 1_000 <= n <= 20_000_000:
            raise ConfigError(f"--scale sizes must be between 1k and 20M chunks, not {part.strip()!r}")
        sizes.append(n)
    return sizes


# ---- the base corpus: real chunks and their real vectors ------------------------------------
def base_corpus(settings: Settings, work: Path) -> tuple[list[Document], list[Chunk], np.ndarray]:
    """The sample corpora chunked and embedded with the configured model (saved in ``work``)."""
    docs_file, vec_file = work / "base-docs.jsonl", work / "base-vectors.npy"
    if not docs_file.exists():
        from .bench import _sample_documents
        from .chunk import chunk_documents
        from .embed import make_embeddings
        from .index.local import embedding_text

        docs = _sample_documents(settings)
        chunks = chunk_documents(docs, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
        titles = {d.doc_id: d.title for d in docs}
        vecs = make_embeddings(settings).embed_in_batches([embedding_text(titles[c.doc_id], c.text) for c in chunks])
        np.save(vec_file, vecs, allow_pickle=False)
        with open(docs_file, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"doc": asdict(d)}, ensure_ascii=False) + "\n")
            for c in chunks:
                f.write(json.dumps({"chunk": asdict(c)}, ensure_ascii=False) + "\n")
    docs, chunks = [], []
    for line in docs_file.read_text("utf-8").splitlines():
        row = json.loads(line)
        if "doc" in row:
            docs.append(Document(**row["doc"]))
        else:
            chunks.append(Chunk(**row["chunk"]))
    return docs, chunks, np.load(vec_file, allow_pickle=False)


def scaled_items(
    docs: Sequence[Document], chunks: Sequence[Chunk], base: np.ndarray, target: int, seed: int = 0
) -> Iterator[tuple[Document, str, list[Chunk], np.ndarray]]:
    """(article, key, chunks, vectors) for ~``target`` chunks: the originals, then noisy copies."""
    from .index.plan import source_key

    rng = np.random.default_rng(seed)
    by_doc: dict[str, list[int]] = {}
    for n, c in enumerate(chunks):
        by_doc.setdefault(c.doc_id, []).append(n)
    emitted, copy = 0, 0
    while emitted < target:
        for d in docs:
            rows = by_doc.get(d.doc_id, [])
            if not rows or emitted >= target:
                continue
            vecs = base[rows]
            if copy:
                vecs = vecs + rng.normal(0, NOISE, vecs.shape).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                doc = replace(d, doc_id=f"{d.doc_id}~{copy}", content_hash=f"{d.content_hash}~{copy}")
                cs = [replace(chunks[r], doc_id=doc.doc_id, chunk_id=f"{chunks[r].chunk_id}~{copy}") for r in rows]
            else:
                doc, cs = d, [chunks[r] for r in rows]
            emitted += len(cs)
            yield doc, source_key(doc), cs, np.asarray(vecs, dtype=np.float32)
        copy += 1


def build_scaled(settings: Settings, work: Path, target: int) -> Settings:
    """Write an index of ~``target`` chunks into ``settings.index_dir`` (with the writer lock)."""
    from .embed import make_embeddings, measure_scale
    from .index.generations import writer_lock
    from .index.keywords import INDEX_WRITERS
    from .index.local import write_generation

    docs, chunks, base = base_corpus(settings, work)
    emb = make_embeddings(settings)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with writer_lock(settings.index_dir):
        write_generation(
            settings.index_dir,
            settings=settings,
            embedding={"runtime": settings.runtime, "name": emb.name, "dim": emb.dim},
            dense_reference=measure_scale(emb),
            items=scaled_items(docs, chunks, base, target),
            extra_writers=INDEX_WRITERS,
        )
    return settings


# ---- measurements, each in a child process -------------------------------------------------
def _hwm_mb(field: str = "VmHWM") -> float:
    """A memory figure of this process from /proc (VmHWM: peak RSS; RssAnon: its own memory now,
    without the pages of memory-mapped index files, which the kernel can drop at will)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_build(index_dir: Path, work: Path, target: int) -> dict[str, Any]:
    settings = Settings.from_env(index_dir=index_dir)
    base_corpus(settings, work)  # embedded before the clock starts
    t0 = time.perf_counter()
    build_scaled(settings, work, target)
    seconds = time.perf_counter() - t0
    return {"build_s": round(seconds, 1), "build_peak_rss_mb": round(_hwm_mb())}


def child_serve(index_dir: Path, n_questions: int) -> dict[str, Any]:
    from .bench import _questions
    from .index.local import IndexStore
    from .pipeline import RAG

    settings = Settings.from_env(index_dir=index_dir)
    loads = []
    for _ in range(5):
        t0 = time.perf_counter()
        store = IndexStore.load(index_dir, settings)
        _ = store.keywords, store.term_stats
        loads.append(time.perf_counter() - t0)
        store.close()
    questions = _questions()[: n_questions + 1]
    out: dict[str, Any] = {"load_ms": round(float(np.median(loads)) * 1e3, 1)}
    for mode in ("dense", "hybrid"):
        rag = RAG(settings.with_(retrieval=mode), auto_index=False)
        rag.answer(questions[0])
        times = []
        for q in questions[1:]:
            t0 = time.perf_counter()
            rag.answer(q)
            times.append((time.perf_counter() - t0) * 1e3)
        out[f"{mode}_p50_ms"] = round(float(np.percentile(times, 50)), 1)
        out[f"{mode}_p95_ms"] = round(float(np.percentile(times, 95)), 1)
    # Serving's high-water mark, before the recall check below reads every vector (exact search).
    out["serve_peak_rss_mb"] = round(_hwm_mb())
    out["serve_anon_mb"] = round(_hwm_mb("RssAnon"))
    store = rag.store
    recall = []
    for q in questions[1:]:
        qv = rag.embeddings.embed_query_vector(q)
        got = {p for p, _ in store.search(qv, 10)}
        exact = {p for p, _ in store.dense.exact_search(qv, 10)}
        recall.append(len(got & exact) / max(1, len(exact)))
    out["vector_index"] = store.dense.kind
    out["recall_at_10"] = round(float(np.mean(recall)), 3)
    out["chunks"] = len(store.chunks)
    out["documents"] = len(store.documents)
    out["disk_mb"] = round(sum(p.stat().st_size for p in store.path.rglob("*") if p.is_file()) / 1e6)
    return out


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "rag.bench_scale", *args], capture_output=True, text=True, check=False, env=os.environ
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_scale(
    settings: Settings, sizes: Sequence[int], n_questions: int = 200, say: Any = print, keep: Path | None = None
) -> list[dict[str, Any]]:
    """Build and measure an index of each size; write benchmarks/scale.md and scale.png."""
    from .bench import bench_cold_ask

    work = keep or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        base_corpus(settings, work)
        for n in sizes:
            index_dir = work / f"index-{n}"
            built = work / f"index-{n}.build.json"
            if keep is not None and built.exists() and (index_dir / "CURRENT").exists():
                row: dict[str, Any] = json.loads(built.read_text("utf-8"))  # --keep: measure the kept index again
                say(f"scale {n:,}: reusing the index built in {row['build_s']} s; measuring…")
            else:
                shutil.rmtree(index_dir, ignore_errors=True)
                say(f"scale {n:,}: building from vectors…")
                row = {"target": n, **_child("build", str(index_dir), str(work), str(n))}
                built.write_text(json.dumps(row), "utf-8")
                say(f"scale {n:,}: built in {row['build_s']} s; measuring…")
            row.update(_child("serve", str(index_dir), str(n_questions)))
            cold = bench_cold_ask(settings.with_(index_dir=index_dir), "كم عدد الجنود الأتراك الذين قتلوا في إدلب؟", 3)
            row["cold_ask_s"] = cold["wall_s_median"]
            row["cold_ask_peak_rss_mb"] = cold["peak_rss_mb"]
            say(f"scale {n:,}: " + json.dumps(row))
            rows.append(row)
            if n >= 500_000 and keep is None:
                shutil.rmtree(index_dir, ignore_errors=True)
        write_report(rows, settings)
        return rows
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def write_report(rows: Sequence[dict[str, Any]], settings: Settings) -> None:
    """benchmarks/scale.md (the table) and benchmarks/scale.png (the curves)."""
    cols = [
        ("chunks", "chunks"),
        ("documents", "articles"),
        ("vector_index", "vectors"),
        ("build_s", "build s"),
        ("build_peak_rss_mb", "build peak MB"),
        ("load_ms", "load ms"),
        ("dense_p50_ms", "dense p50 ms"),
        ("dense_p95_ms", "dense p95 ms"),
        ("hybrid_p50_ms", "hybrid p50 ms"),
        ("hybrid_p95_ms", "hybrid p95 ms"),
        ("recall_at_10", "recall@10"),
        ("serve_peak_rss_mb", "serving peak RSS MB"),
        ("serve_anon_mb", "of it not file-mapped MB"),
        ("cold_ask_s", "cold ask s"),
        ("cold_ask_peak_rss_mb", "cold ask MB"),
        ("disk_mb", "disk MB"),
    ]
    lines = [
        "# Index cost by size",
        "",
        f"Written by `rag bench --scale {','.join(_short(r['target']) for r in rows)}` on "
        f"{time.strftime('%Y-%m-%d')} ({os.cpu_count()} cores). Vectors: exact below "
        f"{settings.ann_min_chunks:,} chunks, product quantisation above it ({settings.pq_m} 4-bit "
        f"sub-vectors, FAISS fast scan, the best {settings.ann_rerank:,} re-ranked by exact cosine). "
        " Latencies are warm `answer()` over real questions; see `rag/bench_scale.py` for the method.",
        "",
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k, _ in cols) + " |")
    OUT_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["chunks"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for key, label in (("dense_p50_ms", "dense p50"), ("hybrid_p50_ms", "hybrid p50"), ("hybrid_p95_ms", "hybrid p95")):
        axes[0].plot(xs, [r[key] for r in rows], marker="o", label=label)
    axes[0].set_title("warm answer() latency (ms)")
    for key, label in (("serve_peak_rss_mb", "serving"), ("build_peak_rss_mb", "build"), ("disk_mb", "disk")):
        axes[1].plot(xs, [r[key] for r in rows], marker="o", label=label)
    axes[1].set_title("memory and disk (MB)")
    axes[2].plot(xs, [r["load_ms"] / 1e3 for r in rows], marker="o", label="load")
    axes[2].plot(xs, [r["cold_ask_s"] for r in rows], marker="o", label="cold rag ask")
    axes[2].plot(xs, [r["build_s"] / 60 for r in rows], marker="o", label="build (min)")
    axes[2].set_title("time (s; build in min)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT_PNG, dpi=110)


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def _fmt(v: Any) -> str:
    if isinstance(v, int) and v >= 10_000:
        return f"{v:,}"
    return "—" if v is None else str(v)


def main(argv: Sequence[str]) -> None:
    step = argv[0]
    if step == "build":
        print(json.dumps(child_build(Path(argv[1]), Path(argv[2]), int(argv[3]))))
    elif step == "serve":
        print(json.dumps(child_serve(Path(argv[1]), int(argv[2]))))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
