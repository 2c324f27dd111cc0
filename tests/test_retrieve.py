"""Retrieval: dense, keyword and fused rankings, passage merging and diversity, and the modes on real articles."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from rag.cli import _settings, build_parser
from rag.config import Settings
from rag.embed import ArrayEmbeddings
from rag.errors import ConfigError
from rag.index.keywords import analyze_for_bm25, keyword_text
from rag.index.local import IndexStore, embedding_text
from rag.pipeline import RAG
from rag.retrieve import (
    RRF_K,
    Candidate,
    _minmax,
    dense_candidates,
    hybrid_candidates,
    retrieve,
    to_passages,
)
from rag.types import Chunk, Document, Passage

from .conftest import SEED, HashEmbeddings


def _quiet(total: int) -> Callable[[int], None]:
    return lambda n: None


# ---- a tiny real index over hand-written articles (hash embeddings, real BM25) -------------
DOCS = (
    Document(
        "a.txt", "محادثات عسكرية في أنقرة", "التقى رئيس الأركان الروسي نظيره التركي في أنقرة لبحث الأوضاع في سوريا."
    ),
    Document("b.txt", "التبادل التجاري", "قال الرئيس الروسي إن التبادل التجاري مع تركيا سيرتفع إلى مئة مليار دولار."),
    Document("c.txt", "قصف إدلب", "قتل ستة جنود أتراك في قصف على إدلب شمال سوريا."),
    Document("d.txt", "كرة القدم", "فاز المنتخب الياباني بكأس آسيا لكرة القدم بعد مباراة صعبة."),
    # Names the Russian chief only with a prefixed و: the hash embedder sees another word,
    # BM25's analysis sees the same term.
    Document("e.txt", "طقس الشتاء", "وصل وجيراسيموف متأخرا بسبب الطقس الماطر والثلوج الكثيفة."),
    Document("f.txt", "زيارة موسكو", "زار وزير الخارجية التركي موسكو والتقى رئيس الأركان الروسي."),
)
# Distinct cosines and BM25 scores for every article, so each ranking is unambiguous.
QUESTION = "هل التقى جيراسيموف رئيس الأركان التركي في أنقرة؟"
# Only a.txt and e.txt share a keyword with it; e.txt has no hashed word in common with it.
RARE_QUESTION = "ماذا بحث جيراسيموف في أنقرة؟"


@pytest.fixture
def fake_rag(settings: Settings) -> RAG:
    rag = RAG(settings, embeddings=HashEmbeddings(), progress=_quiet)
    rag.index_documents(DOCS)
    assert [c.doc_id for c in rag.store.chunks] == [d.doc_id for d in DOCS]  # one chunk per article, in order
    return rag


def _evidence(rag: RAG, question: str) -> tuple[dict[str, float], dict[str, float], set[str]]:
    """Per article: cosine (computed apart from the index), BM25 score, and which ones share a keyword."""
    emb = HashEmbeddings()
    q = emb.embed_query_vector(question)
    vecs = emb.embed_passages([embedding_text(d.title, d.text) for d in DOCS])
    cos = {d.doc_id: float(v @ q) for d, v in zip(DOCS, vecs, strict=True)}
    bm, matched = rag.keywords.scores(analyze_for_bm25(question))
    ids = [c.doc_id for c in rag.store.chunks]
    return cos, {i: float(s) for i, s in zip(ids, bm, strict=True)}, {i for i, m in zip(ids, matched, strict=True) if m}


def _ranked(values: dict[str, float], among: set[str] | None = None) -> list[str]:
    return sorted((i for i in values if among is None or i in among), key=lambda i: -values[i])


def _by_doc(rag: RAG, cands: list[Candidate]) -> dict[str, Candidate]:
    return {rag.store.chunks[c.pos].doc_id: c for c in cands}


def _qvec(question: str) -> np.ndarray:
    return HashEmbeddings().embed_query_vector(question)


def _scaled(values: dict[str, float], ids: list[str]) -> dict[str, float]:
    lo, hi = min(values[i] for i in ids), max(values[i] for i in ids)
    return {i: (values[i] - lo) / (hi - lo) for i in ids}


def test_evidence_of_the_hand_made_corpus(fake_rag: RAG) -> None:
    """The preconditions the fusion tests below are computed from (fails loudly if the fakes change)."""
    cos, bm, matched = _evidence(fake_rag, QUESTION)
    assert _ranked(cos) == ["a.txt", "c.txt", "f.txt", "b.txt", "d.txt", "e.txt"]
    assert len(set(cos.values())) == len(cos)
    assert matched == {"a.txt", "b.txt", "e.txt", "f.txt"}
    assert _ranked(bm, matched) == ["a.txt", "f.txt", "e.txt", "b.txt"]
    assert bm["c.txt"] == bm["d.txt"] == 0.0


@pytest.mark.parametrize("weight", [0.5, 0.3, 0.8])
def test_score_fusion_is_the_weighted_sum_of_minmax_scaled_cosine_and_bm25(fake_rag: RAG, weight: float) -> None:
    cos, bm, matched = _evidence(fake_rag, QUESTION)
    k = 3
    cands = hybrid_candidates(fake_rag.store, fake_rag.keywords, _qvec(QUESTION), QUESTION, k, weight=weight)
    # The pool is the union of the top 3 of each retriever: c.txt only from dense, e.txt only from BM25.
    pool = sorted(set(_ranked(cos)[:k]) | set(_ranked(bm, matched)[:k]))
    assert pool == ["a.txt", "c.txt", "e.txt", "f.txt"]
    got = _by_doc(fake_rag, cands)
    assert sorted(got) == pool
    c01, b01 = _scaled(cos, pool), _scaled(bm, pool)
    expected = {i: weight * c01[i] + (1 - weight) * b01[i] for i in pool}
    for i in pool:
        assert got[i].score == pytest.approx(expected[i], abs=1e-6), i
        assert got[i].dense == pytest.approx(cos[i], abs=1e-5)
        assert got[i].keyword == pytest.approx(bm[i], abs=1e-5)
    assert [fake_rag.store.chunks[c.pos].doc_id for c in cands] == _ranked(expected)


def test_explicit_fusion_weight_reaches_the_ranking(fake_rag: RAG) -> None:
    """retrieve(weight=w) uses w: a heavy BM25 weight lifts the keyword-only article."""
    cos, bm, _ = _evidence(fake_rag, QUESTION)
    ids = list(cos)
    c01, b01 = _scaled(cos, ids), _scaled(bm, ids)
    order: dict[float, list[str]] = {}
    for w in (0.9, 0.1):
        passages = retrieve(
            fake_rag.store,
            _qvec(QUESTION),
            6,
            question=QUESTION,
            mode="hybrid",
            keywords=fake_rag.keywords,
            weight=w,
        )
        expected = {i: w * c01[i] + (1 - w) * b01[i] for i in ids}
        assert [p.chunk.doc_id for p in passages] == _ranked(expected)
        assert [p.score for p in passages] == pytest.approx([expected[i] for i in _ranked(expected)], abs=1e-6)
        order[w] = [p.chunk.doc_id for p in passages]
    assert order[0.1].index("e.txt") < order[0.9].index("e.txt")


def test_rrf_is_the_sum_of_reciprocal_ranks(fake_rag: RAG) -> None:
    # Dense top 3: a, c, f. BM25 top 3: a, f, e (ranks 1-based, RRF constant 60).
    assert RRF_K == 60
    cands = hybrid_candidates(fake_rag.store, fake_rag.keywords, _qvec(QUESTION), QUESTION, 3, fusion="rrf")
    expected = {
        "a.txt": 1 / 61 + 1 / 61,
        "f.txt": 1 / 63 + 1 / 62,
        "c.txt": 1 / 62,
        "e.txt": 1 / 63,
    }
    got = {i: c.score for i, c in _by_doc(fake_rag, cands).items()}
    assert got == pytest.approx(expected, abs=1e-12)
    assert [fake_rag.store.chunks[c.pos].doc_id for c in cands] == ["a.txt", "f.txt", "c.txt", "e.txt"]


def test_rrf_through_retrieve(fake_rag: RAG) -> None:
    passages = retrieve(
        fake_rag.store, _qvec(QUESTION), 2, question=QUESTION, mode="hybrid", keywords=fake_rag.keywords, fusion="rrf"
    )
    assert [p.chunk.doc_id for p in passages] == ["a.txt", "f.txt"]
    assert passages[0].score == pytest.approx(2 / 61)


def test_a_chunk_found_only_by_bm25_still_reaches_the_hybrid_results(fake_rag: RAG) -> None:
    cos, bm, matched = _evidence(fake_rag, RARE_QUESTION)
    assert cos["e.txt"] == pytest.approx(0.0, abs=1e-6)  # no hashed word in common
    assert matched == {"a.txt", "e.txt"}
    q = _qvec(RARE_QUESTION)
    dense_top2 = {fake_rag.store.chunks[c.pos].doc_id for c in dense_candidates(fake_rag.store, q, 2)}
    assert "e.txt" not in dense_top2
    hybrid = hybrid_candidates(fake_rag.store, fake_rag.keywords, q, RARE_QUESTION, 2)
    order = [fake_rag.store.chunks[c.pos].doc_id for c in hybrid]
    assert "e.txt" in order
    # Its BM25 score outweighs the dense-only candidate's small cosine.
    assert order.index("e.txt") < order.index(next(i for i in dense_top2 if i != "a.txt"))
    passages = retrieve(fake_rag.store, q, 2, question=RARE_QUESTION, mode="hybrid", keywords=fake_rag.keywords)
    assert [p.chunk.doc_id for p in passages] == ["a.txt", "e.txt"]
    assert passages[1].keyword_score == pytest.approx(bm["e.txt"], abs=1e-5)


def test_keyword_mode_never_returns_chunks_without_a_shared_keyword(fake_rag: RAG) -> None:
    for question in (QUESTION, RARE_QUESTION, "كم عدد الجنود الذين قتلوا في إدلب؟"):
        terms = set(analyze_for_bm25(question))
        passages = retrieve(
            fake_rag.store, _qvec(question), 6, question=question, mode="keyword", keywords=fake_rag.keywords
        )
        assert passages
        for p in passages:
            doc = fake_rag.store.documents[p.chunk.doc_id]
            assert terms & set(analyze_for_bm25(keyword_text(doc.title, p.chunk.text))), (question, p.chunk.doc_id)
    passages = retrieve(
        fake_rag.store, _qvec(QUESTION), 6, question=QUESTION, mode="keyword", keywords=fake_rag.keywords
    )
    _, bm, _ = _evidence(fake_rag, QUESTION)
    assert [p.chunk.doc_id for p in passages] == ["a.txt", "f.txt", "e.txt", "b.txt"]  # c, d share nothing
    assert [p.score for p in passages] == pytest.approx([bm[p.chunk.doc_id] for p in passages], abs=1e-5)
    # A question made only of function words matches nothing by keyword.
    assert (
        retrieve(
            fake_rag.store,
            _qvec("من هو الذي في"),
            5,
            question="من هو الذي في",
            mode="keyword",
            keywords=fake_rag.keywords,
        )
        == []
    )


def test_dense_mode_ranks_by_cosine(fake_rag: RAG) -> None:
    cos, _, _ = _evidence(fake_rag, QUESTION)
    passages = retrieve(fake_rag.store, _qvec(QUESTION), 6, question=QUESTION, mode="dense", keywords=fake_rag.keywords)
    assert [p.chunk.doc_id for p in passages] == _ranked(cos)
    assert [p.rank for p in passages] == [1, 2, 3, 4, 5, 6]
    for p in passages:
        assert p.score == pytest.approx(cos[p.chunk.doc_id], abs=1e-5)
        assert p.dense_score == p.score and p.keyword_score is None


def test_scores_on_passages_are_filled_as_documented(fake_rag: RAG) -> None:
    """dense_score is the cosine in every mode; keyword_score the BM25 score in keyword and hybrid modes."""
    cos, bm, _ = _evidence(fake_rag, QUESTION)
    for mode in ("dense", "keyword", "hybrid"):
        passages = retrieve(
            fake_rag.store, _qvec(QUESTION), 6, question=QUESTION, mode=mode, keywords=fake_rag.keywords
        )
        for p in passages:
            assert p.dense_score == pytest.approx(cos[p.chunk.doc_id], abs=1e-5), mode
            if mode == "dense":
                assert p.keyword_score is None
            else:
                assert p.keyword_score == pytest.approx(bm[p.chunk.doc_id], abs=1e-5), mode


def test_minmax_scaling() -> None:
    assert _minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert _minmax(np.array([-1.0, 1.0])).tolist() == [0.0, 1.0]
    assert _minmax(np.array([0.7, 0.7, 0.7])).tolist() == [1.0, 1.0, 1.0]  # no spread: no evidence against any
    assert _minmax(np.array([5.0])).tolist() == [1.0]
    assert _minmax(np.zeros(0)).tolist() == []


# ---- to_passages over hand-made candidates --------------------------------------------------
def _fake_store(docs: list[Document], chunks: list[Chunk]) -> IndexStore:
    # to_passages reads only the chunks and documents of the store.
    # to_passages reads only the chunks by position and the articles by id.
    return SimpleNamespace(documents={d.doc_id: d for d in docs}, chunks=chunks)  # type: ignore[return-value]


def _chunk(doc: Document, cid: str, start: int, end: int, ordinal: int) -> Chunk:
    return Chunk(cid, doc.doc_id, doc.text[start:end], start, end, ordinal)


SENTENCES = (
    "التقى رئيس الأركان الروسي نظيره التركي في أنقرة.",
    "وبحث الجانبان الأوضاع في سوريا والعراق.",
    "وقال مسؤول إن الاجتماع هو الأول منذ سنوات.",
    "وأضاف أن المحادثات ستستمر الشهر المقبل في موسكو.",
    "وتأتي الزيارة بعد تحسن العلاقات بين البلدين.",
)
LONG = Document("long.txt", "محادثات أنقرة", " ".join(SENTENCES), date="2016-09-15", source="وكالة")


def _span(doc: Document, first: int, last: int) -> tuple[int, int]:
    """Character span of sentences first..last (inclusive) of LONG-like documents."""
    start = doc.text.index(SENTENCES[first])
    end = doc.text.index(SENTENCES[last]) + len(SENTENCES[last])
    return start, end


def test_overlapping_and_adjacent_chunks_merge_into_one_passage_of_the_article_text() -> None:
    s0, e0 = _span(LONG, 0, 1)
    s1, e1 = _span(LONG, 1, 2)  # overlaps the first (sentence 1 in both)
    s2, e2 = _span(LONG, 3, 3)  # adjacent to the second: only the space between them
    assert s2 == e1 + 1
    chunks = [_chunk(LONG, "c0", s0, e0, 0), _chunk(LONG, "c1", s1, e1, 1), _chunk(LONG, "c2", s2, e2, 2)]
    store = _fake_store([LONG], chunks)
    hits = [Candidate(1, 0.9, 0.8, 2.0), Candidate(0, 0.7, 0.85, 1.0), Candidate(2, 0.5, 0.6, None)]
    passages = to_passages(store, hits, 5)
    assert len(passages) == 1
    p = passages[0]
    assert (p.chunk.start, p.chunk.end) == (s0, e2)
    assert p.chunk.text == LONG.text[s0:e2]
    assert p.score == 0.9 and p.rank == 1  # the better candidate's scores
    assert p.chunk.chunk_id == "c0" and p.chunk.ordinal == 0  # named after the first chunk in the text
    assert (p.title, p.date, p.source) == ("محادثات أنقرة", "2016-09-15", "وكالة")


def test_chunks_further_apart_stay_separate_passages() -> None:
    s0, e0 = _span(LONG, 0, 0)
    s2, e2 = _span(LONG, 2, 2)  # a whole sentence between them
    store = _fake_store([LONG], [_chunk(LONG, "c0", s0, e0, 0), _chunk(LONG, "c2", s2, e2, 2)])
    passages = to_passages(store, [Candidate(1, 0.9, 0.9, None), Candidate(0, 0.8, 0.8, None)], 5)
    assert [p.chunk.text for p in passages] == [SENTENCES[2], SENTENCES[0]]
    assert [p.rank for p in passages] == [1, 2]


def test_a_chunk_bridging_two_passages_of_an_article_joins_all_three() -> None:
    s0, e0 = _span(LONG, 0, 1)
    s1, e1 = _span(LONG, 1, 3)
    s2, e2 = _span(LONG, 3, 4)
    store = _fake_store(
        [LONG], [_chunk(LONG, "c0", s0, e0, 0), _chunk(LONG, "c1", s1, e1, 1), _chunk(LONG, "c2", s2, e2, 2)]
    )
    # c0 and c2 do not touch; c1 overlaps both and arrives last.
    passages = to_passages(
        store, [Candidate(0, 0.9, 0.9, None), Candidate(2, 0.8, 0.8, None), Candidate(1, 0.7, 0.7, None)], 5
    )
    assert [p.chunk.text for p in passages] == [LONG.text[s0:e2]]


def test_the_same_story_in_two_articles_is_shown_once_naming_both() -> None:
    body = "أعلن الكرملين أن الرئيسين سيلتقيان في سوتشي الأسبوع المقبل لبحث الملف السوري."
    first = Document("site1.txt", "قمة سوتشي", body)
    # The second site's copy differs only in diacritics: the reader sees the same text.
    second = Document("site2.txt", "لقاء مرتقب", body.replace("الكرملين", "الكرمْلين"))
    third = Document("site3.txt", "قمة", body)
    other = Document("other.txt", "إدلب", "قتل ستة جنود أتراك في قصف على إدلب.")
    docs = [first, second, third, other]
    store = _fake_store(docs, [_chunk(d, d.doc_id, 0, len(d.text), 0) for d in docs])
    hits = [
        Candidate(1, 0.9, 0.9, None),
        Candidate(0, 0.8, 0.8, None),
        Candidate(3, 0.7, 0.7, None),
        Candidate(2, 0.6, 0.6, None),
    ]
    passages = to_passages(store, hits, 5)
    assert [p.chunk.doc_id for p in passages] == ["site2.txt", "other.txt"]
    assert passages[0].also_in == ("site1.txt", "site3.txt")
    assert passages[1].also_in == () and passages[1].rank == 2


def _many_chunk_article(doc_id: str, n: int) -> tuple[Document, list[tuple[int, int]]]:
    # Sentences separated by a blank paragraph: no two chunks touch.
    sentences = [f"الفقرة رقم {i} من تقرير طويل عن العلاقات الروسية التركية." for i in range(n)]
    text = "\n\n".join(sentences)
    spans, pos = [], 0
    for s in sentences:
        spans.append((pos, pos + len(s)))
        pos += len(s) + 2
    return Document(doc_id, "تقرير", text), spans


def _diversity_store(n_long: int) -> tuple[IndexStore, list[Candidate]]:
    """Article big.txt with ``n_long`` separate chunks ranked first, then one chunk each of b.txt and c.txt."""
    big, spans = _many_chunk_article("big.txt", n_long)
    b = Document("b.txt", "ب", "قال الرئيس الروسي إن التبادل التجاري سيرتفع.")
    c = Document("c.txt", "ج", "قتل ستة جنود أتراك في قصف على إدلب.")
    chunks = [_chunk(big, f"big{i}", s, e, i) for i, (s, e) in enumerate(spans)]
    chunks += [_chunk(b, "b0", 0, len(b.text), 0), _chunk(c, "c0", 0, len(c.text), 0)]
    store = _fake_store([big, b, c], chunks)
    hits = [Candidate(i, 1.0 - 0.01 * i, 0.9, None) for i in range(n_long)]
    hits += [Candidate(n_long, 0.5, 0.5, None), Candidate(n_long + 1, 0.4, 0.4, None)]
    return store, hits


def test_one_article_gets_at_most_two_of_the_top_places() -> None:
    store, hits = _diversity_store(3)
    top3 = to_passages(store, hits, 3, max_per_doc=2)
    assert [p.chunk.doc_id for p in top3] == ["big.txt", "big.txt", "b.txt"]
    assert [p.chunk.chunk_id for p in top3[:2]] == ["big0", "big1"]  # its best two, in order
    top5 = to_passages(store, hits, 5, max_per_doc=2)
    # Its third passage moves below the other articles' ones rather than disappearing.
    assert [p.chunk.chunk_id for p in top5] == ["big0", "big1", "b0", "c0", "big2"]
    assert [p.rank for p in top5] == [1, 2, 3, 4, 5]
    # With no other article left, an article fills the remaining places.
    only_big = to_passages(store, hits[:3], 3, max_per_doc=2)
    assert [p.chunk.chunk_id for p in only_big] == ["big0", "big1", "big2"]


def test_diversity_holds_when_one_article_has_many_top_chunks() -> None:
    store, hits = _diversity_store(8)
    top3 = to_passages(store, hits, 3, max_per_doc=2)
    assert [p.chunk.doc_id for p in top3] == ["big.txt", "big.txt", "b.txt"]


# ---- settings and the pipeline --------------------------------------------------------------
def test_an_unknown_retrieval_mode_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="dense, keyword, hybrid"):
        Settings(retrieval="nonsense")
    monkeypatch.setenv("RAG_RETRIEVAL", "bm25")
    with pytest.raises(ConfigError, match="retrieval"):
        Settings.from_env()


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_every_mode_answers_through_the_pipeline(fake_rag: RAG, mode: str) -> None:
    rag = RAG(replace(fake_rag.settings, retrieval=mode), embeddings=HashEmbeddings(), progress=_quiet)
    passages = rag.retrieve(QUESTION, k=3)
    assert passages[0].chunk.doc_id == "a.txt"
    assert len(passages) == 3 and [p.rank for p in passages] == [1, 2, 3]
    if mode == "keyword":
        assert {p.chunk.doc_id for p in passages} <= {"a.txt", "b.txt", "e.txt", "f.txt"}
        assert all(p.keyword_score is not None and p.keyword_score > 0 for p in passages)
    if mode == "dense":
        assert [p.chunk.doc_id for p in passages] == ["a.txt", "c.txt", "f.txt"]
        assert all(p.keyword_score is None for p in passages)
    if mode == "hybrid":
        assert all(p.keyword_score is not None for p in passages)
    answer = rag.answer(QUESTION, k=3)
    assert answer.passages[0].chunk.doc_id == "a.txt"


def test_cli_ask_takes_a_retrieval_mode() -> None:
    try:
        args = build_parser().parse_args(["ask", "سؤال", "--retrieval", "keyword"])
    except SystemExit:
        pytest.skip("`rag ask` has no --retrieval option yet (RAG_RETRIEVAL sets the mode)")
    assert _settings(args).retrieval == "keyword"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ask", "سؤال", "--retrieval", "nonsense"])


# ---- the real model on the sample articles --------------------------------------------------
RUSSIAN_CHIEF = "001_592edc9b261770c7.txt"


class _MemoQueries(ArrayEmbeddings):
    """The real model, embedding each question once for all three modes (a query costs ~15 ms, more on a busy CPU)."""

    def __init__(self, inner: ArrayEmbeddings) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.memo: dict[str, np.ndarray] = {}

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_query_vector(self, text: str) -> np.ndarray:
        if text not in self.memo:
            self.memo[text] = self.inner.embed_query_vector(text)
        return self.memo[text]


@pytest.fixture(scope="module")
def modes(real_rag: RAG) -> dict[str, RAG]:
    """The session's real index read in each retrieval mode (same index_dir, same model)."""
    emb = _MemoQueries(real_rag.embeddings)
    return {m: RAG(replace(real_rag.settings, retrieval=m), embeddings=emb) for m in ("dense", "keyword", "hybrid")}


