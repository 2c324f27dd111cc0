"""How the answerer's weights and the refusal threshold were set (run it to see the tables).

    python benchmarks/calibrate.py answerer   # sweep unit-scoring weights on ARCD + the seed set
    python benchmarks/calibrate.py refusal    # features of answerable vs unanswerable questions
    python benchmarks/calibrate.py span       # fit the short-answer span weights (rag/answerer/span.py)

Refusal calibration set (no hand-labelled unanswerable questions exist beyond the two of
the seed set, so we make them from the data we have):
- English: the English seed translation (data/gold/seed_qa_en.jsonl) on the articles
  (answerable, and its two unanswerable), and asked of ARCD (off-topic); the English ARCD
  sample (data/gold/arcd_en_sample.json) on ARCD (answerable), without its article (on-topic)
  and asked of the news articles (off-topic) — English questions have their own weights and
  threshold (rag/answerer/extractive.py), rescaled to the one threshold;
- answerable: every ARCD question against the ARCD index, every answerable seed question
  against the news articles;
- unanswerable, off-topic: ARCD questions asked of the news articles, seed questions asked
  of ARCD;
- unanswerable, on-topic: each ARCD question asked of ARCD *without the article it comes
  from* (all paragraphs sharing its title are filtered out of the ranking): same style,
  same domain, answer absent — the hard case;
- the two unanswerable seed questions.
The threshold is the one that refuses at most 3% of ARCD's answerable questions while
refusing as many unanswerable ones as possible.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answerer import extractive as A  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluate import best_over, contains, f1_score, prepare, strip_citations  # noqa: E402
from rag.gold import load_gold  # noqa: E402
from rag.pipeline import RAG  # noqa: E402

SEED = ROOT.parent / "shared" / "gold" / "seed_qa.jsonl"
SEED_EN = ROOT / "data" / "gold" / "seed_qa_en.jsonl"
ARCD_EN = ROOT / "data" / "gold" / "arcd_en_sample.json"
ARCD = ROOT.parent / "shared" / "gold" / "arcd-train.json"
MAX_ANSWERABLE_REFUSED = 0.03


def _rag_for(gold_path: Path, settings: Settings) -> tuple[Any, RAG]:
    gold = load_gold(gold_path)
    rag = RAG(prepare(gold, settings, None)[0])
    rag.store  # noqa: B018 - load now
    return gold, rag


def retrieved(settings: Settings) -> dict[str, Any]:
    """Retrieve once for every question of both sets (and the cross-corpus pairs)."""
    seed, news = _rag_for(SEED, settings)
    arcd, wiki = _rag_for(ARCD, settings)
    k = settings.top_k
    out: dict[str, Any] = {"news": news, "wiki": wiki, "seed": seed, "arcd": arcd}
    out["seed_on_news"] = [(q, news.search(q.question, k)[0]) for q in seed.questions]
    out["arcd_on_wiki"] = [(q, wiki.search(q.question, 30)[0]) for q in arcd.questions]
    out["arcd_on_news"] = [(q, news.search(q.question, k)[0]) for q in arcd.questions]
    out["seed_on_wiki"] = [(q, wiki.search(q.question, k)[0]) for q in seed.questions]
    seed_en = load_gold(SEED_EN)
    out["en_on_news"] = [(q, news.search(q.question, k)[0]) for q in seed_en.questions]
    out["en_on_wiki"] = [(q, wiki.search(q.question, k)[0]) for q in seed_en.questions]
    arcd_en, wiki_en = _rag_for(ARCD_EN, settings)
    out["wiki_en"] = wiki_en
    out["arcd_en_on_wiki"] = [(q, wiki_en.search(q.question, 30)[0]) for q in arcd_en.questions]
    out["arcd_en_on_news"] = [(q, news.search(q.question, k)[0]) for q in arcd_en.questions]
    return out


def sweep_answerer(data: dict[str, Any]) -> None:
    """contains / F1 of the extractive answers for a grid of weights."""
    grid = [
        {"W_TITLE_WORD": tw, "W_RETRIEVAL": wr, "W_DENSE": 1.0}
        for tw, wr in [(tw, wr) for tw in (1.0, 0.5, 0.3, 0.2, 0.0) for wr in (0.0, 1.0)] + [(0.3, 0.5), (0.3, 1.5)]
    ]
    sets = [("seed", data["seed_on_news"], data["news"]), ("arcd", data["arcd_on_wiki"], data["wiki"])]
    print("| W_TITLE_WORD | W_RETRIEVAL | W_DENSE | seed contains | ARCD contains | ARCD F1 |")
    print("|---|---|---|---|---|---|")
    saved = {k: getattr(A, k) for k in grid[0]}
    for params in grid:
        for k, v in params.items():
            setattr(A, k, v)
        row = []
        for _, rows, rag in sets:
            c = f = n = 0.0
            for q, ps in rows:
                if not q.answerable:
                    continue
                a = A.extract_answer(
                    q.question, ps[: rag.settings.top_k], rag.term_stats, threshold=-1e9, scale=rag.dense_scale
                )
                text = strip_citations(a.text)
                c += best_over(q.answers, contains, text)
                f += best_over(q.answers, f1_score, text)
                n += 1
            row.append((c / n, f / n))
        print(
            f"| {params['W_TITLE_WORD']} | {params['W_RETRIEVAL']} | {params['W_DENSE']} "
            f"| {row[0][0]:.3f} | {row[1][0]:.3f} | {row[1][1]:.3f} |"
        )
    for k, v in saved.items():
        setattr(A, k, v)


def evidence(data: dict[str, Any]) -> tuple[list[Any], np.ndarray, list[str]]:
    """Refusal evidence for every calibration question, labels (1 = answerable) and group names."""
    news, wiki = data["news"], data["wiki"]
    k = news.settings.top_k
    evs, labels, groups = [], [], []

    def add(question: str, passages: list[Any], rag: RAG, label: int, group: str) -> None:
        _, ev = A.score_units(question, passages[:k], rag.term_stats, rag.dense_scale)
        evs.append(ev)
        labels.append(label)
        groups.append(group)

    for q, ps in data["seed_on_news"]:
        add(q.question, ps, news, int(q.answerable), "seed" if q.answerable else "seed unanswerable")
    titles = {d.doc_id: d.title for d in wiki.store.documents.values()}
    for q, ps in data["arcd_on_wiki"]:
        add(q.question, ps, wiki, 1, "arcd")
        gold_title = titles[q.sources[0]]
        rest = [p for p in ps if titles[p.chunk.doc_id] != gold_title]
        add(q.question, [replace(p, rank=i + 1) for i, p in enumerate(rest)], wiki, 0, "arcd without its article")
    for q, ps in data["arcd_on_news"]:
        add(q.question, ps, news, 0, "arcd asked of news")
    for q, ps in data["seed_on_wiki"]:
        add(q.question, ps, wiki, 0, "seed asked of arcd")
    for q, ps in data["en_on_news"]:
        add(q.question, ps, news, int(q.answerable), "English seed" if q.answerable else "English unanswerable")
    for q, ps in data["en_on_wiki"]:
        add(q.question, ps, wiki, 0, "English seed asked of arcd")
    wiki_en = data["wiki_en"]
    titles_en = {d.doc_id: d.title for d in wiki_en.store.documents.values()}
    for q, ps in data["arcd_en_on_wiki"]:
        add(q.question, ps, wiki_en, 1, "English arcd")
        gold_title = titles_en[q.sources[0]]
        rest = [p for p in ps if titles_en[p.chunk.doc_id] != gold_title]
        add(
            q.question,
            [replace(p, rank=i + 1) for i, p in enumerate(rest)],
            wiki_en,
            0,
            "English arcd without its article",
        )
    for q, ps in data["arcd_en_on_news"]:
        add(q.question, ps, news, 0, "English arcd asked of news")
    return evs, np.array(labels), groups


def calibrate_refusal(data: dict[str, Any]) -> float:
    """Refusal rates per group for dense weights and candidate thresholds; return the chosen threshold."""
    evs, _labels, groups = evidence(data)
    names = list(dict.fromkeys(groups))
    print("| dense weight | threshold | " + " | ".join(f"{g} refused" for g in names) + " |")
    print("|---|---|" + "---|" * len(names))
    saved, saved_t = A.W_REFUSAL_DENSE, A.REFUSAL_THRESHOLD
    chosen = 0.0
    for wd in (1.0, 1.5, 2.0, 2.75, 4.0):
        A.W_REFUSAL_DENSE = wd
        # The threshold answers 97% of ARCD's answerable questions (and the seed's, which score
        # higher); English ones are scored on their own scale, rescaled to the threshold in force
        # (so each row rescales to its own), whose refusals the English columns show.
        A.REFUSAL_THRESHOLD = 1.0
        arcd = np.sort([A.refusal_score(ev) for ev, g in zip(evs, groups, strict=True) if g == "arcd"])
        at3 = float(arcd[int(np.floor(MAX_ANSWERABLE_REFUSED * len(arcd)))])
        shown = [at3] if wd != saved else sorted({round(at3, 3), *np.round(np.percentile(arcd, [1, 2, 5, 10]), 3)})
        for t in shown:
            A.REFUSAL_THRESHOLD = t
            scores = np.array([A.refusal_score(ev) for ev in evs])
            cells = [f"{np.mean(scores[np.array([x == g for x in groups])] < t):.3f}" for g in names]
            mark = " (chosen)" if wd == saved and round(t, 3) == round(at3, 3) else ""
            print(f"| {wd} | {t:.3f}{mark} | " + " | ".join(cells) + " |")
        if wd == saved:
            chosen = at3
    A.W_REFUSAL_DENSE, A.REFUSAL_THRESHOLD = saved, saved_t
    return chosen


def span_examples() -> list[tuple[str, str, str, list[str]]]:
    """(title, question, gold sentence, gold answers) for every ARCD train question: the sentence of
    its paragraph that holds the answer's start, cut the way the answerer cuts sentences. (Adding the
    24 seed questions' evidence sentences moved the fit around without improving either set.)"""
    import json

    from rag.arabic import split_sentences

    out = []
    for art in json.loads(ARCD.read_text(encoding="utf-8"))["data"]:
        for para in art["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                at = qa["answers"][0]["answer_start"]
                sent = next(((a, b) for a, b in split_sentences(ctx) if a <= at < b), None)
                if sent:
                    golds = [x["text"] for x in qa["answers"]]
                    out.append((art["title"], qa["question"], ctx[sent[0] : sent[1]], golds))
    return out


SpanRow = tuple[str, np.ndarray, np.ndarray, np.ndarray]  # title, features, F1, overlap


def span_rows(examples: list[tuple[str, str, str, list[str]]]) -> list[SpanRow]:
    """Per question: the candidate spans' features, each candidate's F1 against the gold answers,
    and the candidates' overlap with each other (what the answer picks by, see span.py)."""
    from rag.answerer import span as S

    rows = []
    for title, q, sent, golds in examples:
        s = S.read_sentence(q, sent)
        cands = S.candidates(s) if s else []
        if not cands or s is None:
            continue
        x = np.array([S.features(s, a, b) for a, b in cands])
        y = np.array([best_over(golds, f1_score, sent[s.tokens[a].start : s.tokens[b].end]) for a, b in cands])
        c = np.array(cands)
        lo, hi = c[:, 0], c[:, 1]
        inter = np.clip(np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None]) + 1, 0, None)
        size = hi - lo + 1
        rows.append((title, x, y, 2 * inter / (size[:, None] + size[None])))
    return rows


