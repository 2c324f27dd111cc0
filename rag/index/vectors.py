"""The dense side of a generation: exact vectors on disk, and a compressed index when the index is large.

Files::

    vectors.npy          float32 [n_chunks, dim], L2-normalised, row = chunk position; memory-mapped
    vectors.pq.faiss     only for indexes of ``ann_min_chunks`` chunks or more: FAISS product
                         quantisation with fast scan (IndexPQFastScan, ``pq_m`` sub-vectors of 4 bits:
                         96 bytes a vector for dim 384, 1/16 of the float vectors)

Small indexes are searched exactly (FAISS brute force over the mapped matrix: ~9 ms per query at
100k chunks on this 2-core machine). Above the threshold the quantised codes are scanned (all of
them, in SIMD registers: a few ms at a million) for the ``ann_rerank`` best candidates, whose exact
cosines, read from ``vectors.npy``, rank them. HNSW was measured first and rejected: on an archive
with many near-copies (the same wire story re-published, the benchmark's noisy copies) its recall@10
against exact search stayed at 0.32-0.52 whatever efSearch, where PQ fast scan + re-ranking 1,000
reached 0.98 (benchmarks/scale.md). The choice and its parameters are recorded in the manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import faiss

VECTORS = "vectors.npy"
ANN = "vectors.pq.faiss"
KIND = "pq-fastscan"


@dataclass(frozen=True)
class AnnParams:
    """When an index gets a quantised index, how fine it is, and how many candidates are re-ranked."""

    min_chunks: int = 200_000
    pq_m: int = 192
    rerank: int = 1000


def pq_subvectors(dim: int, wanted: int) -> int:
    """The largest even number of sub-vectors ≤ ``wanted`` that divides ``dim`` (FAISS needs both)."""
    for m in range(min(wanted, dim), 1, -1):
        if dim % m == 0 and m % 2 == 0:
            return m
    return 2


def plan(n_chunks: int, params: AnnParams, dim: int = 384) -> dict[str, Any]:
    """The manifest's ``vectors`` entry for an index of ``n_chunks`` chunks."""
    if n_chunks < params.min_chunks:
        return {"kind": "flat"}
    return {"kind": KIND, "m": pq_subvectors(dim, params.pq_m), "nbits": 4}


_HEADER = 128  # bytes reserved for the .npy header: room for any (rows, dim) shape


class VectorWriter:
    """Appends rows to ``vectors.npy`` as they are computed; the header is written when the count is known."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self.n = 0
        self._f = open(path, "wb")
        self._f.write(b"\0" * _HEADER)

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype="<f4")
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"expected rows of {self.dim} floats, got shape {rows.shape}")
        self._f.write(rows.tobytes())
        self.n += len(rows)

    def close(self) -> np.ndarray:
        """Write the header, fsync, and return the file memory-mapped."""
        header = {"descr": "<f4", "fortran_order": False, "shape": (self.n, self.dim)}
        text = repr(header).encode("latin1")
        pad = _HEADER - 10 - len(text) - 1
        self._f.seek(0)
        self._f.write(b"\x93NUMPY\x01\x00" + (_HEADER - 10).to_bytes(2, "little") + text + b" " * pad + b"\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return np.load(self.path, mmap_mode="r", allow_pickle=False) if self.n else np.zeros((0, self.dim), np.float32)

    def abort(self) -> None:
        self._f.close()


def build_ann(gen: Path, matrix: np.ndarray, entry: dict[str, Any]) -> None:
    """Build the quantised index next to the vectors when ``entry`` asks for one."""
    if entry["kind"] == "flat":
        return
    import faiss

    from .generations import write_synced

    dim = int(matrix.shape[1])
    index = faiss.IndexPQFastScan(dim, int(entry["m"]), int(entry["nbits"]), faiss.METRIC_INNER_PRODUCT)
    # The codebooks are learnt from a spread-out sample of the vectors (50k is plenty for 16 centroids each).
    step = max(1, len(matrix) // 50_000)
    index.train(np.ascontiguousarray(matrix[::step], dtype=np.float32))
    for lo in range(0, len(matrix), 100_000):
        index.add(np.ascontiguousarray(matrix[lo : lo + 100_000], dtype=np.float32))
    write_synced(gen / ANN, faiss.serialize_index(index).tobytes())


class VectorIndex:
    """Cosine search over one generation's chunk vectors (exact, or PQ fast scan with exact re-ranking)."""

    def __init__(self, matrix: np.ndarray, ann: faiss.Index | None = None, rerank: int = 1000) -> None:
        self.matrix = matrix
        self.ann = ann
        self.rerank = rerank

    @classmethod
    def open(cls, vectors: Path, ann: Path | None, rerank: int) -> VectorIndex:
        matrix = load_matrix(vectors)
        if matrix.dtype != np.float32 or matrix.ndim != 2:
            raise ValueError(f"expected a float32 matrix, found {matrix.dtype} with {matrix.ndim} dimensions")
        codes = None
        if ann is not None:
            import faiss

            codes = faiss.read_index(str(ann))
            if codes.ntotal != len(matrix) or codes.d != matrix.shape[1]:
                raise ValueError("the quantised index and the vectors disagree")
        return cls(matrix, codes, rerank)

    @property
    def ntotal(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def d(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def kind(self) -> str:
        return "flat" if self.ann is None else KIND

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k (chunk position, cosine) for one normalised query vector, best first."""
        k = min(k, self.ntotal)
        if k <= 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if self.ann is None:
            import faiss

            scores, ids = faiss.knn(q, self.matrix, k, metric=faiss.METRIC_INNER_PRODUCT)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        _, ids = self.ann.search(q, min(self.ntotal, max(k, self.rerank)))
        cand = np.unique(ids[0][ids[0] >= 0])
        cos = self.cosines(q[0], cand)
        top = np.lexsort((cand, -cos))[:k]
        return [(int(cand[i]), float(cos[i])) for i in top]

    def exact_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact top-k whatever the index kind (what recall is measured against)."""
        import faiss

        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        scores, ids = faiss.knn(q, self.matrix, min(k, self.ntotal), metric=faiss.METRIC_INNER_PRODUCT)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def cosines(self, query: np.ndarray, positions: Any) -> np.ndarray:
        """Exact cosines of the query with the chunks at ``positions``."""
        pos = np.asarray(positions, dtype=np.int64)
        if not len(pos):
            return np.zeros(0, dtype=np.float64)
        order = np.argsort(pos)  # mapped rows are read in file order
        vecs = np.empty((len(pos), self.d), dtype=np.float32)
        vecs[order] = self.matrix[pos[order]]
        return np.asarray(vecs @ np.asarray(query, dtype=np.float32), dtype=np.float64)

    def rows(self, positions: Any) -> np.ndarray:
        """The vectors at ``positions`` (a copy)."""
        return np.asarray(self.matrix[np.asarray(positions, dtype=np.int64)], dtype=np.float32)


def load_matrix(path: Path) -> np.ndarray:
    """A .npy file memory-mapped (an empty one, which cannot be mapped, read as it is)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:
        return np.load(path, allow_pickle=False)
