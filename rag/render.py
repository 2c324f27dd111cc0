"""Answers → what people read: plain text for the terminal, dicts for JSON, markdown for the UI."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .types import Answer, Citation

_MONTHS = (
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
)


def format_date(iso: str | None) -> str | None:
    """'2020-02-04' → '4 فبراير 2020' (None or an unparseable value passes through)."""
    if not iso:
        return None
    try:
        y, m, d = (int(x) for x in iso.split("-"))
        return f"{d} {_MONTHS[m - 1]} {y}"
    except (ValueError, IndexError):
        return iso


def citation_header(c: Citation) -> str:
    """'[n] title — date — source', leaving out what the article does not state."""
    parts = [f"[{c.number}] {c.title}"]
    parts += [x for x in (format_date(c.date), c.source) if x]
    return " — ".join(parts)


def quote_context(c: Citation, max_chars: int = 600) -> str:
    """The paragraph of the passage that holds the quoted sentence (trimmed around it if long)."""
    for para in c.passage.split("\n"):
        if c.quote in para:
            break
    else:
        para = c.quote
    para = para.strip()
    if len(para) <= max_chars:
        return para
    at = para.find(c.quote)
    room = max(0, (max_chars - len(c.quote)) // 2)
    start, end = max(0, at - room), min(len(para), at + len(c.quote) + room)
    return ("…" if start else "") + para[start:end].strip() + ("…" if end < len(para) else "")


SHORT_LABEL = "الإجابة:"


def to_text(a: Answer) -> str:
    """The answer, then one block per source: header line and the paragraph the quote comes from."""
    lines = [a.text]
    if a.answered and a.short_answer:
        # The answer first, then the sentence it was found in.
        lines = [f"{SHORT_LABEL} {a.short_answer}", "", a.text]
    if a.answered and a.unsupported:
        lines.append("(تنبيه: بعض جمل الإجابة لا تسندها المصادر المذكورة)")
    if a.citations:
        lines.append("")
        lines.append("المصادر:")
        for c in a.citations:
            lines.append(citation_header(c))
            lines.append(f"    {quote_context(c)}")
    for note in a.notes:
        lines.append(f"({note})")
    return "\n".join(lines)


def to_dict(a: Answer) -> dict[str, Any]:
    """A JSON-ready dict with the answer, its citations and the retrieved passages."""
    return {
        "question": a.question,
        "answer": a.text,
        "short_answer": a.short_answer,
        "short_span": [a.short_start, a.short_end] if a.short_answer else None,
        "answered": a.answered,
        "citations": [asdict(c) for c in a.citations],
        "passages": [
            {
                "rank": p.rank,
                "doc_id": p.chunk.doc_id,
                "title": p.title,
                "date": p.date,
                "source": p.source,
                "start": p.chunk.start,
                "end": p.chunk.end,
                "score": round(p.score, 4),
                "text": p.chunk.text,
            }
            for p in a.passages
        ],
        "index_version": a.index_version,
        "mode": a.mode,
        "model": a.model,
        "grounded": a.grounded,
        "unsupported": list(a.unsupported),
        "removed_citations": list(a.removed_citations),
        "notes": list(a.notes),
        "standalone_question": a.standalone_question,
        "timings_ms": {k: round(v, 2) for k, v in a.timings_ms.items()},
    }
