"""Answers written by a language model from the numbered sources: prompt | chat model | parser,
then the citation check. The prompts are plain files in `prompts/`, checked when loaded.

Grounding does not rest on the model: the extractive answerer's calibrated refusal runs first (a
question the articles do not cover never reaches the model), citations to absent sources are
removed, every sentence is checked against what it cites, and any failure of the model (refused
connection, timeout, HTTP error, empty or garbled output) returns the extractive answer with a note.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import PROJECT_ROOT
from ..errors import ConfigError
from ..render import format_date
from ..tokens import token_counter
from ..types import Answer, Passage
from .citations import build_citations, check_citations
from .extractive import NOT_FOUND

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

PROMPTS_DIR = PROJECT_ROOT / "prompts"
_NOT_COVERED_RE = re.compile(r"لا تذكر المقالات|not (?:say|cover|mention)|do(?:es)? not (?:say|cover|mention)", re.I)


@dataclass(frozen=True)
class Prompts:
    """The prompt files: system rules, worked examples, the user template, the follow-up rewriter."""

    system: str
    examples: tuple[tuple[str, str], ...]  # (user message, assistant answer)
    user: str
    condense: str


def _check(text: str, name: str, needed: set[str]) -> str:
    found = set(re.findall(r"(?<!\{)\{([a-z_]+)\}(?!\})", text))
    if found != needed:
        raise ConfigError(
            f"prompts/{name}: placeholders must be {', '.join(sorted('{' + n + '}' for n in needed)) or 'none'}, "
            f"found {', '.join(sorted('{' + n + '}' for n in found)) or 'none'}"
        )
    return text


@lru_cache(maxsize=4)
def load_prompts(folder: Path = PROMPTS_DIR) -> Prompts:
    """Read and check the prompt files (each placeholder present, no unknown one)."""
    try:
        system = _check((folder / "system.txt").read_text(encoding="utf-8").strip(), "system.txt", set())
        user = _check((folder / "user.txt").read_text(encoding="utf-8").strip(), "user.txt", {"sources", "question"})
        condense = _check(
            (folder / "condense.txt").read_text(encoding="utf-8").strip(), "condense.txt", {"history", "question"}
        )
        examples = []
        for n, line in enumerate((folder / "examples.jsonl").read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not all(isinstance(row.get(k), str) for k in ("sources", "question", "answer")):
                raise ConfigError(f"prompts/examples.jsonl:{n}: needs string fields sources, question, answer")
            examples.append((user.format(sources=row["sources"], question=row["question"]), row["answer"]))
    except OSError as exc:
        raise ConfigError(f"cannot read the prompt files in {folder}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"prompts/examples.jsonl: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    return Prompts(system, tuple(examples), user, condense)


def format_sources(passages: Sequence[Passage], budget_tokens: int, tokenizer: str = "cl100k_base") -> tuple[str, int]:
    """The numbered sources block and how many passages fit in ``budget_tokens`` (the best come first)."""
    count = token_counter(tokenizer)
    blocks: list[str] = []
    used = 0
    for n, p in enumerate(passages, 1):
        header = " — ".join(x for x in (f"[{n}] {p.title}", format_date(p.date), p.source) if x)
        block = f"{header}\n{p.chunk.text}"
        cost = count(block)
        if blocks and used + cost > budget_tokens:
            break
        blocks.append(block)
        used += cost
    return "\n\n".join(blocks), len(blocks)


def answer_chain(model: BaseChatModel, prompts: Prompts) -> Runnable[dict[str, Any], str]:
    """prompt | chat model | parser: {"sources", "question"} -> the model's text."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    messages: list[tuple[str, str]] = [("system", prompts.system)]
    for user, assistant in prompts.examples:
        messages += [("human", _escape(user)), ("ai", _escape(assistant))]
    messages.append(("human", prompts.user))
    return ChatPromptTemplate.from_messages(messages) | model | StrOutputParser()


def condense_chain(model: BaseChatModel, prompts: Prompts) -> Runnable[dict[str, Any], str]:
    """prompt | chat model | parser: {"history", "question"} -> a standalone question."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("human", prompts.condense)]) | model | StrOutputParser()


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def garbled(text: str) -> bool:
    """Output no reader could use: empty, or mostly replacement characters, control bytes or symbols."""
    stripped = text.strip()
    if len(stripped) < 2:
        return True
    letters = sum(ch.isalpha() for ch in stripped)
    bad = sum(ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\t") for ch in stripped)
    return bad > 0.05 * len(stripped) or letters < 0.4 * len(stripped.replace(" ", ""))


def unavailable_note(exc: BaseException | str, model: str) -> str:
    """The note shown when the model failed and the extractive answer is given instead."""
    what = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc)[:120]}"
    return f"the language model {model} was unavailable ({what}); this is the extractive answer"


def generate(
    chain: Runnable[dict[str, Any], str],
    *,
    question: str,
    passages: Sequence[Passage],
    extractive: Answer,
    article_texts: dict[str, str],
    model_name: str,
    budget_tokens: int,
    timeout_s: float,
    tokenizer: str = "cl100k_base",
) -> Iterator[Answer]:
    """Stream the model's answer as partial Answers, then the checked final one (or the extractive
    answer with a note when the model fails or overruns ``timeout_s``)."""
    sources, n_used = format_sources(passages, budget_tokens, tokenizer)
    shown = passages[:n_used]
    # The model writes its own answer: the extractive short answer does not belong to it.
    base = replace(extractive, mode="llm", model=model_name, **_NO_SHORT)
    deadline = time.monotonic() + timeout_s
    text = ""
    try:
        for piece in chain.stream({"sources": sources, "question": question}):
            text += piece
            yield replace(base, text=text, citations=(), partial=True)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete answer within {timeout_s:g} s")
    except Exception as exc:  # any failure of the model falls back: the user always gets an answer
        yield replace(extractive, model=model_name, notes=(*extractive.notes, unavailable_note(exc, model_name)))
        return
    yield finish(text, question, shown, extractive, article_texts, model_name)


_NO_SHORT: dict[str, Any] = {"short_answer": "", "short_start": None, "short_end": None}


def finish(
    text: str,
    question: str,
    passages: Sequence[Passage],
    extractive: Answer,
    article_texts: dict[str, str],
    model_name: str,
) -> Answer:
    """The model's text after the citation check, as an Answer."""
    if garbled(text):
        note = unavailable_note("empty or garbled output", model_name)
        return replace(extractive, model=model_name, notes=(*extractive.notes, note))
    text = text.strip()
    checked = check_citations(text, passages)
    if _NOT_COVERED_RE.search(text) and not checked.sources:
        return replace(
            extractive,
            text=NOT_FOUND,
            answered=False,
            citations=(),
            mode="llm",
            model=model_name,
            notes=(*extractive.notes, "the language model found no answer in the sources"),
            **_NO_SHORT,
        )
    notes = list(extractive.notes)
    if checked.removed:
        notes.append(
            "removed citation(s) to sources that were not given: " + ", ".join(f"[{n}]" for n in checked.removed)
        )
    if not checked.sources:
        notes.append("the model cited no source: check the answer against the passages")
    elif checked.unsupported:
        notes.append(f"{len(checked.unsupported)} sentence(s) are not supported by the sources they cite")
    return replace(
        extractive,
        text=checked.text,
        citations=build_citations(checked, passages, article_texts),
        answered=True,
        mode="llm",
        model=model_name,
        notes=tuple(notes),
        removed_citations=checked.removed,
        unsupported=checked.unsupported,
        partial=False,
        **_NO_SHORT,
    )
