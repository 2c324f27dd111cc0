"""The dense side of a generation: exact vectors on disk, and an HNSW graph when the index is large.

Files::

    vectors.npy          float32 [n_chunks, dim], L2-normalised, row = chunk position; memory-mapped
    vectors.hnsw.faiss   only for indexes of ``ann_min_chunks`` chunks or more: a FAISS HNSW graph
                         over 8-bit scalar-quantised copies of the vectors (IndexHNSWSQ)

Small indexes are searched exactly (FAISS brute force over the mapped matrix: ~9 ms per query at
100k chunks on this 2-core machine). Above the threshold the HNSW graph proposes
``max(k, ef_search)`` candidates and their exact cosines, read from ``vectors.npy``, rank them:
the quantised copy keeps the graph at ~40% of the memory of full vectors, and the exact re-ranking
gives back the precision quantisation loses. The choice and its parameters are recorded in the
manifest; ``rag bench --scale`` measures recall@10 against exact search (benchmarks/scale.md).
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
ANN = "vectors.hnsw.faiss"


@dataclass(frozen=True)
class AnnParams:
    """When an index gets an HNSW graph, and how it is built and searched (see benchmarks/scale.md)."""

    min_chunks: int = 200_000
    m: int = 32
    ef_construction: int = 80
    ef_search: int = 128


def plan(n_chunks: int, params: AnnParams) -> dict[str, Any]:
    """The manifest's ``vectors`` entry for an index of ``n_chunks`` chunks."""
    if n_chunks < params.min_chunks:
        return {"kind": "flat"}
    return {"kind": "hnsw-sq8", "m": params.m, "ef_construction": params.ef_construction}


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
    """Build the HNSW graph next to the vectors when ``entry`` asks for one."""
    if entry["kind"] == "flat":
        return
    import faiss

    from .generations import write_synced

    dim = int(matrix.shape[1])
    index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, int(entry["m"]), faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = int(entry["ef_construction"])
    # The quantiser learns each component's range from a spread-out sample of the vectors.
    step = max(1, len(matrix) // 100_000)
    index.train(np.ascontiguousarray(matrix[::step], dtype=np.float32))
    for lo in range(0, len(matrix), 100_000):
        index.add(np.ascontiguousarray(matrix[lo : lo + 100_000], dtype=np.float32))
    write_synced(gen / ANN, faiss.serialize_index(index).tobytes())


class VectorIndex:
    """Cosine search over one generation's chunk vectors (exact, or HNSW with exact re-ranking)."""

    def __init__(self, matrix: np.ndarray, ann: faiss.Index | None = None, ef_search: int = 128) -> None:
        self.matrix = matrix
        self.ann = ann
        self.ef_search = ef_search

    @classmethod
    def open(cls, vectors: Path, ann: Path | None, ef_search: int) -> VectorIndex:
        matrix = load_matrix(vectors)
        if matrix.dtype != np.float32 or matrix.ndim != 2:
            raise ValueError(f"expected a float32 matrix, found {matrix.dtype} with {matrix.ndim} dimensions")
        graph = None
        if ann is not None:
            import faiss

            # The quantised codes are mapped, not copied: loading stays fast at a million chunks.
            graph = faiss.read_index(str(ann), faiss.IO_FLAG_MMAP_IFC)
            if graph.ntotal != len(matrix) or graph.d != matrix.shape[1]:
                raise ValueError("the HNSW graph and the vectors disagree")
        return cls(matrix, graph, ef_search)

    @property
    def ntotal(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def d(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def kind(self) -> str:
        return "flat" if self.ann is None else "hnsw-sq8"

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
        import faiss

        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        _, ids = self.ann.search(q, max(k, self.ef_search), params=params)
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