def _segment_softmax(s: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    top = np.full(n, -np.inf)
    np.maximum.at(top, seg, s)
    e = np.exp(s - top[seg])
    return e / np.bincount(seg, e, n)[seg]


def fit_span(rows: list[SpanRow], l2: float = 0.01, iters: int = 300) -> np.ndarray:
    """Listwise softmax: each sentence's candidates compete, the target leans on the best-F1 ones
    (a softmax of their F1 at temperature 0.05; 0.1 and 0.2 scored 0.003-0.01 lower cross-validated).

    Standardised features, plain gradient descent, all sentences at once."""
    xs = np.concatenate([x for _, x, _, _ in rows])
    ys = np.concatenate([y for _, _, y, _ in rows])
    seg = np.repeat(np.arange(len(rows)), [len(y) for _, _, y, _ in rows])
    mu, sd = xs.mean(0), xs.std(0) + 1e-9
    z = (xs - mu) / sd
    target = _segment_softmax(ys / 0.05, seg, len(rows))
    w = np.zeros(xs.shape[1])
    for _ in range(iters):
        p = _segment_softmax(z @ w, seg, len(rows))
        w -= 0.5 * (z.T @ (p - target) / len(rows) + l2 * w)
    return w / sd  # on the raw features (the offset does not change which candidate wins)


def _span_f1(rows: list[SpanRow], w: np.ndarray, mbr: bool = True) -> float:
    """Mean F1 of the picked candidate: the highest score, or (``mbr``) the highest expected
    overlap under the softmax of the scores over the top MBR_TOP, as span.py picks."""
    from rag.answerer import span as S

    total = 0.0
    for _, x, y, overlap in rows:
        s = x @ w
        if not mbr:
            total += y[int(np.argmax(s))]
            continue
        top = np.argsort(-s, kind="stable")[: S.MBR_TOP]
        p = np.exp(s[top] - s[top[0]])
        total += y[top[int(np.argmax(overlap[np.ix_(top, top)] @ p))]]
    return total / len(rows)


def _short_answers(examples: list[tuple[str, str, str, list[str]]], weights: dict[str, float]) -> tuple[float, float]:
    """EM and F1 of span.short_answer (the whole rule: pick, edge cut, number/date cut) with these weights."""
    from rag.answerer import span as S
    from rag.evaluate import exact_match

    saved = S.WEIGHTS
    S.WEIGHTS = weights
    S._short_answer.cache_clear()
    em = f1 = 0.0
    for _, q, sent, golds in examples:
        span = S.short_answer(q, sent)
        pred = sent[span[0] : span[1]] if span else sent
        em += best_over(golds, exact_match, pred)
        f1 += best_over(golds, f1_score, pred)
    S.WEIGHTS = saved
    S._short_answer.cache_clear()
    return em / len(examples), f1 / len(examples)


def calibrate_span() -> None:
    """Fit the span weights on ARCD train; report F1 of the chosen span given the gold sentence,
    cross-validated over 5 folds of article titles, and the weights to paste into span.py."""
    import random

    from rag.answerer import span as S

    examples = span_examples()
    rows = span_rows(examples)
    print(f"{len(rows)} questions; best candidate (oracle) F1 {np.mean([y.max() for _, _, y, _ in rows]):.3f}")
    current = np.array([S.WEIGHTS.get(f, 0.0) for f in S.FEATURES])
    print(f"current weights: candidate F1 {_span_f1(rows, current):.3f} (top: {_span_f1(rows, current, False):.3f})")
    titles = sorted({t for t, _, _, _ in rows})
    random.Random(0).shuffle(titles)
    total = argmax = em_out = f1_out = 0.0
    for k in range(5):
        fold = set(titles[k::5])
        w = fit_span([r for r in rows if r[0] not in fold])
        test = [r for r in rows if r[0] in fold]
        total += _span_f1(test, w) * len(test)
        argmax += _span_f1(test, w, False) * len(test)
        held = [e for e in examples if e[0] in fold]
        em, f1 = _short_answers(held, dict(zip(S.FEATURES, w.tolist(), strict=True)))
        em_out += em * len(held)
        f1_out += f1 * len(held)
    print(
        f"5-fold cross-validated candidate F1 (folds by article): {total / len(rows):.3f} "
        f"(top score instead of expected overlap: {argmax / len(rows):.3f})"
    )
    print(f"5-fold cross-validated short answer: EM {em_out / len(examples):.3f} F1 {f1_out / len(examples):.3f}")
    w = fit_span(rows)
    em, f1 = _short_answers(examples, dict(zip(S.FEATURES, w.tolist(), strict=True)))
    print(f"fitted on all: candidate F1 {_span_f1(rows, w):.3f}; short answer EM {em:.3f} F1 {f1:.3f}")
    print("WEIGHTS = {\n" + "".join(f'    "{f}": {x:.3f},\n' for f, x in zip(S.FEATURES, w, strict=True)) + "}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["answerer", "refusal", "span"])
    p.add_argument("--retrieval", default=None)
    args = p.parse_args()
    if args.what == "span":
        calibrate_span()
        return
    settings = Settings.from_env(retrieval=args.retrieval)
    data = retrieved(settings)
    if args.what == "answerer":
        sweep_answerer(data)
    else:
        print(f"chosen threshold: {calibrate_refusal(data):.3f}")


if __name__ == "__main__":
    main()
