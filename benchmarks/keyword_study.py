"""Which keyword analyzer and BM25 variant retrieve Arabic passages best? Run: python benchmarks/keyword_study.py

Keyword-only retrieval (BM25 over title + chunk text, rag.keywords.KeywordIndex) on
ARCD train (SQuAD v1.1: 231 Wikipedia paragraphs, 693 questions) chunked with the product
defaults (480 tokens, 64 overlap), and on the seed questions over the five sample articles.

Ranks count distinct documents: chunks are ranked by BM25, every chunk after the first of
its document is dropped, and a question's rank is the position of its gold document's first
chunk (a chunk sharing no term with the question is never retrieved). Equal scores keep
store order.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.arabic import analyze, normalize_arabic, stopwords  # noqa: E402
from rag.chunk import chunk_documents  # noqa: E402
from rag.gold import load_gold  # noqa: E402
from rag.index.keywords import (  # noqa: E402
    DEFAULT_BM25,
    BM25Params,
    KeywordIndex,
    analyze_for_bm25,
    keyword_text,
    write_keyword_index,
)
from rag.types import Chunk, Document  # noqa: E402

ARCD = Path("/work/shared/gold/arcd-train.json")
SEED = Path("/work/shared/gold/seed_qa.jsonl")
ARTICLES = ROOT / "data" / "articles"

Analyzer = Callable[[str], list[str]]

# ---- analyzer variants ---------------------------------------------------------------------
_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_WORD = re.compile(r"[\w%]+(?:[.,]\d+)*", re.UNICODE)
_CONJ_ARTICLE = re.compile("^[وف](?=(?:ال|بال|كال|لل)...)")


def _words(text: str) -> list[str]:
    """Raw words (real spelling, marks removed) for stemmers that want it."""
    return [w for w in _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKC", text)).lower()) if w != "_"]


def _keep(key: str) -> bool:
    return len(key) > 1 or key.isdigit()


def variant(stem: Callable[[str], tuple[str, ...]], drop_stopwords: bool) -> Analyzer:
    """An analyzer: words → (stopwords out) → ``stem(raw word)`` terms, each word's terms cached."""
    stop = stopwords() if drop_stopwords else frozenset()

    @cache
    def terms(raw: str) -> tuple[str, ...]:
        key = normalize_arabic(raw)
        if key in stop or not _keep(key):
            return ()
        return (key,) if key[0].isdigit() else stem(raw)

    def run(text: str) -> list[str]:
        return [t for w in _words(text) for t in terms(w)]

    return run


def _normalise_only(raw: str) -> tuple[str, ...]:
    return (normalize_arabic(raw),)


@lru_cache(maxsize=1)
def _snowball() -> Callable[[str], str]:
    import Stemmer

    return Stemmer.Stemmer("arabic").stemWord  # type: ignore[no-any-return]


def _snowball_stem(raw: str) -> tuple[str, ...]:
    return (normalize_arabic(_snowball()(raw[1:] if _CONJ_ARTICLE.match(raw) else raw)),)


def _snowball_fixed(raw: str) -> tuple[str, ...]:
    """Snowball with two of its Arabic slips patched: the indefinite plural ات ("محادثات" → "محادثا",
    but "المحادثات" → "محادث") and a noun's initial س taken for the future prefix ("سيارات" → "يارا")."""
    word = raw[1:] if _CONJ_ARTICLE.match(raw) else raw
    stem = _snowball()(word)
    if word.startswith("س") and not stem.startswith("س") and len(word) >= 5:
        stem = _snowball()("ال" + word)  # the noun reading
    if word.endswith("ات") and stem.endswith("ا") and not stem.endswith("ات"):
        stem = stem[:-1]
    return (normalize_arabic(stem),)


@lru_cache(maxsize=1)
def _tashaphyne() -> Callable[[str], str]:
    from tashaphyne.stemming import ArabicLightStemmer

    stemmer = ArabicLightStemmer()

    def stem(word: str) -> str:
        stemmer.light_stem(word)
        return str(stemmer.get_stem())

    return stem


def _tashaphyne_stem(raw: str) -> tuple[str, ...]:
    return (normalize_arabic(_tashaphyne()(raw)),)


@lru_cache(maxsize=1)
def _isri() -> Callable[[str], str]:
    from nltk.stem.isri import ISRIStemmer

    return ISRIStemmer().stem  # type: ignore[no-any-return]


def _isri_stem(raw: str) -> tuple[str, ...]:
    return (normalize_arabic(_isri()(raw)),)


# Larkey, Ballesteros & Connell's Light10 (SIGIR 2002), on normalised text (ة is already ه).
_L10_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
_L10_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")


