"""The keyword side of the index: term statistics over chunks, persisted next to FAISS."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .answerer import TermStats
from .arabic import analyze
from .types import Chunk, Document

TERM_STATS = "term_stats.json"


def write_term_stats(gen: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Count, for every keyword term, how many chunks contain it (titles included)."""
    titles = {d.doc_id: d.title for d in documents}
    df: Counter[str] = Counter()
    for c in chunks:
        df.update(set(analyze(titles.get(c.doc_id, "") + "\n" + c.text)))
    payload = {"n_chunks": len(chunks), "df": dict(df)}
    (gen / TERM_STATS).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def load_term_stats(gen: Path) -> TermStats:
    """Read the term statistics of an index generation."""
    raw = json.loads((gen / TERM_STATS).read_text(encoding="utf-8"))
    return TermStats(int(raw["n_chunks"]), raw["df"])
