"""The one LangChain Runnable every way in uses (`answer()`, `rag ask`, the chat window):

    {"question", "chat_history"?, "k"?, "use_llm"?}
      → condense   (a follow-up rewritten to stand alone: by the model, or by carrying the subject)
      → retrieve   (dense / keyword / hybrid passages from one index generation)
      → answer     (extractive; or, when the evidence says the articles cover it, prompt | model |
                    parser over the numbered, token-budgeted sources, then the citation check)
      → Answer

`invoke`, `batch`, `stream` (partial Answers while the model writes, then the checked one) and
their async forms all work, as for any Runnable.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.runnables.config import run_in_executor

from .arabic import analyze
from .errors import ConfigError, ModelUnavailableError, QuestionError
from .types import Answer, Passage

if TYPE_CHECKING:
    from .index.local import IndexStore
    from .pipeline import RAG

# How a follow-up points back at the previous turn: it opens with "و"/"ف" and a question word
# ("ومتى حدث ذلك؟", "وأين التقى بنظيره؟": Arabic's continuation), or holds a demonstrative or
# personal pronoun, or a pronoun suffix on a preposition or noun ("بعدها", "فيها", "نظيره", "مثله").
_CONTINUES = re.compile(r"^\s*[وف]\s?(?:ما|ماذا|من|متى|أين|اين|كم|بكم|كيف|لماذا|لم|هل|أي|إلى|الى|منذ|عن|في|ب)")
_REFERRING = re.compile(
    r"(?:^|\s)(?:و|ف)?(?:ذلك|ذاك|تلك|هذا|هذه|هؤلاء|أولئك|هو|هي|هم|هما|حينها|عندها|حينئذ|الأمر|الحادث|"
    r"(?:في|عن|من|منه|إلى|الى|على|مع|بعد|قبل|مثل|ل|ب)(?:ه|ها|هم|هما)|\w{2,}(?:ه|ها|هما)|"
    r"it|its|that|this|those|these|they|them|he|she|his|her|there|then)(?=\s|$|[؟?.!،,])",
    re.IGNORECASE,
)
# A follow-up with this few keyword terms cannot be retrieved on its own.
_FEW_TERMS = 2


@dataclass(frozen=True)
class Turn:
    """One question on its way through the chain."""

    question: str
    k: int
    history: tuple[Mapping[str, str], ...] = ()
    standalone: str = ""  # what is retrieved
    answer_question: str = ""  # what the answer is scored against (the follow-up itself, unless rewritten)
    use_llm: bool = False
    retrieval: str | None = None  # None: the configured mode
    passages: tuple[Passage, ...] = ()
    store: IndexStore | None = None
    timings: dict[str, float] = field(default_factory=dict)


def normalize_history(history: Any) -> tuple[dict[str, str], ...]:
    """OpenAI/Gradio messages, LangChain messages, or (user, assistant) pairs → role/content dicts."""
    out: list[dict[str, str]] = []
    for item in history or ():
        if isinstance(item, Mapping):
            role, content = item.get("role"), item.get("content")
        elif isinstance(item, tuple | list) and len(item) == 2:
            for role, content in (("user", item[0]), ("assistant", item[1])):
                if isinstance(content, str) and content.strip():
                    out.append({"role": role, "content": content})
            continue
        else:  # a LangChain BaseMessage
            role = {"human": "user", "ai": "assistant"}.get(getattr(item, "type", ""), getattr(item, "type", ""))
            content = getattr(item, "content", None)
        if role in ("user", "assistant") and isinstance(content, str) and content.strip():
            out.append({"role": role, "content": content})
        elif role not in ("user", "assistant", "system"):
            raise QuestionError(f"chat history entries need a role of user or assistant, not {role!r}")
    return tuple(out)


def carry_subject(question: str, history: Sequence[Mapping[str, str]]) -> str:
    """Without a model: a follow-up that leans on the previous question (few keywords of its own, or
    a word pointing back) is retrieved together with that question; others stand alone."""
    if not _leans_back(question):
        return question
    # The previous questions back to the one that stood on its own ("ومن التقى هناك؟" leans on the
    # question before it, so a third turn needs both).
    carried: list[str] = []
    for m in reversed(history):
        if m["role"] != "user":
            continue
        carried.append(m["content"])
        if not _leans_back(m["content"]) or len(carried) == 3:
            break
    return " ".join([question, *carried])


def _leans_back(question: str) -> bool:
    return (
        len(set(analyze(question))) <= _FEW_TERMS
        or _CONTINUES.search(question) is not None
        or _REFERRING.search(question) is not None
    )


def history_text(history: Sequence[Mapping[str, str]], max_chars: int = 2000) -> str:
    """The conversation as lines for the rewriting prompt (the latest turns, at most max_chars)."""
    lines = [f"{'المستخدم' if m['role'] == 'user' else 'المساعد'}: {m['content'].strip()}" for m in history]
    return "\n".join(lines)[-max_chars:]


class AnswerStep(Runnable[Turn, Answer]):
    """The last step: extractive answer (and refusal) first, then the model when configured."""

    name = "answer"

    def __init__(self, rag: RAG) -> None:
        self.rag = rag

    @property
    def InputType(self) -> type[Turn]:
        return Turn

    @property
    def OutputType(self) -> type[Answer]:
        return Answer

    def invoke(self, input: Turn, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        last: Answer | None = None
        for last in self.stream(input, config, **kwargs):  # noqa: B007
            pass
        assert last is not None
        return last

    def stream(self, input: Turn, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Answer]:
        turn = input
        rag, store = self.rag, turn.store
        assert store is not None
        t0 = time.perf_counter()
        extractive = rag.answer_from(turn.answer_question or turn.question, turn.passages, store)
        timings = {**turn.timings, "answer": (time.perf_counter() - t0) * 1e3}
        extractive = replace(
            extractive,
            question=turn.question,
            standalone_question=turn.standalone if turn.standalone != turn.question else "",
            timings_ms=timings,
        )
        if not turn.use_llm or not extractive.answered:
            yield _totals(extractive)
            return
        from .answerer.llm import generate, unavailable_note

        model_name = rag.settings.llm
        try:
            chain = rag.llm_answer_chain()
        except ModelUnavailableError as exc:
            note = unavailable_note(exc, model_name)
            yield _totals(replace(extractive, model=model_name, notes=(*extractive.notes, note)))
            return
        texts = {p.chunk.doc_id: store.documents[p.chunk.doc_id].text for p in turn.passages}
        t1 = time.perf_counter()
        for answer in generate(
            chain,
            question=turn.answer_question or turn.question,
            passages=turn.passages,
            extractive=extractive,
            article_texts=texts,
            model_name=model_name,
            budget_tokens=rag.settings.llm_context_tokens,
            timeout_s=rag.settings.llm_timeout,
            tokenizer=rag.settings.tokenizer,
        ):
            answer = replace(answer, question=turn.question)
            if answer.partial:
                yield answer
            else:
                yield _totals(replace(answer, timings_ms={**timings, "llm": (time.perf_counter() - t1) * 1e3}))

    async def astream(self, input: Turn, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Answer]:
        iterator = self.stream(input, config, **kwargs)
        done = object()
        while True:
            item = await run_in_executor(config, next, iterator, done)
            if item is done:
                return
            yield item  # type: ignore[misc]

    async def ainvoke(self, input: Turn, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return await run_in_executor(config, self.invoke, input, config)


def _totals(a: Answer) -> Answer:
    t = dict(a.timings_ms)
    t["total"] = sum(v for k, v in t.items() if k != "total")
    return replace(a, timings_ms=t)


def build_chain(rag: RAG) -> Runnable[Any, Answer]:
    """condense | retrieve | answer, as one Runnable over ``rag``'s index and settings."""

    def condense(inp: Any) -> Turn:
        if isinstance(inp, str):
            inp = {"question": inp}
        if not isinstance(inp, Mapping) or "question" not in inp:
            raise QuestionError('the chain takes {"question": …, "chat_history": […]} or a question string')
        question, k = rag.check_question(inp["question"], inp.get("k"))
        history = normalize_history(inp.get("chat_history", inp.get("history")))
        use_llm = inp.get("use_llm")
        if use_llm is None:
            use_llm = rag.settings.llm != "none"
        elif use_llm and rag.settings.llm == "none":
            raise ConfigError("no language model is configured: give --llm (or set RAG_LLM / Settings.llm)")
        standalone, answer_question = question, question
        if history:
            standalone, rewritten = rag.condense(question, history, use_llm=bool(use_llm))
            standalone = standalone[: rag.settings.max_question_chars]
            # A model's rewrite is a whole question; a carried subject only helps retrieval: the
            # sentence that answers is still the one that matches the follow-up's own words.
            answer_question = standalone if rewritten else question
        return Turn(question, k, history, standalone, answer_question, bool(use_llm), inp.get("retrieval"))

    def retrieve(turn: Turn) -> Turn:
        store = rag.store  # one generation for the whole question, whatever writers do meanwhile
        passages, timings = rag.search(turn.standalone, turn.k, store, mode=turn.retrieval)
        return replace(turn, passages=tuple(passages), store=store, timings=timings)

    chain = RunnableLambda(condense, name="condense") | RunnableLambda(retrieve, name="retrieve") | AnswerStep(rag)
    return chain.with_config(run_name="rag")
