"""The short answer: what each question form expects, and the span of a sentence that answers it.

Questions and sentences here are written for these tests (news, encyclopaedia and everyday
styles), not taken from the seed gold set, so they check the rules and not a tuned example.
"""

from __future__ import annotations

import pytest

from rag.answerer.span import clean_question, expected_kind, pick_by_overlap, short_answer
from rag.crosslingual import (
    arabic_skeleton,
    fusion_weight,
    keyword_share,
    latin_names,
    latin_skeleton,
    name_scores,
    skeletons_match,
)

KINDS = [
    # من / لمن / ممن: a person
    ("من هو مدرب المنتخب الوطني؟", "person"),
    ("لمن تعود ملكية الشركة؟", "person"),
    ("ومن فاز بالجائزة هذا العام؟", "person"),
    # ما / ماذا: a thing, unless a measure or a date follows
    ("ما اسم النهر الذي يمر بالمدينة؟", "thing"),
    ("ماذا قررت المحكمة؟", "thing"),
    ("ما هو عدد أعضاء المجلس؟", "number"),
    ("ما نسبة المشاركة في الانتخابات؟", "number"),
    ("ما تاريخ توقيع الاتفاقية؟", "date"),
    ("ما سبب تأجيل المباراة؟", "reason"),
    # متى / منذ متى: a date
    ("متى تنطلق البطولة؟", "date"),
    ("منذ متى يعيش في المنفى؟", "date"),
    # أين / من أين / إلى أين: a place
    ("أين يقع المتحف الوطني؟", "place"),
    ("من أين انطلقت القافلة؟", "place"),
    ("إلى أين نقل الجرحى؟", "place"),
    # كم / بكم: a number
    ("كم يبلغ طول الجسر؟", "number"),
    ("بكم بيعت اللوحة؟", "number"),
    # لماذا / لم: a reason
    ("لماذا ارتفعت أسعار الخبز؟", "reason"),
    # كيف: a manner
    ("كيف تمكن السجناء من الهرب؟", "manner"),
    # أي + noun: by the noun
    ("في أي مدينة ولد الكاتب؟", "place"),
    ("في أي عام سقطت غرناطة؟", "date"),
    ("أي فريق تصدر الدوري؟", "thing"),
    # هل: yes or no
    ("هل وافق البرلمان على القانون؟", "yesno"),
    # English questions
    ("When did the war end?", "date"),
    ("Where is the new airport?", "place"),
    ("How many people were injured?", "number"),
    ("Why did the talks fail?", "reason"),
    ("Who is the prime minister?", "person"),
    # "على يد من" / "ضد من": a person after a preposition
    ("على يد من تأسست المدينة؟", "person"),
    ("ضد من لعب الفريق في النهائي؟", "person"),
    # forms as typed: "ماهي" in one word, a leading dash, a stray article after the question mark
    ("ماهو سبب انقطاع الكهرباء؟", "reason"),
    (" - متى بدأت الحرب الأهلية؟ ال", "date"),
    ("ماهي عملة اليابان؟ ال", "thing"),
]


@pytest.mark.parametrize(("question", "kind"), KINDS)
def test_each_question_form_expects_its_kind_of_answer(question: str, kind: str) -> None:
    assert expected_kind(question) == kind


