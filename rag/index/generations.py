"""An index folder shared by many processes: one writer at a time, immutable generations, safe clean-up.

Layout of an index folder::

    CURRENT             the live generation's name and its manifest's sha256 (replaced atomically)
    .lock               held (flock) by the one process writing; the kernel releases it when that
                        process dies, even by kill -9, so a crash never leaves the index stuck
    .lock.owner         pid, start time and command of the writer holding the lock (for messages)
    gen-<time>-<hex>/   one complete index: a .rag-generation marker (written first), the data
                        files, manifest.json (written last, with every file's checksum)

A generation is never modified after it is published. Readers pin the generation they load with
a shared flock on its marker for as long as they use it; a writer deletes an old generation only
when it can take that lock exclusively (no reader holds it), keeps the newest previous ones for
`rag repair`, and only ever deletes folders that carry the marker this module writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import portalocker

from ..errors import IndexBusyError, IndexCorruptError, StoreError

CURRENT = "CURRENT"
LOCK = ".lock"
OWNER = ".lock.owner"
MARKER = ".rag-generation"
MANIFEST = "manifest.json"
_GEN_RE = re.compile(r"gen-\d{8}T\d{6}-[0-9a-f]{8}")
_TRASH_PREFIX = ".deleting-"
# Files an index folder may hold without being an index yet (the repository ships index/.gitkeep).
# The embedding cache of an unfinished build (``embedcache``) is not an index, but it is ours.
_IGNORABLE = {".gitkeep", LOCK, OWNER, CURRENT + ".tmp"} | {
    f".embed-cache.sqlite{suffix}" for suffix in ("", "-wal", "-shm", "-journal")
}
# Previous complete generations kept besides the live one: readers that loaded one just before
# a swap keep working, and `rag repair` can fall back to them. Older ones are deleted once no
# reader pins them.
KEEP_PREVIOUS = 2


def repair_hint(index_dir: Path) -> str:
    """The command that fixes a damaged index folder."""
    return f"run `rag repair --index-dir {index_dir}`"


# ---- the live generation ------------------------------------------------------------------
@dataclass(frozen=True)
class Current:
    """What CURRENT says: the live generation and the checksum of its manifest."""

    name: str
    manifest_sha256: str | None


def read_current(index_dir: Path) -> Current | None:
    """Parse CURRENT; None when the folder has none. A garbled CURRENT is an IndexCorruptError."""
    path = index_dir / CURRENT
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError as exc:
        raise IndexCorruptError(f"{path} is a folder, not the index's CURRENT file: {repair_hint(index_dir)}") from exc
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise IndexCorruptError(f"{path} is not UTF-8 text (damaged): {repair_hint(index_dir)}") from exc
    name = lines[0].strip()
    if not _GEN_RE.fullmatch(name):
        raise IndexCorruptError(f"{path} does not name an index generation ({name[:40]!r}): {repair_hint(index_dir)}")
    sha = None
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key == "manifest-sha256" and re.fullmatch(r"[0-9a-f]{64}", value.strip()):
            sha = value.strip()
    return Current(name, sha)


def publish(index_dir: Path, name: str, manifest_sha256: str) -> None:
    """Make generation ``name`` the live one, atomically (readers see the old or the new CURRENT)."""
    tmp = index_dir / (CURRENT + ".tmp")
    write_synced(tmp, f"{name}\nmanifest-sha256 {manifest_sha256}\n".encode())
    os.replace(tmp, index_dir / CURRENT)
    fsync_dir(index_dir)


def index_state(index_dir: Path) -> str:
    """'live' (CURRENT exists), 'empty' (absent, or nothing but ignorable files), 'orphaned'
    (generations but no CURRENT) or 'foreign' (other files: not an index folder)."""
    if (index_dir / CURRENT).exists():
        return "live"
    try:
        entries = [p for p in index_dir.iterdir() if p.name not in _IGNORABLE]
    except FileNotFoundError:
        return "empty"
    except NotADirectoryError:
        return "foreign"
    if not entries:
        return "empty"
    if any(_is_ours(p) for p in entries):
        return "orphaned"
    return "foreign"


# ---- one writer at a time ------------------------------------------------------------------
def _describe_owner(index_dir: Path) -> str:
    try:
        info = json.loads((index_dir / OWNER).read_text(encoding="utf-8"))
        started = time.strftime("%H:%M:%S", time.localtime(float(info["started"])))
        return f"pid {int(info['pid'])} on {info.get('host', '?')}, started {started}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def writer_lock(index_dir: Path, *, wait: bool = True, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the index folder's writer lock; wait (telling ``notify`` once) or raise IndexBusyError."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # before any work: a folder we cannot write to is found at once
        raise StoreError(
            f"cannot write to the index folder {index_dir} ({exc.strerror or exc}): "
            "check its permissions, or give another --index-dir"
        ) from exc
    try:
        try:
            portalocker.lock(fd, portalocker.LOCK_EX | portalocker.LOCK_NB)
        except portalocker.LockException as exc:
            who = _describe_owner(index_dir)
            if not wait:
                raise IndexBusyError(
                    f"the index in {index_dir} is being updated by {who}: try again when it has finished"
                ) from exc
            if notify is not None:
                notify(f"the index in {index_dir} is being updated by {who}; waiting for it to finish…")
            portalocker.lock(fd, portalocker.LOCK_EX)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "argv": sys.argv[:4]}
        with contextlib.suppress(OSError):
            (index_dir / OWNER).write_text(json.dumps(owner), encoding="utf-8")
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


# ---- generations ---------------------------------------------------------------------------
def new_generation(index_dir: Path) -> Path:
    """Create an empty generation folder carrying this project's marker (written first)."""
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    gen = index_dir / name
    gen.mkdir()
    try:
        write_synced(gen / MARKER, json.dumps({"created": time.time(), "pid": os.getpid()}).encode())
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)  # created a moment ago by us: nothing else is in it
        raise
    return gen


