"""`rag eval`: run a gold set through the pipeline and measure retrieval, answers, citations, refusals."""

from __future__ import annotations

import hashlib
import json
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .arabic import normalize_arabic
from .config import Settings
from .errors import GoldFormatError, IndexMismatchError
from .gold import GoldQuestion, GoldSet, load_gold
from .types import Answer, Passage

HIT_KS = tuple(range(1, 11))

# ---- answer normalisation and SQuAD metrics -------------------------------------------------
_ARABIC_PUNCT = "،؛؟«»٪“”‘’…ـ"
_PUNCT = set(string.punctuation) | set(_ARABIC_PUNCT)
_CITATION = re.compile(r"\s*\[\d+\]")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation (lower case, no punctuation, no English articles, single spaces),
    plus Arabic: no diacritics/tatweel, one alef, ى→ي, ة→ه, Arabic punctuation removed."""
    text = normalize_arabic(text)  # diacritics, tatweel, alef/yaa/taa marbuta, digits, lower case
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def strip_citations(text: str) -> str:
    """The answer text without its ``[n]`` markers."""
    return _CITATION.sub("", text).strip()


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal (SQuAD EM)."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalised strings (SQuAD F1)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, gold: str) -> float:
    """1.0 when the normalised prediction contains the normalised gold answer."""
    g = normalize_answer(gold)
    return float(bool(g) and g in normalize_answer(prediction))


def best_over(golds: Sequence[str], metric: Callable[[str, str], float], prediction: str) -> float:
    """SQuAD takes the best score over the acceptable answers."""
    return max((metric(prediction, g) for g in golds), default=0.0)


# ---- per-question records -------------------------------------------------------------------
@dataclass(frozen=True)
class QuestionResult:
    """Everything measured for one question (kept for the report's failure list)."""

    qid: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    answerable: bool
    answer: str
    answered: bool
    gold_rank: int | None  # 1-based rank of the first passage from a gold source (top 10)
    answer_in_passage5: bool
    em: float
    f1: float
    contains: float
    citations_supported: bool | None  # None when the answer has no citation
    latency_ms: float
    retrieved: tuple[tuple[str, float, str], ...]  # (doc id, score, text) of the top passages
    mode: str = "extractive"  # who wrote the answer ("llm", or "extractive" also when a model fell back)
    grounded: bool = True  # every sentence cites a source that supports it
    invalid_citations: int = 0  # [n] markers that pointed at no source (removed)
    fell_back: bool = False  # the model failed and the extractive answer was given
    short_answer: str = ""  # the words that answer, inside the quote (EM/F1 score these)


def score_question(q: GoldQuestion, result: Answer, passages: Sequence[Passage], latency_ms: float) -> QuestionResult:
    """Compute the metrics of one answered question."""
    quote = strip_citations(result.text) if result.answered else ""
    # EM/F1 score the answer itself (the short answer when there is one), `contains` the quote.
    prediction = (result.short_answer or quote) if result.answered else ""
    # A passage whose exact text also stands in a gold article (shown once) counts as that article's.
    gold_rank = next((p.rank for p in passages[:10] if {p.chunk.doc_id, *p.also_in} & set(q.sources)), None)
    norm_golds = [normalize_answer(a) for a in q.answers if normalize_answer(a)]
    in_passage = any(g in normalize_answer(p.chunk.text) for p in passages[:5] for g in norm_golds)
    supported: bool | None = None
    if result.citations:
        supported = all(
            c.doc_id in q.sources or any(g in normalize_answer(c.passage) for g in norm_golds) for c in result.citations
        )
    return QuestionResult(
        qid=q.qid,
        question=q.question,
        answers=q.answers,
        sources=q.sources,
        answerable=q.answerable,
        answer=result.text,
        answered=result.answered,
        gold_rank=gold_rank,
        answer_in_passage5=in_passage,
        em=best_over(q.answers, exact_match, prediction) if q.answerable else 0.0,
        f1=best_over(q.answers, f1_score, prediction) if q.answerable else 0.0,
        contains=best_over(q.answers, contains, quote) if q.answerable else 0.0,
        citations_supported=supported,
        latency_ms=latency_ms,
        retrieved=tuple((p.chunk.doc_id, round(p.score, 4), p.chunk.text) for p in passages[:5]),
        mode=result.mode,
        grounded=result.grounded,
        invalid_citations=len(result.removed_citations),
        fell_back=any("was unavailable" in n for n in result.notes),
        short_answer=result.short_answer if result.answered else "",
    )


def _mean(xs: Sequence[float]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0


def _percentile(xs: Sequence[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (pos - lo), 2)


def summarize(dataset: str, results: Sequence[QuestionResult], config: dict[str, Any]) -> dict[str, Any]:
    """The metrics dict (key names fixed by the eval issue)."""
    ans = [r for r in results if r.answerable]
    unans = [r for r in results if not r.answerable]
    retrieval = {
        f"hit@{k}": _mean([float(r.gold_rank is not None and r.gold_rank <= k) for r in ans]) for k in (1, 3, 5, 10)
    }
    retrieval["mrr@10"] = _mean([1.0 / r.gold_rank if r.gold_rank else 0.0 for r in ans])
    retrieval["answer_in_passage@5"] = _mean([float(r.answer_in_passage5) for r in ans])
    # Every answer that cites something, unanswerable questions included: a citation given for
    # a question the articles do not answer supports nothing.
    cited = [r for r in results if r.citations_supported is not None]
    metrics: dict[str, Any] = {
        "dataset": dataset,
        "n_questions": len(results),
        "n_answerable": len(ans),
        "retrieval": retrieval,
        "answer": {
            "em": _mean([r.em for r in ans]),
            "f1": _mean([r.f1 for r in ans]),
            "contains": _mean([r.contains for r in ans]),
        },
        "citations": {"supported": _mean([float(bool(r.citations_supported)) for r in cited])},
        "refusal": {
            "unanswerable_refused": _mean([float(not r.answered) for r in unans]) if unans else None,
            "answerable_refused": _mean([float(not r.answered) for r in ans]),
        },
        "latency_ms": {
            "p50": _percentile([r.latency_ms for r in results], 0.5),
            "p95": _percentile([r.latency_ms for r in results], 0.95),
        },
        "config": config,
    }
    if config.get("llm", "none") != "none":  # only in LLM mode: the fixed keys stay as they are
        metrics["llm"] = _llm_metrics(results)
    return metrics


def _llm_metrics(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """How the model's answers fared: written by it, grounded, with invalid citations, fallbacks."""
    written = [r for r in results if r.mode == "llm" and r.answered]
    return {
        "answered_by_model": len(written),
        "grounded": _mean([float(r.grounded) for r in written]),
        "with_invalid_citations": _mean([float(r.invalid_citations > 0) for r in written]),
        "fell_back": sum(r.fell_back for r in results),
        "seconds_per_answer": round(_mean([r.latency_ms for r in results]) / 1e3, 2),
    }


def hit_curve(results: Sequence[QuestionResult]) -> dict[int, float]:
    """hit@k for k = 1..10 (answerable questions)."""
    ans = [r for r in results if r.answerable]
    return {k: _mean([float(r.gold_rank is not None and r.gold_rank <= k) for r in ans]) for k in HIT_KS}


# ---- running --------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where evaluation indexes of other corpora live (RAG_CACHE_DIR, default .cache/ in the project)."""
    import os

    from .config import PROJECT_ROOT

    return Path(os.environ.get("RAG_CACHE_DIR") or PROJECT_ROOT / ".cache")


def _fingerprint(settings: Settings) -> str:
    return hashlib.sha256(json.dumps(settings.index_fingerprint(), sort_keys=True).encode()).hexdigest()[:10]


def prepare(gold: GoldSet, settings: Settings, corpus: Sequence[Path] | None) -> tuple[Settings, dict[str, str]]:
    """Settings whose index holds the gold set's corpus (built or updated as needed), and the ids of
    articles indexed under another id because their text duplicates it (gold sources are mapped)."""
    from .pipeline import RAG

    if gold.documents:
        # SQuAD: the contexts are the corpus; one cached index per file and index settings.
        name = f"squad-{gold.sha256[:16]}-{_fingerprint(settings)}"
        # On PostgreSQL the gold corpus gets its own schema, named like the local cache folder.
        s = replace(settings, index_dir=cache_dir() / name, pg_schema=_schema_name(name))
        try:
            report = RAG(s).index_documents(list(gold.documents))
        except IndexMismatchError:  # a cache written by an earlier version: ours to rebuild
            report = RAG(s).index_documents(list(gold.documents), rebuild=True)
        return s, {d.doc_id: d.same_as for d in report.duplicates}
    if corpus:
        key = hashlib.sha256("\0".join(sorted(str(Path(p).resolve()) for p in corpus)).encode()).hexdigest()[:16]
        name = f"corpus-{key}-{_fingerprint(settings)}"
        s = replace(
            settings,
            index_dir=cache_dir() / name,
            pg_schema=_schema_name(name),
            corpus=tuple(Path(p) for p in corpus),
        )
        try:
            RAG(s).index(list(corpus), sync=True)
        except IndexMismatchError:
            RAG(s).index(list(corpus), sync=True, rebuild=True)
        return s, {}
    return settings, {}


def _schema_name(name: str) -> str:
    return "rag_" + re.sub(r"[^a-z0-9_]", "_", name.lower())[:58]


def check_sources(gold: GoldSet, known: set[str]) -> None:
    """Every document id a question names must be in the index."""
    for q in gold.questions:
        missing = [s for s in q.sources if s not in known]
        if missing:
            raise GoldFormatError(
                f"{q.where or gold.path}: question {q.qid!r} names unknown document(s) {', '.join(missing)} "
                "(sources are file names of the indexed articles; use --corpus to index the right folder)"
            )


def evaluate(
    gold_path: str | Path,
    settings: Settings | None = None,
    *,
    corpus: Sequence[Path] | None = None,
    progress: bool = True,
    limit: int | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], list[QuestionResult]]:
    """Run every gold question (or a seeded sample of ``limit``) through retrieval and answering;
    return (metrics, per-question results). With ``settings.llm`` the answers come from the model."""
    from .answerer import REFUSAL_THRESHOLD
    from .pipeline import RAG

    settings = settings or Settings.from_env()
    gold = load_gold(gold_path)
    s, aliases = prepare(gold, settings, corpus)
    if aliases:
        gold = replace(
            gold,
            questions=tuple(
                replace(q, sources=tuple(dict.fromkeys(aliases.get(x, x) for x in q.sources))) for q in gold.questions
            ),
        )
    if limit is not None and limit < len(gold.questions):
        import random

        picked = sorted(random.Random(seed).sample(range(len(gold.questions)), limit))
        gold = replace(gold, questions=tuple(gold.questions[i] for i in picked))
    rag = RAG(s)
    store = rag.store
    check_sources(gold, set(store.documents))
    rag.answer_from(gold.questions[0].question, [], store)  # load term statistics outside the timings
    results: list[QuestionResult] = []
    questions: Sequence[GoldQuestion] = gold.questions
    if progress:
        from tqdm import tqdm

        questions = tqdm(gold.questions, desc=f"eval {gold.name}", unit="q", leave=False)
    for q in questions:
        t0 = time.perf_counter()
        passages, _ = rag.search(q.question, max(10, s.top_k), store)
        if s.llm != "none":  # the chain every way in uses: refusal first, then the model, checked
            result = rag.answer(q.question)
        else:  # the chain's extractive step, on the passages already retrieved
            result = rag.answer_from(q.question, passages[: s.top_k], store)
        latency = (time.perf_counter() - t0) * 1e3
        results.append(score_question(q, result, passages, latency))
    config = {
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s).items() if k not in ("corpus", "pg_dsn")},
        "corpus": [str(p) for p in s.corpus] if not gold.documents else gold.path,
        "embedding": {"runtime": s.runtime, "name": rag.embeddings.name, "dim": rag.embeddings.dim},
        "index_version": store.name,
        "refusal_threshold": REFUSAL_THRESHOLD,
        "n_documents": len(store.documents),
        "n_chunks": len(store.chunks),
    }
    return summarize(gold.name, results, config), results


# ---- output ---------------------------------------------------------------------------------
def format_table(m: dict[str, Any]) -> str:
    """The summary table printed at the end of `rag eval`."""
    r, a = m["retrieval"], m["answer"]
    ref = m["refusal"]
    un = "n/a" if ref["unanswerable_refused"] is None else f"{ref['unanswerable_refused']:.3f}"
    rows = [
        ("questions (answerable)", f"{m['n_questions']} ({m['n_answerable']})"),
        ("hit@1 / @3 / @5 / @10", f"{r['hit@1']:.3f} / {r['hit@3']:.3f} / {r['hit@5']:.3f} / {r['hit@10']:.3f}"),
        ("mrr@10", f"{r['mrr@10']:.3f}"),
        ("answer in top-5 passages", f"{r['answer_in_passage@5']:.3f}"),
        ("answer EM / F1 / contains", f"{a['em']:.3f} / {a['f1']:.3f} / {a['contains']:.3f}"),
        ("citations supported", f"{m['citations']['supported']:.3f}"),
        ("unanswerable refused", un),
        ("answerable refused", f"{ref['answerable_refused']:.3f}"),
        ("latency p50 / p95 (ms)", f"{m['latency_ms']['p50']:.1f} / {m['latency_ms']['p95']:.1f}"),
    ]
    if m.get("llm"):
        x = m["llm"]
        rows += [
            ("answers written by the model", f"{x['answered_by_model']}"),
            ("  grounded / invalid citations", f"{x['grounded']:.3f} / {x['with_invalid_citations']:.3f}"),
            ("  model failed (fell back)", f"{x['fell_back']}"),
            ("seconds per answer", f"{x['seconds_per_answer']:.2f}"),
        ]
    width = max(len(k) for k, _ in rows)
    head = f"{m['dataset']} (retrieval={m['config'].get('retrieval')}, answers={m['config'].get('llm', 'none')})"
    return "\n".join([head] + [f"  {k.ljust(width)}  {v}" for k, v in rows])


def plot(results: Sequence[QuestionResult], metrics: dict[str, Any], path: Path) -> None:
    """PNG: hit@k for k = 1..10, and the answer metrics as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = hit_curve(results)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(list(curve), list(curve.values()), marker="o")
    ax1.set(xlabel="k", ylabel="hit@k", title="Gold source in top k", ylim=(0, 1.02), xticks=list(HIT_KS))
    ax1.grid(alpha=0.3)
    names = ["EM", "F1", "contains", "cites ok", "mrr@10"]
    values = [
        metrics["answer"]["em"],
        metrics["answer"]["f1"],
        metrics["answer"]["contains"],
        metrics["citations"]["supported"],
        metrics["retrieval"]["mrr@10"],
    ]
    bars = ax2.bar(names, values, color="#4c72b0")
    ax2.bar_label(bars, fmt="%.2f")
    ax2.set(ylim=(0, 1.1), title="Answers")
    fig.suptitle(f"{metrics['dataset']} — {metrics['n_questions']} questions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def failures(results: Sequence[QuestionResult]) -> list[QuestionResult]:
    """Questions a person should look at: missed retrieval, wrong answer, or wrong refusal."""
    return [
        r
        for r in results
        if (r.answerable and (not r.contains or r.gold_rank is None or r.gold_rank > 5))
        or (not r.answerable and r.answered)
    ]


def write_report(
    metrics: dict[str, Any], results: Sequence[QuestionResult], path: Path, max_failures: int = 100
) -> None:
    """Markdown report: the table, the plot (PNG next to it), and the failed questions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    png = path.with_suffix(".png")
    plot(results, metrics, png)
    fails = failures(results)
    lines = [
        f"# Evaluation: {metrics['dataset']}",
        "",
        "```",
        format_table(metrics),
        "```",
        "",
        f"![hit@k and answer metrics]({png.name})",
        "",
        f"## Failed questions ({len(fails)})",
        "",
    ]
    if len(fails) > max_failures:
        lines += [f"(the first {max_failures} are listed)", ""]
    for r in fails[:max_failures]:
        why = (
            "answered, but the articles do not say"
            if not r.answerable
            else "refused"
            if not r.answered
            else "gold source not in top 5"
            if r.gold_rank is None or r.gold_rank > 5
            else "answer lacks the gold answer"
        )
        lines += [
            f"### {r.qid}: {r.question}",
            "",
            f"- why: {why}; gold source rank: {r.gold_rank or '>10'}",
            f"- gold: {' | '.join(r.answers) or '(not in the articles)'} — sources: {', '.join(r.sources) or '-'}",
            f"- answer: {r.short_answer + ' — ' if r.short_answer else ''}{r.answer}",
            "- retrieved:",
        ]
        for doc_id, score, text in r.retrieved:
            lines.append(f"  - `{doc_id}` ({score:.3f}) {text[:200].replace(chr(10), ' ')}…")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def write_json(metrics: dict[str, Any], path: Path) -> None:
    """The metrics dict as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
