"""English questions over Arabic articles: the glossary, the keys the answerer looks for, and the
keyword evidence retrieval mixes (rag/crosslingual.py). Pure functions, the real glossary file."""

from __future__ import annotations

import numpy as np

from rag.answerer.extractive import _matches, _name_keys, answer_type, question_keys
from rag.arabic import analyze
from rag.crosslingual import english_keys, glossary, lookup, translated_terms, with_names
from rag.types import TermStats


def test_the_glossary_renders_common_english_words_in_arabic() -> None:
    assert len(glossary()) > 3000
    assert "نتائج" in lookup("results") and "المياه" in lookup("water")
    # Inflected forms fall back to their base form; capitalisation does not matter.
    assert lookup("Results") == lookup("results")
    assert "married" not in glossary() and lookup("married") == lookup("marry") != ()
    assert lookup("wander") == ()


def test_names_come_from_the_cldr_before_the_generated_glossary() -> None:
    # Days, months, countries, cities and nationalities, where word embeddings align worst.
    assert lookup("Friday") == ("الجمعة",)
    assert lookup("Iraq") == ("العراق",) and lookup("Moscow") == ("موسكو",)
    assert lookup("April")[0] == "أبريل" and "نيسان" in lookup("April")
    assert lookup("Turkish") == ("التركية",) and lookup("Kurdish") == ("الكردية",)
    # A month that is also an English function word is not rendered: "may" stays the verb.
    assert "مايو" not in lookup("may")


def test_arabic_questions_get_no_english_keys() -> None:
    q = "كم عدد اللاجئين السوريين في تركيا؟"
    assert english_keys(q) == () and translated_terms(q) == ()


def test_a_name_the_glossary_knows_is_one_key_found_either_way() -> None:
    keys = english_keys("What is the population of Japan?")
    japan = next(k for k in keys if "~gbn" in k)  # the skeleton, which "اليابان" does not share …
    assert set(analyze("اليابان")) & japan  # … and the glossary's rendering, which it does
    assert len(keys) == 2  # population, Japan: one key per word


def test_the_answerer_looks_only_for_renderings_the_articles_hold() -> None:
    q = "How many soldiers were killed?"
    killed = next(k for k in english_keys(q) if set(analyze("قتلى")) & k)
    stats = TermStats(100, {min(killed): 3})  # one rendering of "killed" occurs, none of "soldiers"
    keys = question_keys(q, stats)
    assert keys == (frozenset({min(killed)}),)
    sentence = "وأعلنت الوزارة مقتل 6 جنود، وقتل آخرون في الهجوم."
    words = _name_keys(sentence)
    assert _matches(keys[0], set().union(*words))


def test_english_questions_expect_a_figure_or_a_date_like_arabic_ones() -> None:
    assert answer_type("How many people were killed?") == "number"
    assert answer_type("When did the coup attempt take place?") == "date"
    assert answer_type("Since what year has Syria been in conflict?") == "date"
    assert answer_type("Who is the Kremlin spokesman?") is None
    assert answer_type("كم عدد القتلى؟") == "number"  # Arabic questions as before


def test_name_matches_join_bm25_evidence_or_stand_in_for_it() -> None:
    bm25 = np.array([0.0, 2.0, 4.0])
    names = np.array([3.0, 0.0, 0.0])
    assert with_names(bm25, np.zeros(3)) is bm25  # no name matched: BM25 alone, untouched
    assert list(with_names(np.zeros(3), names)) == list(names)  # BM25 matched nothing: names alone
    mixed = with_names(bm25, names)
    assert mixed[0] > mixed[1] and mixed[2] > mixed[1]  # the name's text and BM25's best both lead


def test_the_arabic_share_counts_content_words_by_script() -> None:
    from rag.crosslingual import arabic_share

    assert arabic_share("كم عدد اللاجئين السوريين في تركيا؟") == 1.0
    assert arabic_share("How many Syrian refugees does Turkey host?") == 0.0
    assert arabic_share("كم عدد refugees في تركيا؟") == 0.8  # 4 Arabic words, 1 English content word
    assert arabic_share("ما هو Erdogan؟") == 2 / 3
    assert arabic_share("2016") == 1.0  # figures belong to no script


def test_the_refusal_rule_moves_from_the_arabic_to_the_english_one_with_the_share() -> None:
    from rag.answerer import extractive as A

    def score(lexical: float, dense: float, arabic: float) -> float:
        return A.refusal_score(A.Evidence(dense=dense, lexical=lexical, arabic=arabic))

    # An Arabic question: the plain sum against REFUSAL_THRESHOLD.
    assert score(0.6, 0.5, 1.0) == 0.6 + A.W_REFUSAL_DENSE * 0.5
    # An English one: words weigh less and the cosine more; rescaled to the same threshold.
    en = (A.W_REFUSAL_LEXICAL_EN * 0.6 + A.W_REFUSAL_DENSE_EN * 0.5) * A.REFUSAL_THRESHOLD / A.REFUSAL_THRESHOLD_EN
    assert abs(score(0.6, 0.5, 0.0) - en) < 1e-12
    # Same words found, higher cosine: an English question is answered where an Arabic one is not …
    assert score(0.3, 0.5, 0.0) >= A.REFUSAL_THRESHOLD > score(0.3, 0.5, 1.0)
    # … and an unrelated one (cosine at the unrelated level) is refused even with its words found.
    assert score(0.9, 0.0, 0.0) < A.REFUSAL_THRESHOLD
    # A mixed question lies between the two.
    lo, hi = sorted((score(0.6, 0.3, 0.0), score(0.6, 0.3, 1.0)))
    assert lo <= score(0.6, 0.3, 0.5) <= hi