def light10(key: str) -> str:
    """Light10 stem of a normalised word: و, then an article, then suffixes, each only if enough is left."""
    if key.startswith("و") and len(key) - 1 >= 3:
        key = key[1:]
    for a in _L10_ARTICLES:
        if key.startswith(a) and len(key) - len(a) >= 2:
            key = key[len(a) :]
            break
    for s in _L10_SUFFIXES:
        if key.endswith(s) and len(key) - len(s) >= 2:
            key = key[: -len(s)]
    return key


def _light10_stem(raw: str) -> tuple[str, ...]:
    return (light10(normalize_arabic(raw)),)


def _snowball_ngrams(raw: str) -> tuple[str, ...]:
    stem = _snowball_stem(raw)[0]
    key = light10(normalize_arabic(raw))
    grams = tuple("#" + key[i : i + 4] for i in range(len(key) - 3)) if len(key) > 4 else ()
    return (stem, *grams)


def _light10_surface(raw: str) -> tuple[str, ...]:
    key = normalize_arabic(raw)
    stem = light10(key)
    return (stem,) if stem == key else (stem, "=" + key)


_ARTICLE = re.compile("^(?:[وف]?(?:ال|بال|كال)|[وف]?لل)(?=..)")


def _snowball_surface(raw: str) -> tuple[str, ...]:
    """The stem plus the article-less surface form ("=" marks it): exact word forms then count extra."""
    stem = _snowball_stem(raw)[0]
    surface = _ARTICLE.sub("", normalize_arabic(raw))
    return (stem,) if surface == stem else (stem, "=" + surface)


VARIANTS: dict[str, Analyzer] = {
    "normalise only": variant(_normalise_only, False),
    "normalise only − stopwords": variant(_normalise_only, True),
    "Snowball": variant(_snowball_stem, False),
    "Snowball − stopwords (rag.arabic.analyze)": analyze,
    "Snowball, ات/س slips patched − stopwords": variant(_snowball_fixed, True),
    "Tashaphyne light": variant(_tashaphyne_stem, False),
    "Tashaphyne light − stopwords": variant(_tashaphyne_stem, True),
    "ISRI": variant(_isri_stem, False),
    "ISRI − stopwords": variant(_isri_stem, True),
    "Light10": variant(_light10_stem, False),
    "Light10 − stopwords": variant(_light10_stem, True),
    "Light10 + surface − stopwords": variant(_light10_surface, True),
    "Snowball + 4-grams − stopwords": variant(_snowball_ngrams, True),
    "Snowball + surface − stopwords": variant(_snowball_surface, True),
}
BASELINE = "Snowball − stopwords (rag.arabic.analyze)"


# ---- evaluation ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A retrieval benchmark: chunks in store order, their documents, questions with gold doc ids."""

    name: str
    documents: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    questions: tuple[tuple[str, frozenset[str]], ...]


def arcd_case() -> Case:
    gold = load_gold(ARCD)
    chunks = chunk_documents(gold.documents, chunk_tokens=480, chunk_overlap=64)
    qs = tuple((q.question, frozenset(q.sources)) for q in gold.questions)
    return Case("ARCD train", gold.documents, tuple(chunks), qs)


def seed_case() -> Case:
    from rag.ingest import load_documents

    docs, _ = load_documents([str(ARTICLES)])
    chunks = chunk_documents(docs, chunk_tokens=480, chunk_overlap=64)
    gold = load_gold(SEED)
    qs = tuple((q.question, frozenset(q.sources)) for q in gold.questions if q.answerable)
    return Case("seed", tuple(docs), tuple(chunks), qs)


def doc_rank(index: KeywordIndex, chunks: Sequence[Chunk], terms: list[str], gold: frozenset[str]) -> int | None:
    """1-based rank of the first gold document among distinct retrieved documents, or None."""
    seen: set[str] = set()
    for pos, _ in index.search_terms(terms, len(chunks)):
        doc = chunks[pos].doc_id
        if doc in seen:
            continue
        seen.add(doc)
        if doc in gold:
            return len(seen)
    return None


@dataclass(frozen=True)
class Result:
    """Per-question ranks of one configuration (None: gold document not retrieved)."""

    ranks: tuple[int | None, ...]
    vocab: int

    def hit(self, k: int) -> float:
        return sum(r is not None and r <= k for r in self.ranks) / len(self.ranks)

    def rr(self) -> np.ndarray:
        return np.array([1 / r if r is not None and r <= 10 else 0.0 for r in self.ranks])

    def mrr(self) -> float:
        return float(self.rr().mean())