def _gold_rank(passages: list[Passage], sources: list[str]) -> int | None:
    return next((p.rank for p in passages[:10] if {p.chunk.doc_id, *p.also_in} & set(sources)), None)


def _seed_answerable() -> list[dict]:  # type: ignore[type-arg]
    if not SEED.exists():
        pytest.skip("../shared/gold/seed_qa.jsonl is not beside the project")
    rows = [json.loads(line) for line in SEED.read_text("utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["answerable"]]


@pytest.mark.slow
def test_hybrid_beats_each_retriever_alone_on_the_seed_questions(modes: dict[str, RAG]) -> None:
    rows = _seed_answerable()
    ranks = {m: [_gold_rank(rag.retrieve(r["question"], k=10), r["sources"]) for r in rows] for m, rag in modes.items()}
    hit1 = {m: sum(x == 1 for x in rs) / len(rows) for m, rs in ranks.items()}
    mrr = {m: sum(1 / x for x in rs if x) / len(rows) for m, rs in ranks.items()}
    print({m: (round(hit1[m], 3), round(mrr[m], 3)) for m in modes})
    fixed = [r["id"] for r, d, h in zip(rows, ranks["dense"], ranks["hybrid"], strict=True) if d != 1 and h == 1]
    assert fixed, "no seed question that dense ranks wrong at top-1 and hybrid ranks right"
    assert hit1["hybrid"] >= hit1["dense"] and hit1["hybrid"] >= hit1["keyword"], hit1
    assert mrr["hybrid"] >= mrr["dense"] and mrr["hybrid"] >= mrr["keyword"], mrr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "source"),
    [
        # v10: dense puts it 4th (the Lavrov article first); "ليبيا"/"الاتصال الهاتفي" are in the Idlib article only.
        (
            "ما البلد الآخر الذي ناقش أردوغان وبوتين أوضاعه في الاتصال الهاتفي إلى جانب سوريا؟",
            "003_186e581e48ef242c.txt",
        ),
        # v12: dense puts it 3rd (the Gerasimov article first); "لافروف" is a rare name BM25 finds.
        ("أين التقى لافروف بنظيره التركي؟", "004_60af0b160dcc8caa.txt"),
        # v07: dense puts it 2nd; "منبج والرقة"/"تحرير" words match only one chunk.
        ("ما المدينتان اللتان أصرت تركيا على تحريرهما؟", "002_a06876e7d532a0fc.txt"),
    ],
)
def test_hybrid_puts_first_what_dense_alone_ranks_lower(modes: dict[str, RAG], question: str, source: str) -> None:
    dense = modes["dense"].retrieve(question, k=10)
    hybrid = modes["hybrid"].retrieve(question, k=10)
    print(question, "dense rank", _gold_rank(dense, [source]), "hybrid rank", _gold_rank(hybrid, [source]))
    assert dense[0].chunk.doc_id != source
    assert hybrid[0].chunk.doc_id == source
    # Not a coin toss: the best passage of any other article is well behind (fused scores lie in [0, 1]).
    runner_up = next(p.score for p in hybrid if p.chunk.doc_id != source)
    assert hybrid[0].score - runner_up > 0.15


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_an_exact_rare_name_finds_its_article_first(modes: dict[str, RAG], mode: str) -> None:
    passages = modes[mode].retrieve("جيراسيموف", k=5)
    assert passages[0].chunk.doc_id == RUSSIAN_CHIEF
    assert "جيراسيموف" in passages[0].chunk.text
    if mode == "keyword":  # the only article naming him: nothing else shares the keyword
        assert {p.chunk.doc_id for p in passages} == {RUSSIAN_CHIEF}
