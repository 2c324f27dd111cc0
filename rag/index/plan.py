"""What an index update does, decided before any embedding: pure functions over documents.

Indexing *adds*: new articles come in, changed ones are replaced, everything else stays.
Removing is explicit (``remove``) or asked for with ``sync`` (the index then holds exactly the
given files' articles). Articles whose files failed to load this time, or that lie in folders
that could not be listed, are never removed because of that.

Identity: an article is the same article when it comes from the same source, i.e. the same
file (or the same record id inside the same .jsonl file). Its id is its file name (its record
id for .jsonl) as long as no other source already uses that id; otherwise the id grows the
folder names above it ("b/article.txt") until it is unique, so two ``article.txt`` in two
folders are two articles. The same article text arriving under a second name is indexed once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..types import Document


@dataclass(frozen=True)
class Duplicate:
    """An article not indexed because the same text is already indexed under another id."""

    path: str
    doc_id: str
    same_as: str


@dataclass(frozen=True)
class Plan:
    """The documents the next generation holds, and how it differs from the previous one."""

    documents: tuple[Document, ...]
    keys: Mapping[str, str]  # doc id -> source key, for every document of the plan
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]  # would have been removed (sync), but their source failed to load
    duplicates: tuple[Duplicate, ...]

    @property
    def touched(self) -> bool:
        """Whether anything changes (otherwise no new generation is needed)."""
        return bool(self.added or self.changed or self.removed)


def text_hash(doc: Document) -> str:
    """Identity of an article's content: its cleaned title and text (not the raw file bytes)."""
    return hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()


def source_key(doc: Document, natural_id: str | None = None) -> str:
    """Where an article comes from: its resolved file path and the id the file gives it."""
    path = os.path.realpath(doc.path) if doc.path else ""
    return f"{path}#{natural_id or doc.doc_id}"


def _id_candidates(doc: Document) -> Iterable[str]:
    """The document's natural id, then longer ones naming its folders, for disambiguation."""
    natural = doc.doc_id
    yield natural
    if not doc.path:
        return
    path = Path(os.path.realpath(doc.path))
    single_file = path.name == natural  # a .txt/.md/.html article, not a record inside a .jsonl
    parts = path.parts[:-1] if single_file else path.parts
    for n in range(1, len(parts)):
        prefix = "/".join(parts[len(parts) - n :])
        yield f"{prefix}/{natural}" if single_file else f"{prefix}:{natural}"
    yield f"{path}#{natural}"


def plan_update(
    old: Mapping[str, Document],
    old_keys: Mapping[str, str],
    loaded: Sequence[Document],
    *,
    sync: bool = False,
    protected_paths: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> Plan:
    """Decide the next generation's documents.

    ``old``: the live index's documents by id, ``old_keys``: their source keys; ``loaded``: the
    documents just read (natural ids); ``protected_paths``: files and folders that failed to load
    (with ``sync``, their previously indexed articles stay); ``remove``: ids to drop.
    """
    loaded_keys = {source_key(d) for d in loaded}
    drop = {i for i in remove if i in old}
    kept: list[str] = []
    if sync:
        protected = [os.path.realpath(p) for p in protected_paths]
        for doc_id, key in old_keys.items():
            if key in loaded_keys or doc_id not in old:
                continue
            path = key.rpartition("#")[0]
            if any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in protected):
                kept.append(doc_id)
            else:
                drop.add(doc_id)
    result = {i: d for i, d in old.items() if i not in drop}
    keys = {i: old_keys.get(i) or source_key(d) for i, d in result.items()}
    by_key = {key: doc_id for doc_id, key in keys.items()}
    # Only articles that stay can make a newcomer a duplicate: a file renamed under --sync is
    # the same article under its new name, not a duplicate of the one it replaces.
    by_text = {text_hash(d): i for i, d in result.items()}
    taken = set(result)
    added: list[str] = []
    changed: list[str] = []
    seen_keys: set[str] = set()
    duplicates: list[Duplicate] = []
    for doc in loaded:
        key = source_key(doc)
        if key in seen_keys:
            continue  # the same source reached twice (a folder and a file in it)
        seen_keys.add(key)
        existing = by_key.get(key)
        h = text_hash(doc)
        twin = by_text.get(h)
        if existing is not None:
            if twin is not None and twin != existing:
                duplicates.append(Duplicate(doc.path, existing, twin))
                continue
            before = result[existing]
            if before.content_hash != doc.content_hash or text_hash(before) != h:
                changed.append(existing)
                result[existing] = replace(doc, doc_id=existing)
            by_text[h] = existing
            continue
        if twin is not None:
            duplicates.append(Duplicate(doc.path, doc.doc_id, twin))
            continue
        doc_id = next(c for c in _id_candidates(doc) if c not in taken)
        taken.add(doc_id)
        result[doc_id] = replace(doc, doc_id=doc_id)
        keys[doc_id] = key
        by_key[key] = doc_id
        by_text[h] = doc_id
        added.append(doc_id)
    order = sorted(result)
    return Plan(
        documents=tuple(result[i] for i in order),
        keys={i: keys[i] for i in order},
        added=tuple(sorted(added)),
        changed=tuple(sorted(set(changed))),
        removed=tuple(sorted(drop)),
        kept=tuple(sorted(kept)),
        duplicates=tuple(duplicates),
    )