def evaluate(case: Case, analyzer: Analyzer, params: BM25Params = DEFAULT_BM25, titles: bool = True) -> Result:
    """Build BM25 over the case's chunks (title + text) and rank every question's gold document."""
    title_of = {d.doc_id: d.title for d in case.documents}
    terms = [analyzer(keyword_text(title_of[c.doc_id] if titles else "", c.text)) for c in case.chunks]
    index = KeywordIndex.build(terms, params)
    ranks = tuple(doc_rank(index, case.chunks, analyzer(q), gold) for q, gold in case.questions)
    return Result(ranks, len(index.vocab))


def delta_ci(a: Result, base: Result, n_boot: int = 2000) -> tuple[float, float, float]:
    """MRR@10 difference a − base with a paired bootstrap 95% interval over questions."""
    d = a.rr() - base.rr()
    rng = np.random.default_rng(0)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def table(rows: list[tuple[str, Result]], first: str, base: Result | None = None) -> str:
    extra = " | ΔMRR vs baseline [95% CI]" if base is not None else ""
    head = f"| {first} | hit@1 | hit@5 | MRR@10 | terms{extra} |\n|---|---:|---:|---:|---:{'|---:' if base else ''}|\n"
    lines = []
    for name, r in rows:
        cell = ""
        if base is not None:
            m, lo, hi = delta_ci(r, base)
            cell = f" | {m:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        lines.append(f"| {name} | {r.hit(1):.3f} | {r.hit(5):.3f} | {r.mrr():.3f} | {r.vocab}{cell} |")
    return head + "\n".join(lines)


# ---- timings at 10k chunks -----------------------------------------------------------------
_CODE = "جحخدذرزسشصضطظعغق"  # letters Snowball never strips as affixes
_LONG_WORD = re.compile(r"\b(\w{4,})\b")


