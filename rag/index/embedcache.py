"""Vectors computed by an index build that has not been published yet, kept so a rerun resumes.

Embedding is by far the slowest step (≈ 13 chunks/s on 2 cores: a million chunks is about a
day). Each batch's vectors are committed to ``INDEX/.embed-cache.sqlite`` as soon as they are
computed, keyed by a digest of the model name and the exact text embedded; a build that is
interrupted (Ctrl-C, kill -9, a full disk, a reboot) loses at most one batch, and the next
`rag index` run reads the rest back instead of embedding it again. Once a generation is
published its vectors live in it, and the cache is emptied. Only the writer (who holds the
index lock) touches the file; it is never read by `rag ask`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import StoreError

CACHE = ".embed-cache.sqlite"


class EmbeddingCache:
    """text → vector for one model, in a SQLite file of the index folder."""

    def __init__(self, index_dir: Path, model: str, dim: int) -> None:
        self.path = index_dir / CACHE
        self.model = model
        self.dim = dim
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.executescript(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                "CREATE TABLE IF NOT EXISTS vectors(key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID;"
            )
        except sqlite3.Error as exc:
            raise _failed(index_dir, exc) from exc

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model}\0{self.dim}\0{text}".encode()).digest()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def missing(self, texts: Sequence[str]) -> list[int]:
        """Which of ``texts`` (by index) have no vector yet."""
        keys = [self._key(t) for t in texts]
        have: set[bytes] = set()
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            rows = self._db.execute(f"SELECT key FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            have.update(r[0] for r in rows)
        return [n for n, k in enumerate(keys) if k not in have]

    def get_many(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Vectors already computed for some of ``texts``, by their index in ``texts``."""
        keys = [self._key(t) for t in texts]
        where: dict[bytes, list[int]] = {}
        for n, k in enumerate(keys):
            where.setdefault(k, []).append(n)
        found: dict[int, np.ndarray] = {}
        unique = list(where)
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ).fetchall()
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if len(vec) == self.dim:  # a torn row (impossible with SQLite's commit) is re-embedded
                    for n in where[key]:
                        found[n] = vec
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one batch's vectors, committed before this returns."""
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors, strict=True)]
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        except sqlite3.Error as exc:
            raise _failed(self.path.parent, exc) from exc

    def close(self) -> None:
        self._db.close()

    def clear(self) -> None:
        """Forget everything (the vectors are now in a published generation)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def _failed(index_dir: Path, exc: sqlite3.Error) -> StoreError:
    full = getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
    why = os.strerror(errno.ENOSPC) if full else str(exc)
    return StoreError(f"could not write the new index in {index_dir} ({why}); the previous index is unchanged")
