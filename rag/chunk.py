"""Documents → Chunks: sentence-aware, token-budgeted, overlapping, with exact character offsets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .tokens import token_counter
from .types import Chunk, Document

# Split at paragraphs first, then lines, then sentence ends (Latin and Arabic), then the
# Arabic comma/semicolon, then words: a chunk breaks at the largest unit that fits.
# Separators stay attached to the end of the piece they close (keep_separator="end"), so
# every chunk is an exact substring of the article and a citation can point into it.
_SEPARATORS = [
    r"\n\n+",
    r"\n",
    r"(?<=[.!?؟…])\s+",
    r"(?<=[؛;])\s+",
    r"(?<=[،,])\s+",
    r"\s+",
]


def chunk_id(doc_id: str, start: int, end: int, text: str) -> str:
    """A stable id: the same text at the same place in the same article gets the same id."""
    digest = hashlib.sha1(f"{doc_id}\0{start}\0{end}\0{text}".encode()).hexdigest()[:16]
    return f"{doc_id}#{start}-{end}-{digest}"


def chunk_documents(
    docs: Iterable[Document], *, chunk_tokens: int, chunk_overlap: int, tokenizer: str = "cl100k_base"
) -> list[Chunk]:
    """Split each document into chunks of at most ``chunk_tokens`` tokens (a lone over-long word excepted)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_tokens,
        chunk_overlap=chunk_overlap,
        length_function=token_counter(tokenizer),
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    for doc in docs:
        search_from, last_end = 0, 0
        for ordinal, piece in enumerate(splitter.split_text(doc.text)):
            start = _locate(doc.text, piece, search_from, last_end)
            end = start + len(piece)
            chunks.append(Chunk(chunk_id(doc.doc_id, start, end, piece), doc.doc_id, piece, start, end, ordinal))
            # Overlapping chunks start before the previous one ends, but never before it starts.
            search_from, last_end = start + 1, end
    return chunks


def _locate(text: str, piece: str, search_from: int, last_end: int) -> int:
    """Where ``piece`` sits. The splitter yields pieces in reading order, each starting inside the
    previous one (the overlap) or right after it (past whitespace), and reaching past its end. The
    same words can occur more than once in that window ("قال إنّ." ending two paragraphs), so the
    latest such place is taken: an overlap is the tail of the previous chunk, not its head."""
    limit = last_end
    while limit < len(text) and text[limit].isspace():
        limit += 1
    best = -1
    pos = text.find(piece, search_from)
    while 0 <= pos <= limit:
        if pos + len(piece) > last_end:
            best = pos
        pos = text.find(piece, pos + 1)
    if best < 0:  # cannot happen with keep_separator="end"; guard so offsets are never wrong silently
        best = text.find(piece, search_from)
    if best < 0:
        raise ValueError("chunk text is not a substring of its document")
    return best