def replicate(case: Case, n: int, vary: bool) -> tuple[list[Document], list[Chunk]]:
    """~n chunks from copies of the ARCD chunks, each copy with its own doc ids and one distinguishing word.

    With ``vary``, every other long word of a copy gets a copy-specific two-letter ending, so
    the vocabulary grows with the corpus the way a real news archive's does.
    """
    docs: list[Document] = []
    chunks: list[Chunk] = []
    copies = -(-n // len(case.chunks))
    for r in range(copies):
        code = _CODE[r // len(_CODE) % len(_CODE)] + _CODE[r % len(_CODE)]

        def mutate(text: str, r: int = r, code: str = code) -> str:
            if not vary or r == 0:
                return text
            return _LONG_WORD.sub(
                lambda m: m.group(1) + code if zlib.crc32(m.group(1).encode()) % 2 else m.group(1), text
            )

        tag = f" نسخة{r}"
        docs += [
            Document(f"{d.doc_id}~{r}", mutate(d.title) + tag, d.text, d.path, d.content_hash) for d in case.documents
        ]
        chunks += [
            Chunk(f"{c.chunk_id}~{r}", f"{c.doc_id}~{r}", mutate(c.text) + tag, c.start, c.end, c.ordinal)
            for c in case.chunks
        ]
    return docs, chunks[:n]


_LOAD_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from rag.index.keywords import KeywordIndex
t1 = time.perf_counter()
idx = KeywordIndex.load(__import__("pathlib").Path(sys.argv[1]))
t2 = time.perf_counter()
idx.search("من هو رئيس الأركان الروسي؟", 30)
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3, "first_query_ms": (t3 - t2) * 1e3}))
"""


def timings(case: Case, n: int, vary: bool) -> dict[str, float]:
    """Analysis, build, write, load (in this process and in a fresh one) and query times at ~n chunks."""
    docs, chunks = replicate(case, n, vary)
    out: dict[str, float] = {"chunks": len(chunks), "words_per_chunk": sum(len(c.text.split()) for c in chunks) / n}
    title_of = {d.doc_id: d.title for d in docs}
    t0 = time.perf_counter()
    terms = [analyze_for_bm25(keyword_text(title_of[c.doc_id], c.text)) for c in chunks]
    out["analyze_ms"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    out["terms"] = len(KeywordIndex.build(terms).vocab)
    t0 = time.perf_counter()
    KeywordIndex.build(terms)
    out["bm25_build_ms"] = (time.perf_counter() - t0) * 1e3
    with tempfile.TemporaryDirectory() as tmp:
        gen = Path(tmp)
        t0 = time.perf_counter()
        write_keyword_index(gen, docs, chunks)
        out["write_keyword_index_ms"] = (time.perf_counter() - t0) * 1e3
        out["files_kib"] = sum(p.stat().st_size for p in (gen / "keywords").iterdir()) / 1024
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            index = KeywordIndex.load(gen)
            loads.append((time.perf_counter() - t0) * 1e3)
        out["load_ms_median"] = statistics.median(loads)
        t0 = time.perf_counter()
        KeywordIndex.load(gen, chunks)
        out["load_checked_ms"] = (time.perf_counter() - t0) * 1e3
        questions = [q for q, _ in case.questions]
        for q in questions[:50]:
            index.search(q, 30)
        # A fixed ~0.1 ms busy loop timed between queries: on a shared machine the scheduler's
        # pauses show up in its p99 too, which tells them apart from the search's own cost.
        per_q, control = [], []
        for q in questions * 3:
            t0 = time.perf_counter()
            index.search(q, 30)
            per_q.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            sum(range(2000))
            control.append((time.perf_counter() - t0) * 1e3)
        per_q.sort()
        control.sort()
        out["query_ms_median"] = per_q[len(per_q) // 2]
        out["query_ms_p99"] = per_q[int(len(per_q) * 0.99)]
        out["busy_loop_control_ms_median"] = control[len(control) // 2]
        out["busy_loop_control_ms_p99"] = control[int(len(control) * 0.99)]
        cold = subprocess.run(
            [sys.executable, "-c", _LOAD_SNIPPET, str(gen)], capture_output=True, text=True, cwd=ROOT, check=True
        )
        out.update({f"cold_{k}": v for k, v in json.loads(cold.stdout).items()})
        # The same files read by bm25s itself give the same top hits (the layout is bm25s's).
        import bm25s

        ref = bm25s.BM25.load(str(gen / "keywords"))
        q_terms = analyze_for_bm25(questions[0])
        ref_scores = ref.get_scores([t for t in q_terms if t in ref.vocab_dict])
        ours, _ = index.scores(q_terms)
        out["max_abs_diff_vs_bm25s"] = float(np.abs(ref_scores - ours).max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="analyzers only: skip the BM25 sweep and timings")
    args = ap.parse_args()
    arcd, seed = arcd_case(), seed_case()
    print(
        f"ARCD: {len(arcd.documents)} docs, {len(arcd.chunks)} chunks, {len(arcd.questions)} questions; "
        f"seed: {len(seed.documents)} docs, {len(seed.chunks)} chunks, {len(seed.questions)} questions\n"
    )

    for case in (arcd, seed):
        rows = [(name, evaluate(case, a)) for name, a in VARIANTS.items()]
        base = dict(rows)[BASELINE]
        print(
            f"### Analyzers, {case.name} (BM25 {DEFAULT_BM25.method} k1={DEFAULT_BM25.k1} b={DEFAULT_BM25.b}, "
            "titles indexed)\n"
        )
        print(table(rows, "analyzer", base) + "\n")

    print("### Titles, ARCD (analyze_for_bm25)\n")
    no_title, with_title = evaluate(arcd, analyze_for_bm25, titles=False), evaluate(arcd, analyze_for_bm25)
    print(table([("chunk text only", no_title), ("title + chunk text", with_title)], "indexed", no_title) + "\n")
    if args.quick:
        return

    print("### BM25 variants, ARCD (analyze_for_bm25, titles indexed)\n")
    base = evaluate(arcd, analyze_for_bm25, DEFAULT_BM25)
    rows = []
    for method in ("lucene", "robertson", "atire", "bm25l", "bm25+"):
        p = BM25Params(method=method)
        rows.append((f"{method} k1={p.k1} b={p.b}", evaluate(arcd, analyze_for_bm25, p)))
    for k1 in (0.6, 0.9, 1.2, 1.5, 2.0):
        for b in (0.3, 0.5, 0.75, 0.9, 1.0):
            rows.append((f"lucene k1={k1} b={b}", evaluate(arcd, analyze_for_bm25, BM25Params("lucene", k1, b))))
    print(table(rows, "BM25", base) + "\n")
    rows = [
        (f"lucene k1={k1} b={b}", evaluate(seed, analyze_for_bm25, BM25Params("lucene", k1, b)))
        for k1, b in ((1.2, 0.75), (0.9, 0.4), (1.5, 0.75), (1.2, 0.9))
    ]
    print("### BM25 settings, seed (analyze_for_bm25)\n")
    print(table(rows, "BM25") + "\n")

    print("### Timings at 10k chunks (ARCD chunks replicated; analyze_for_bm25, lucene)\n")
    runs = {"copies": timings(arcd, 10_000, vary=False), "copies, growing vocabulary": timings(arcd, 10_000, vary=True)}
    print("| measure | " + " | ".join(runs) + " |\n|---|" + "---:|" * len(runs))
    for key in runs["copies"]:
        print(
            f"| {key} | "
            + " | ".join(f"{r[key]:.2f}" if isinstance(r[key], float) else f"{r[key]}" for r in runs.values())
            + " |"
        )


if __name__ == "__main__":
    main()
