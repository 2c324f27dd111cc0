"""A generation's manifest: what it was built with, what it holds, and a checksum of every file.

Parsed strictly: a field of the wrong type is reported as damage (one line naming the file and
the field), never a Python traceback later on.
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

FORMAT_VERSION = 2


@dataclass(frozen=True)
class FileEntry:
    """Size and sha256 of one file of a generation."""

    sha256: str
    size: int


@dataclass(frozen=True)
class DocEntry:
    """What the manifest records per article (enough to update and list without the docstore)."""

    content_hash: str
    path: str
    key: str
    n_chunks: int


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
    documents: Mapping[str, DocEntry]
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
        docs: dict[str, DocEntry] = {}
        for doc_id, entry in _get(raw, "documents", dict, "").items():
            where = f"documents[{doc_id!r}]."
            docs[doc_id] = DocEntry(
                _get(entry, "content_hash", str, where),
                _get(entry, "path", str, where),
                _get(entry, "key", str, where),
                _get(entry, "n_chunks", int, where),
            )
        files: dict[str, FileEntry] = {}
        for name, entry in _get(raw, "files", dict, "").items():
            where = f"files[{name!r}]."
            files[name] = FileEntry(_get(entry, "sha256", str, where), _get(entry, "size", int, where))
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
            documents=docs,
            files=files,
            raw=raw,
        )
        if manifest.n_documents != len(docs) or manifest.n_chunks != sum(d.n_chunks for d in docs.values()):
            raise _Bad("the document and chunk counts disagree")
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


def file_entries(gen: Path, skip: tuple[str, ...]) -> dict[str, FileEntry]:
    """Checksum every file of a freshly written generation (read back from the page cache)."""
    entries: dict[str, FileEntry] = {}
    for p in sorted(gen.rglob("*")):
        if p.is_file() and p.name not in skip:
            data = p.read_bytes()
            entries[p.relative_to(gen).as_posix()] = FileEntry(checksum(data), len(data))
    return entries


def verify(data: bytes, name: str, manifest: Manifest, gen: Path, index_dir: Path) -> bytes:
    """Return ``data`` if it matches the manifest's checksum for file ``name``; else IndexCorruptError."""
    entry = manifest.files.get(name)
    if entry is None:
        raise IndexCorruptError(f"{gen / name} is not listed in the manifest (damaged index): {repair_hint(index_dir)}")
    if len(data) != entry.size or checksum(data) != entry.sha256:
        raise IndexCorruptError(
            f"{gen / name} is damaged (its checksum does not match the manifest): {repair_hint(index_dir)}"
        )
    return data