SPANS = [
    # (question, sentence, the short answer the reader should get)
    ("كم عدد سكان المدينة؟", "يبلغ عدد سكان المدينة 250 ألف نسمة وفق تعداد عام 2010.", "250 ألف نسمة"),
    (
        "كم تبلغ مساحة البحيرة؟",
        "تبلغ مساحة البحيرة نحو 300 كيلومتر مربع، وهي أكبر بحيرة عذبة في المنطقة.",
        "نحو 300 كيلومتر",
    ),
    ("ما نسبة البطالة في البلاد؟", "ارتفعت نسبة البطالة في البلاد إلى 12.5% خلال الربع الأول.", "12.5%"),
    ("متى افتتح المطار الجديد؟", "افتتح المطار الجديد في 12 مارس 2019 بحضور رئيس الوزراء.", "12 مارس 2019"),
    ("متى توفي الشاعر؟", "ولد الشاعر عام 1920 في دمشق، وتوفي في 3 يونيو 1998 في بيروت.", "3 يونيو 1998"),
    ("في أي عام تأسست الجامعة؟", "تأسست الجامعة عام 1908 في القاهرة وكانت تسمى الجامعة الأهلية.", "1908"),
    ("أين عقد المؤتمر؟", "عقد المؤتمر في مدينة مراكش المغربية بمشاركة خمسين دولة.", "مدينة مراكش المغربية"),
    ("من أين جاء اللاعب الجديد؟", "وصل اللاعب الجديد من نادي الأهلي المصري بعقد لثلاثة مواسم.", "نادي الأهلي المصري"),
    ("من هو رئيس البعثة الأممية؟", "قال رئيس البعثة الأممية أحمد السالم إن المفاوضات مستمرة.", "أحمد السالم"),
    (
        "لماذا أغلقت المدارس؟",
        "أغلقت السلطات المدارس بسبب العاصفة الثلجية التي ضربت المنطقة.",
        "بسبب العاصفة الثلجية التي ضربت المنطقة",
    ),
    ("كيف وصل الوفد إلى العاصمة؟", "وصل الوفد إلى العاصمة عن طريق البحر بعد إغلاق المطار.", "عن طريق البحر"),
    ("ماذا أعلنت الحكومة؟", "أعلنت الحكومة خطة لبناء عشرة آلاف مسكن خلال عامين.", "خطة لبناء عشرة آلاف مسكن"),
    ("هل وافق البرلمان على الميزانية؟", "وافق البرلمان على الميزانية بأغلبية 120 صوتا مقابل 30.", "بأغلبية 120"),
]


@pytest.mark.parametrize(("question", "sentence", "expected"), SPANS)
def test_the_short_answer_is_the_span_that_answers(question: str, sentence: str, expected: str) -> None:
    span = short_answer(question, sentence)
    assert span is not None
    got = sentence[span[0] : span[1]]
    assert expected in got  # the answer itself …
    assert len(got) <= len(sentence) // 2 + len(expected)  # … not the whole sentence again
    assert got == got.strip() and got[-1] not in "،,.؛"  # a clean span of the sentence


@pytest.mark.parametrize(
    ("question", "cleaned"),
    [
        (" - ما هي عاصمة المغرب؟ ال", "ما هي عاصمة المغرب"),
        ("ماهي عملة اليابان؟", "ما هي عملة اليابان"),
        ("ماهو أطول نهر؟", "ما هو أطول نهر"),
        ("ماذا حدث؟", "ماذا حدث"),  # "ماذا" is a word of its own, not "ما" + "ذا"
        ("من هو المالك الحالي للنادي؟", "من هو المالك الحالي للنادي"),
    ],
)
def test_questions_are_cleaned_of_stray_marks(question: str, cleaned: str) -> None:
    assert clean_question(question) == cleaned


# Sentences of other styles (encyclopaedia, everyday, news): where the answer starts.
OPENINGS = [
    ("ما الدولتان اللتان وقعتا الاتفاقية؟", "وقعت الاتفاقية دولتا مصر والأردن في العاصمة عمان أمس.", "مصر والأردن"),
    ("ماذا سمي الكيان الجديد؟", "وسمي الكيان الجديد الاتحاد السوفيتي، وكانت عاصمته موسكو.", "الاتحاد السوفيتي"),
    ("على يد من تأسست المدينة؟", "تأسست المدينة على يد القائد عقبة بن نافع في القرن السابع.", "القائد عقبة بن نافع"),
    ("من كتب الرواية؟", "كتب الرواية الأديب المصري نجيب محفوظ عام 1959.", "الأديب المصري نجيب محفوظ"),
    ("ما نظام الحكم في البلاد؟", "نظام الحكم في البلاد ملكي دستوري، وعاصمتها الرباط.", "ملكي دستوري"),
    ("بماذا تشتهر المدينة؟", "تشتهر المدينة بصناعة الفخار والسجاد اليدوي منذ قرون.", "بصناعة الفخار والسجاد اليدوي"),
    ("ما المنصب الذي شغله قبل ذلك؟", "وقبل ذلك شغل منصب وزير الخارجية لمدة خمس سنوات.", "وزير الخارجية"),
]


