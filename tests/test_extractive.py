"""How the extractive answerer reads a question against the sentences of its passages."""

from __future__ import annotations

import pytest

from rag.answerer.extractive import _matches, _word_keys, extract_answer, question_keys
from rag.arabic import analyze, analyze_words, loose_stem
from rag.types import Chunk, Passage, TermStats


def _found(question_word: str, text_word: str) -> bool:
    (q,) = question_keys(question_word)
    keys = set().union(*_word_keys(text_word))
    return _matches(q, keys)


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("إقليم", "الأقاليم"),  # broken plural: inner vowels differ
        ("انتشرت", "انتشار"),  # verb and its verbal noun
        ("تتركز", "ويتركز"),  # feminine and masculine imperfect prefix
        ("الكبرى", "كبيرة"),
        ("المدينة", "المدن"),
        ("الحرب", "حروب"),
        ("مساحة", "المساحات"),
    ],
)
def test_one_word_family_is_found_whatever_its_inner_vowels(asked: str, written: str) -> None:
    assert _found(asked, written)


@pytest.mark.parametrize(
    ("asked", "written"),
    [("قال", "قيل"), ("2018", "2019"), ("سوق", "ساق"), ("جيش", "شعب")],
)
def test_short_stems_figures_and_other_words_stay_apart(asked: str, written: str) -> None:
    # Under four letters a stem keeps its vowels: too little is left to tell words apart.
    assert loose_stem(analyze(asked)[0]) == analyze(asked)[0] or not _found(asked, written)
    assert not _found(asked, written)


def test_loose_stems_are_only_for_arabic_letters() -> None:
    assert loose_stem("2019") == "2019"
    assert loose_stem("nasa") == "nasa"
    assert loose_stem("~krmln") == "~krmln"
    assert loose_stem("اقاليم") == loose_stem("اقليم") == "اقلم"
    assert loose_stem("تتركز") == loose_stem("يتركز")


def test_the_answerer_reads_the_cardinal_directions_keyword_search_does_not() -> None:
    question = "ما الدولة التي تقع جنوب لبنان؟"
    assert "جنوب" not in analyze(question)  # a stopword to the keyword index (its terms stay as built)
    assert ("جنوب",) in analyze_words(question, answering=True)
    assert any("جنوب" in w for w in question_keys(question))


def _passage(title: str, text: str, doc_id: str = "d1", score: float = 1.0) -> Passage:
    return Passage(Chunk(doc_id + "#0", doc_id, text, 0, len(text), 0), score, title, rank=1, dense_score=0.5)


def test_a_direction_question_quotes_the_sentence_with_the_direction() -> None:
    text = (
        "لبنان دولة عربية في الشرق الأوسط عاصمتها بيروت. "
        "تحدها سوريا من الشمال والشرق، وفلسطين من الجنوب. "
        "ويطل من الغرب على البحر المتوسط."
    )
    stats = TermStats(100, {"لبنان": 20, "دول": 30, "تقع": 25, "جنوب": 10, "شمال": 10, "شرق": 12})
    answer = extract_answer("ما الدولة التي تقع جنوب لبنان؟", [_passage("لبنان", text)], stats, threshold=-1e9)
    assert answer.answered
    assert "من الجنوب" in answer.citations[0].quote


def test_a_question_in_another_word_form_quotes_the_sentence_that_answers() -> None:
    # "انتشرت" asked, "انتشار" written: before loose stems only the other sentence shared a word.
    text = (
        "الإنفلونزا مرض تنفسي معد تسببه فيروسات وتصيب الأنف والحلق والرئتين. "
        "وقع أشد انتشار للإنفلونزا في عام 1918 وأودى بحياة الملايين."
    )
    stats = TermStats(100, {"انفلونز": 5, "انتشر": 20, "انتشار": 20, "مرض": 30})
    answer = extract_answer("متى انتشرت الإنفلونزا؟", [_passage("الإنفلونزا", text)], stats, threshold=-1e9)
    assert "1918" in answer.citations[0].quote
