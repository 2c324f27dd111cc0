"""A generation's manifest: what it was built with, what it holds, and a checksum of every file.

Parsed strictly: a field of the wrong type is reported as damage (one line naming the file and
the field), never a Python traceback later on. The articles themselves are listed in the
docstore (``rag.index.docstore``), not here: a manifest stays a few kilobytes at a million chunks.

Every file has its sha256 and size. Files up to ``FULL_CHECK_MAX`` bytes are checked in full
each time they are loaded; bigger ones (the vectors, postings and docstore of a large index,
gigabytes at a million chunks) are checked on load by size and a sampled digest (``SAMPLES``
blocks spread over the file, ``sample_sha256``), and in full by `rag repair` and by every
`rag index` that reuses them: hashing 4 GB would take longer than the whole cold `rag ask`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError, IndexMismatchError
from .generations import repair_hint

FORMAT_VERSION = 3
FULL_CHECK_MAX = 64 << 20
SAMPLES = 64
_BLOCK = 64 << 10


@dataclass(frozen=True)
class FileEntry:
    """Size, sha256 and sampled digest of one file of a generation."""

    sha256: str
    size: int
    sample: str = ""


@dataclass(frozen=True)
class Manifest:
    """A parsed, type-checked manifest. ``raw`` keeps the JSON for fields added by later versions."""

    format_version: int
    created: str
    settings: Mapping[str, Any]
    embedding_runtime: str
    embedding_name: str
    dim: int
    dense_reference: Mapping[str, float]
    n_documents: int
    n_chunks: int
    chunks_sha256: str
    vectors: Mapping[str, Any]  # how the chunks' vectors are searched: {"kind": "flat"} or HNSW and its parameters
    files: Mapping[str, FileEntry]
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


class _Bad(Exception):
    pass


def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _Bad(f"{where}{key} is missing")
    value = obj[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _Bad(f"{where}{key} should be {names}, not {type(value).__name__}")
    return value


def parse_manifest(data: bytes, path: Path, index_dir: Path) -> Manifest:
    """Parse manifest bytes; any malformation is an IndexCorruptError naming the file and the field."""
    try:
        raw = json.loads(data.decode("utf-8"))
        version = _get(raw, "format_version", int, "")
        if version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"the index in {index_dir} has format {version}; this version of rag reads format "
                f"{FORMAT_VERSION}: run `rag index --rebuild --index-dir {index_dir}`"
            )
        emb = _get(raw, "embedding", dict, "")
        ref = _get(raw, "dense_reference", dict, "")
        files: dict[str, FileEntry] = {}
        for name, entry in _get(raw, "files", dict, "").items():
            where = f"files[{name!r}]."
            files[name] = FileEntry(
                _get(entry, "sha256", str, where), _get(entry, "size", int, where), _get(entry, "sample", str, where)
            )
            if ("/" in name and ".." in name.split("/")) or name.startswith("/"):
                raise _Bad(f"files[{name!r}] points outside the generation")
        manifest = Manifest(
            format_version=version,
            created=_get(raw, "created", str, ""),
            settings=_get(raw, "settings", dict, ""),
            embedding_runtime=_get(emb, "runtime", str, "embedding."),
            embedding_name=_get(emb, "name", str, "embedding."),
            dim=_get(emb, "dim", int, "embedding."),
            dense_reference={
                "related": float(_get(ref, "related", (int, float), "dense_reference.")),
                "unrelated": float(_get(ref, "unrelated", (int, float), "dense_reference.")),
            },
            n_documents=_get(raw, "n_documents", int, ""),
            n_chunks=_get(raw, "n_chunks", int, ""),
            chunks_sha256=_get(raw, "chunks_sha256", str, ""),
            vectors=_get(raw, "vectors", dict, ""),
            files=files,
            raw=raw,
        )
        _get(manifest.vectors, "kind", str, "vectors.")
        if manifest.n_documents < 0 or manifest.n_chunks < 0:
            raise _Bad("a count is negative")
        return manifest
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is not valid JSON (damaged): {repair_hint(index_dir)}") from exc
    except _Bad as exc:
        raise IndexCorruptError(f"{path} is malformed ({exc}): {repair_hint(index_dir)}") from exc


def check_settings(manifest: Manifest, settings_fingerprint: Mapping[str, Any], embedding_name: str | None) -> None:
    """Raise IndexMismatchError, naming both sides, if the index was built with other settings."""
    built = manifest.settings
    diffs = [k for k in settings_fingerprint if built.get(k) != settings_fingerprint[k]]
    if diffs:
        was = ", ".join(f"{k}={built.get(k)!r}" for k in diffs)
        now = ", ".join(f"{k}={settings_fingerprint[k]!r}" for k in diffs)
        raise IndexMismatchError(f"index built with {was}, you are using {now}: run `rag index --rebuild`")
    if embedding_name is not None and manifest.embedding_name != embedding_name:
        raise IndexMismatchError(
            f"index built with {manifest.embedding_name}, you are using {embedding_name}: run `rag index --rebuild`"
        )


def checksum(data: bytes) -> str:
    """The checksum recorded for every generation file (sha256, hex)."""
    return hashlib.sha256(data).hexdigest()


def sample_sha256(path: Path, size: int) -> str:
    """sha256 of ``SAMPLES`` blocks spread evenly over a file (the first and last included) and its size."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        if size <= SAMPLES * _BLOCK:
            h.update(f.read())
        else:
            step = (size - _BLOCK) / (SAMPLES - 1)
            for n in range(SAMPLES):
                f.seek(int(n * step))
                h.update(f.read(_BLOCK))
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks (generation files can be gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def file_entries(gen: Path, skip: tuple[str, ...]) -> dict[str, FileEntry]:
    """Checksum every file of a freshly written generation (read back from the page cache)."""
    entries: dict[str, FileEntry] = {}
    for p in sorted(gen.rglob("*")):
        if p.is_file() and p.name not in skip:
            size = p.stat().st_size
            entries[p.relative_to(gen).as_posix()] = FileEntry(file_sha256(p), size, sample_sha256(p, size))
    return entries


def verify(data: bytes, name: str, manifest: Manifest, gen: Path, index_dir: Path) -> bytes:
    """Return ``data`` if it matches the manifest's checksum for file ``name``; else IndexCorruptError."""
    entry = _entry(name, manifest, gen, index_dir)
    if len(data) != entry.size or checksum(data) != entry.sha256:
        raise _damaged(gen / name, index_dir)
    return data


def verify_file(name: str, manifest: Manifest, gen: Path, index_dir: Path, full: bool = False) -> Path:
    """Check a file in place (in full when it is small or ``full``, else by size and samples); return its path."""
    entry = _entry(name, manifest, gen, index_dir)
    path = gen / name
    try:
        size = path.stat().st_size
        if size != entry.size:
            raise _damaged(path, index_dir)
        if full or size <= FULL_CHECK_MAX:
            ok = file_sha256(path) == entry.sha256
        else:
            ok = sample_sha256(path, size) == entry.sample
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} is missing: {repair_hint(index_dir)}") from None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {path} ({exc.strerror}): {repair_hint(index_dir)}") from exc
    if not ok:
        raise _damaged(path, index_dir)
    return path


def _entry(name: str, manifest: Manifest, gen: Path, index_dir: Path) -> FileEntry:
    entry = manifest.files.get(name)
    if entry is None:
        raise IndexCorruptError(f"{gen / name} is not listed in the manifest (damaged index): {repair_hint(index_dir)}")
    return entry


def _damaged(path: Path, index_dir: Path) -> IndexCorruptError:
    return IndexCorruptError(f"{path} is damaged (its checksum does not match the manifest): {repair_hint(index_dir)}")