@pytest.mark.parametrize(("question", "sentence", "opening"), OPENINGS)
def test_the_answer_opens_with_the_new_words_not_the_question_s(question: str, sentence: str, opening: str) -> None:
    span = short_answer(question, sentence)
    assert span is not None
    assert sentence[span[0] : span[1]].startswith(opening)


def test_the_pick_is_the_span_overlapping_the_likely_answers_most() -> None:
    # One span scores highest alone, but three overlapping ones hold more of the probability:
    # F1 pays for overlap, so the span they share wins.
    scored = [(2.0, 0, 1), (1.8, 5, 7), (1.8, 5, 8), (1.8, 4, 7)]
    assert pick_by_overlap(scored)[1:] == (5, 7)
    # With a clear favourite, the favourite.
    assert pick_by_overlap([(6.0, 0, 1), (1.0, 5, 7), (1.0, 5, 8)])[1:] == (0, 1)


def test_the_answer_is_not_a_number_the_question_already_gave() -> None:
    s = "قتل في عام 2016 نحو 44 شخصا في الهجوم على المطار."
    span = short_answer("كم شخصا قتل في الهجوم على المطار عام 2016؟", s)
    assert span is not None and "44" in s[span[0] : span[1]] and "2016" not in s[span[0] : span[1]]


def test_a_sentence_of_question_words_only_has_no_short_answer() -> None:
    assert short_answer("متى افتتح المطار؟", "افتتح المطار") is None


# ---- questions in another script ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("latin", "arabic"),
    [
        ("Lavrov", "لافروف"),
        ("Erdogan", "أردوغان"),
        ("Putin", "بوتين"),
        ("Idlib", "إدلب"),
        ("Ankara", "أنقرة"),
        ("Moscow", "موسكو"),
        ("Sochi", "سوتشي"),
        ("Kremlin", "الكرملين"),
        ("Istanbul", "اسطنبول"),
        ("Baghdad", "بغداد"),
        ("Tunisia", "تونس"),
        ("Gerasimov", "جيراسيموف"),
    ],
)
def test_names_match_across_scripts_by_their_consonants(latin: str, arabic: str) -> None:
    assert skeletons_match(latin_skeleton(latin), arabic_skeleton(arabic))


@pytest.mark.parametrize(("latin", "arabic"), [("Lavrov", "بوتين"), ("Moscow", "أنقرة"), ("Cairo", "بغداد")])
def test_different_names_do_not_match(latin: str, arabic: str) -> None:
    assert not skeletons_match(latin_skeleton(latin), arabic_skeleton(arabic))


def test_only_capitalised_non_function_words_are_names() -> None:
    assert latin_names("Where did Lavrov meet his Turkish counterpart?") == ["lfrf", "trks"]
    assert latin_names("how many people were killed?") == []


def test_fusion_leans_on_the_dense_side_as_less_of_the_question_is_arabic() -> None:
    arabic = "أين التقى لافروف بنظيره التركي؟"
    mixed = "Where did لافروف meet his Turkish counterpart?"
    english = "where did he meet his counterpart?"  # "meet" is read through the glossary
    unread = "where did he wander?"  # no name, no glossary word: nothing for the keyword side
    assert keyword_share(arabic) == 1.0 and fusion_weight(arabic, 0.5) == 0.5
    assert 0.5 < fusion_weight(mixed, 0.5) < fusion_weight(english, 0.5) < fusion_weight(unread, 0.5) == 1.0


def test_name_scores_rank_the_text_holding_the_rare_name_first() -> None:
    texts = ["التقى لافروف في موسكو بنظيره التركي.", "قال بوتين في موسكو إن العلاقات تتحسن.", "طقس معتدل اليوم."]
    scores = name_scores("Where did Lavrov meet his Turkish counterpart in Moscow?", texts)
    assert scores[0] > scores[1] > scores[2] == 0.0
