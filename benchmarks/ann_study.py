"""Vector search at scale: recall@10 against exact search and latency of FAISS index types.

    rag bench --scale 1M --keep /tmp/scale          # builds /tmp/scale/index-1000000 (kept)
    python benchmarks/ann_study.py /tmp/scale/index-1000000 [hnsw ivf sq8 pq]

Each method is built over the index's own vectors.npy and asked 100 real questions (seed + ARCD);
its candidates are re-ranked by exact cosine, as rag.index.vectors does. The table in
benchmarks/README.md ("Vector search at a million chunks") came from this script.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from rag.bench import _questions
from rag.config import Settings
from rag.embed import make_embeddings


def _measure(name: str, index: faiss.Index, Q: np.ndarray, X: np.ndarray, exact: list[set[int]], rerank: int) -> None:
    times, recall = [], []
    for q, ex in zip(Q, exact, strict=True):
        t0 = time.perf_counter()
        ids = index.search(q[None], rerank)[1][0]
        cand = np.sort(ids[ids >= 0])
        top = cand[np.argsort(-(X[cand] @ q))[:10]]
        times.append((time.perf_counter() - t0) * 1e3)
        recall.append(len(set(top.tolist()) & ex) / 10)
    print(
        json.dumps(
            {
                "method": name,
                "recall_at_10": round(float(np.mean(recall)), 3),
                "p50_ms": round(float(np.median(times)), 2),
                "p95_ms": round(float(np.percentile(times, 95)), 2),
            }
        ),
        flush=True,
    )


def _add(index: faiss.Index, X: np.ndarray) -> None:
    for lo in range(0, len(X), 100_000):
        index.add(np.ascontiguousarray(X[lo : lo + 100_000], dtype=np.float32))


def main(index_dir: Path, methods: list[str]) -> None:
    gen = next(index_dir.glob("gen-*"))
    X = np.load(gen / "vectors.npy", mmap_mode="r")
    n, d = X.shape
    emb = make_embeddings(Settings.from_env())
    Q = np.stack([emb.embed_query_vector(q) for q in _questions()[1:101]]).astype(np.float32)
    _, ids = faiss.knn(Q, X, 10, metric=faiss.METRIC_INNER_PRODUCT)
    exact = [set(r.tolist()) for r in ids]
    faiss.omp_set_num_threads(1)
    sample = np.ascontiguousarray(X[:: max(1, n // 50_000)], dtype=np.float32)
    for method in methods:
        t0 = time.time()
        if method == "hnsw":
            index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.train(sample)
            _add(index, X)
            print(f"hnsw built in {time.time() - t0:.0f} s", flush=True)
            for ef in (128, 1024, 4096):
                index.hnsw.efSearch = ef
                _measure(f"hnsw efSearch={ef}", index, Q, X, exact, ef)
        elif method == "ivf":
            index = faiss.IndexIVFScalarQuantizer(
                faiss.IndexFlatIP(d), d, 1024, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            index.train(sample)
            _add(index, X)
            print(f"ivf built in {time.time() - t0:.0f} s", flush=True)
            for nprobe in (16, 64):
                index.nprobe = nprobe
                _measure(f"ivf-sq8 nprobe={nprobe}", index, Q, X, exact, 100)
        elif method == "sq8":
            index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            index.train(sample)
            _add(index, X)
            _measure("flat sq8", index, Q, X, exact, 100)
        elif method == "pq":
            for m in (96, 192):
                index = faiss.IndexPQFastScan(d, m, 4, faiss.METRIC_INNER_PRODUCT)
                index.train(sample)
                _add(index, X)
                print(f"pq m={m} built in {time.time() - t0:.0f} s", flush=True)
                for rerank in (500, 1000, 2000):
                    _measure(f"pq-fastscan m={m} R={rerank}", index, Q, X, exact, rerank)
        else:
            raise SystemExit(f"unknown method {method!r}: hnsw, ivf, sq8 or pq")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] or ["hnsw", "ivf", "sq8", "pq"])
