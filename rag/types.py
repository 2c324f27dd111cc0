"""Values that flow through the pipeline. No third-party imports here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """One cleaned article: the text shown and quoted to users, plus its metadata."""

    doc_id: str
    title: str
    text: str
    path: str = ""
    date: str | None = None  # ISO 8601 (YYYY-MM-DD) when the article states one
    source: str | None = None  # the publishing site or agency, when named
    author: str | None = None
    content_hash: str = ""  # sha256 of the raw bytes: re-indexing skips unchanged files


@dataclass(frozen=True)
class Chunk:
    """A token-budgeted, sentence-aligned slice of a document: ``doc.text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    ordinal: int  # position of the chunk within its document


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and the metadata needed to cite it."""

    chunk: Chunk
    score: float
    title: str
    date: str | None = None
    source: str | None = None
    author: str | None = None
    rank: int = 0
    dense_score: float | None = None  # cosine of question and chunk (every retrieval mode fills it)
    keyword_score: float | None = None  # BM25 score, in keyword and hybrid modes
    also_in: tuple[str, ...] = ()  # other articles carrying exactly this passage text (shown once)


@dataclass(frozen=True)
class Citation:
    """A numbered reference from an answer to the exact sentence it quotes."""

    number: int
    doc_id: str
    title: str
    date: str | None
    source: str | None
    passage: str  # the retrieved passage the sentence came from
    quote: str  # the quoted sentence, exactly as in the cleaned article
    start: int  # character span of ``quote`` in the cleaned article text
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    """What `answer()` returns: the text with ``[n]`` markers and the citations behind them."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    answered: bool = True  # False when the articles do not say
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    index_version: str = ""  # the index generation the answer came from (all of it, never a mix)
    mode: str = "extractive"  # or "llm": who wrote the text
    model: str = ""  # the language model, in llm mode
    notes: tuple[str, ...] = ()  # what the user should know (the model was unavailable, citations removed…)
    removed_citations: tuple[int, ...] = ()  # [n] the model wrote that pointed at no source
    unsupported: tuple[str, ...] = ()  # answer sentences without a valid citation or its support
    standalone_question: str = ""  # a follow-up question, rewritten to stand alone for retrieval
    partial: bool = False  # a streamed answer still being written (citations come with the last one)
    # The words that answer (a number with its unit, a date, a name, a place, a reason clause),
    # a span of the first citation's quote; its character span is in that citation's cleaned article.
    short_answer: str = ""
    short_start: int | None = None
    short_end: int | None = None

    @property
    def grounded(self) -> bool:
        """Every claim cites a source that supports it (a refusal is grounded by definition)."""
        return not self.answered or (bool(self.citations) and not self.unsupported)


@dataclass(frozen=True)
class TermStats:
    """Document frequencies of keyword terms over the indexed chunks (for IDF weights)."""

    n_chunks: int
    df: Mapping[str, int]

    def idf(self, term: str) -> float:
        # A term that occurs nowhere in the articles gets the highest weight: a question
        # about something the articles never mention should not be answered.
        return math.log((self.n_chunks + 1) / (self.df.get(term, 0) + 0.5))