def _is_ours(path: Path) -> bool:
    name = path.name.removeprefix(_TRASH_PREFIX)
    return bool(_GEN_RE.fullmatch(name)) and path.is_dir() and not path.is_symlink() and (path / MARKER).is_file()


def _created(gen: Path) -> float:
    try:
        return float(json.loads((gen / MARKER).read_text(encoding="utf-8"))["created"])
    except (OSError, ValueError, KeyError, TypeError):
        return gen.stat().st_mtime


class GenerationGone(Exception):
    """The generation was deleted (or is being deleted) before it could be pinned."""


class Pin:
    """A shared lock on a generation's marker: while held, no writer deletes the generation."""

    def __init__(self, gen: Path) -> None:
        self.path = gen
        self._fd: int | None = None
        try:
            self._fd = os.open(gen / MARKER, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise GenerationGone(str(gen)) from exc
        try:
            portalocker.lock(self._fd, portalocker.LOCK_SH | portalocker.LOCK_NB)
            # A deleter may have unlinked the marker between our open and our lock.
            opened, linked = os.fstat(self._fd), os.stat(gen / MARKER)
            if (opened.st_ino, opened.st_dev) != (linked.st_ino, linked.st_dev):
                raise GenerationGone(str(gen))
        except (portalocker.LockException, OSError) as exc:
            self.close()
            raise GenerationGone(str(gen)) from exc
        except GenerationGone:
            self.close()
            raise

    def close(self) -> None:
        """Release the pin (the generation may then be deleted by a writer)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def _remove_generation(path: Path) -> bool:
    """Delete one of our generation folders if no reader pins it; the marker goes last."""
    try:
        fd = os.open(path / MARKER, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            portalocker.lock(fd, portalocker.LOCK_EX | portalocker.LOCK_NB)
        except portalocker.LockException:
            return False  # a reader still uses it: the next writer tries again
        trash = path if path.name.startswith(_TRASH_PREFIX) else path.with_name(_TRASH_PREFIX + path.name)
        if trash != path:
            os.rename(path, trash)  # atomic: from here on no reader can find it by its name
        for entry in trash.iterdir():
            if entry.name == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        (trash / MARKER).unlink()
        trash.rmdir()
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def generations(index_dir: Path) -> list[Path]:
    """This project's generation folders (complete or not), oldest first."""
    try:
        found = [p for p in index_dir.iterdir() if _GEN_RE.fullmatch(p.name) and _is_ours(p)]
    except OSError:
        return []
    return sorted(found, key=lambda p: (_created(p), p.name))


def collect_garbage(index_dir: Path, keep_previous: int = KEEP_PREVIOUS) -> list[str]:
    """Delete unpinned generations other than the live one and the newest ``keep_previous`` complete
    ones, plus leftovers of crashed writers. Call with the writer lock held. Returns removed names."""
    try:
        current = read_current(index_dir)
    except IndexCorruptError:
        return []  # never clean up around a CURRENT we cannot read: `rag repair` decides
    live = current.name if current else None
    removed: list[str] = []
    kept = 0
    for gen in reversed(generations(index_dir)):
        if gen.name == live:
            continue
        complete = (gen / MANIFEST).is_file()
        if complete and kept < keep_previous:
            kept += 1
            continue
        if _remove_generation(gen):
            removed.append(gen.name)
    # Deletions interrupted by a crash.
    with contextlib.suppress(OSError):
        for p in index_dir.iterdir():
            if p.name.startswith(_TRASH_PREFIX) and _is_ours(p) and _remove_generation(p):
                removed.append(p.name)
    return removed


# ---- durable writes --------------------------------------------------------------------------
def write_synced(path: Path, data: bytes) -> None:
    """Write bytes and fsync them (a crash never leaves a half-written file looking complete)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Persist a folder's entries (a rename or a new file) on POSIX."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
