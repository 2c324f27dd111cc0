"""The docstore of a generation: articles and chunks in one SQLite file, read row by row.

Loading an index opens the file and reads nothing else: a question reads the few chunks and
articles its passages come from, so memory grows with the vectors, not with the text (a
million chunks of news are gigabytes of text). SQLite is a data format every language reads,
never pickle.

Tables::

    meta(key TEXT PRIMARY KEY, value TEXT)     n_documents, n_chunks, chunks_sha256
    documents(doc_id TEXT PRIMARY KEY, key, n_chunks, content_hash, path, data)
        data: the Document as a JSON object (title, text, date, source, author, …)
    chunks(pos INTEGER PRIMARY KEY, chunk_id, doc_id, ordinal, start, end, text)
        pos: the chunk's row in vectors.npy and in the keyword postings

A generation never changes once written, so readers open it read-only and ``immutable``:
SQLite then takes no locks and never writes a journal next to it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, overload

from ..types import Chunk, Document

DOCSTORE = "docstore.sqlite"
SCHEMA_VERSION = 1
_DOC_FIELDS = {f.name for f in fields(Document)}
_CACHE = 4096  # chunks and articles kept after a read (a question reads tens of them)


@dataclass(frozen=True)
class DocEntry:
    """What an update and `rag list` need of an article without reading its text."""

    content_hash: str
    path: str
    key: str
    n_chunks: int


class DocstoreWriter:
    """Writes a new generation's docstore; rows go to disk as they come (nothing is held)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        # The generation is invisible until its manifest is written and CURRENT names it, so a
        # crash here leaves an unpublished folder: no journal is needed, and the file is fsynced
        # once at the end.
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE documents(
                doc_id TEXT PRIMARY KEY, key TEXT NOT NULL, n_chunks INTEGER NOT NULL,
                content_hash TEXT NOT NULL, path TEXT NOT NULL, data TEXT NOT NULL);
            CREATE TABLE chunks(
                pos INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
                ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL);
            BEGIN;
            """
        )
        self.n_documents = 0
        self.n_chunks = 0
        self._digest = hashlib.sha256()

    def add(self, document: Document, key: str, chunks: Sequence[Chunk]) -> None:
        """One article and its chunks, which take the next positions."""
        data = {k: v for k, v in asdict(document).items() if k != "doc_id"}
        self._db.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
            (
                document.doc_id,
                key,
                len(chunks),
                document.content_hash,
                document.path,
                json.dumps(data, ensure_ascii=False),
            ),
        )
        rows = []
        for c in chunks:
            rows.append((self.n_chunks, c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.text))
            self._digest.update(c.chunk_id.encode())
            self._digest.update(b"\n")
            self.n_chunks += 1
        self._db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.n_documents += 1

    @property
    def chunks_sha256(self) -> str:
        """A digest of the chunk ids in order: ties the keyword postings and vectors to these chunks."""
        return self._digest.hexdigest()

    def close(self) -> None:
        meta = {
            "schema_version": SCHEMA_VERSION,
            "n_documents": self.n_documents,
            "n_chunks": self.n_chunks,
            "chunks_sha256": self.chunks_sha256,
        }
        self._db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        self._db.execute("CREATE INDEX chunks_by_doc ON chunks(doc_id, ordinal)")
        self._db.execute("COMMIT")
        self._db.close()

    def abort(self) -> None:
        self._db.close()


class Docstore:
    """A generation's docstore opened read-only; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        meta = dict(self._query("SELECT key, value FROM meta"))
        if int(meta.get("schema_version", -1)) != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"docstore schema {meta.get('schema_version')} (expected {SCHEMA_VERSION})")
        self.n_documents = int(meta["n_documents"])
        self.n_chunks = int(meta["n_chunks"])
        self.chunks_sha256 = meta["chunks_sha256"]
        self._chunks: OrderedDict[int, Chunk] = OrderedDict()
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self.chunks = ChunksView(self)
        self.documents = DocumentsView(self)
        self.entries = EntriesView(self)

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def chunk(self, pos: int) -> Chunk:
        hit = self._chunks.get(pos)
        if hit is not None:
            return hit
        rows = self._query('SELECT chunk_id, doc_id, text, start, "end", ordinal FROM chunks WHERE pos = ?', (pos,))
        if not rows:
            raise IndexError(pos)
        return self._remember(self._chunks, pos, Chunk(*rows[0]))

    def document(self, doc_id: str) -> Document:
        hit = self._docs.get(doc_id)
        if hit is not None:
            return hit
        rows = self._query("SELECT data FROM documents WHERE doc_id = ?", (doc_id,))
        if not rows:
            raise KeyError(doc_id)
        return self._remember(self._docs, doc_id, _document(doc_id, rows[0][0]))

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> Any:
        """Keep a row just read, dropping the oldest beyond ``_CACHE``."""
        with self._lock:
            cache[key] = value
            if len(cache) > _CACHE:
                cache.popitem(last=False)
        return value

    def iter_chunks(self, page: int = 20_000) -> Iterator[tuple[int, Chunk]]:
        """Every chunk with its position, in order, a page of rows at a time."""
        last = -1
        while True:
            rows = self._query(
                'SELECT pos, chunk_id, doc_id, text, start, "end", ordinal FROM chunks '
                "WHERE pos > ? ORDER BY pos LIMIT ?",
                (last, page),
            )
            if not rows:
                return
            for row in rows:
                yield row[0], Chunk(*row[1:])
            last = rows[-1][0]

    def chunks_of(self, doc_ids: Iterable[str]) -> list[tuple[int, Chunk]]:
        """The chunks of some articles, with their positions, in article then chunk order."""
        out: list[tuple[int, Chunk]] = []
        ids = list(doc_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self._query(
                f'SELECT pos, chunk_id, doc_id, text, start, "end", ordinal FROM chunks '
                f"WHERE doc_id IN ({marks}) ORDER BY pos",
                part,
            )
            out += [(r[0], Chunk(*r[1:])) for r in rows]
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _document(doc_id: str, data: str) -> Document:
    raw = json.loads(data)
    if not isinstance(raw, dict):
        raise ValueError("an article row is not a JSON object")
    return Document(doc_id=doc_id, **{k: v for k, v in raw.items() if k in _DOC_FIELDS})


class ChunksView(Sequence[Chunk]):
    """The chunks in store order, read from the docstore on access."""

    def __init__(self, store: Docstore) -> None:
        self._store = store

    def __len__(self) -> int:
        return self._store.n_chunks

    @overload
    def __getitem__(self, pos: int) -> Chunk: ...
    @overload
    def __getitem__(self, pos: slice) -> list[Chunk]: ...
    def __getitem__(self, pos: int | slice) -> Chunk | list[Chunk]:
        if isinstance(pos, slice):
            return [self._store.chunk(i) for i in range(*pos.indices(len(self)))]
        if pos < 0:
            pos += len(self)
        if not 0 <= pos < len(self):
            raise IndexError(pos)
        return self._store.chunk(pos)

    def __iter__(self) -> Iterator[Chunk]:
        for _, chunk in self._store.iter_chunks():
            yield chunk


class DocumentsView(Mapping[str, Document]):
    """doc_id → Document, read from the docstore on access."""

    def __init__(self, store: Docstore) -> None:
        self._store = store

    def __getitem__(self, doc_id: str) -> Document:
        return self._store.document(doc_id)

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        return bool(self._store._query("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)))

    def __len__(self) -> int:
        return self._store.n_documents

    def __iter__(self) -> Iterator[str]:
        return iter([r[0] for r in self._store._query("SELECT doc_id FROM documents ORDER BY doc_id")])

    def values(self) -> list[Document]:  # type: ignore[override]
        rows = self._store._query("SELECT doc_id, data FROM documents ORDER BY doc_id")
        return [_document(i, d) for i, d in rows]

    def items(self) -> list[tuple[str, Document]]:  # type: ignore[override]
        return [(d.doc_id, d) for d in self.values()]


class EntriesView(Mapping[str, DocEntry]):
    """doc_id → DocEntry (hash, path, key, chunk count), without reading any text."""

    def __init__(self, store: Docstore) -> None:
        self._store = store
        self._all: dict[str, DocEntry] | None = None

    def _load(self) -> dict[str, DocEntry]:
        if self._all is None:
            rows = self._store._query("SELECT doc_id, content_hash, path, key, n_chunks FROM documents ORDER BY doc_id")
            self._all = {r[0]: DocEntry(r[1], r[2], r[3], int(r[4])) for r in rows}
        return self._all

    def __getitem__(self, doc_id: str) -> DocEntry:
        if self._all is not None:
            return self._all[doc_id]
        rows = self._store._query("SELECT content_hash, path, key, n_chunks FROM documents WHERE doc_id = ?", (doc_id,))
        if not rows:
            raise KeyError(doc_id)
        r = rows[0]
        return DocEntry(r[0], r[1], r[2], int(r[3]))

    def __len__(self) -> int:
        return self._store.n_documents

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())
