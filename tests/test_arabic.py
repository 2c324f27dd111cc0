from hypothesis import given
from hypothesis import strategies as st

from rag.arabic import analyze, normalize_arabic, split_clauses, split_sentences


def test_normalize_unifies_spellings_readers_treat_as_one() -> None:
    assert normalize_arabic("إدلب") == normalize_arabic("ادلب") == "ادلب"
    assert normalize_arabic("أنقرة") == "انقره"
    assert normalize_arabic("مستشفى") == "مستشفي"
    assert normalize_arabic("مسؤول") == "مسوول"
    assert normalize_arabic("مُحَمَّدٌ") == "محمد"
    assert normalize_arabic("الطائـــرة") == "الطايره"
    assert normalize_arabic("٣٢٪ و۱۵") == "32% و15"


def test_normalize_is_for_matching_only_and_does_not_touch_input() -> None:
    original = "قُتل 6 جنود أتراك في إدلب"
    normalize_arabic(original)
    assert original == "قُتل 6 جنود أتراك في إدلب"


def test_split_sentences_on_arabic_punctuation_keeps_decimal_numbers() -> None:
    text = 'أبلغ الرئيس "أردوغان" نظيره. تستضيف 3.6 ملايين لاجئ؟ نعم؛ هذا صحيح!\nسطر جديد'
    parts = [text[a:b] for a, b in split_sentences(text)]
    # The Arabic semicolon joins clauses of one sentence (split_clauses handles it).
    assert parts == ['أبلغ الرئيس "أردوغان" نظيره.', "تستضيف 3.6 ملايين لاجئ؟", "نعم؛ هذا صحيح!", "سطر جديد"]


def test_split_sentences_does_not_split_domains() -> None:
    text = "نشر على Almaghribtoday.net اليوم. ثم انتهى"
    assert [text[a:b] for a, b in split_sentences(text)] == ["نشر على Almaghribtoday.net اليوم.", "ثم انتهى"]


def test_split_clauses_glues_tiny_clauses() -> None:
    text = (
        "وأعرب بوتين عن رغبته في تعزيز التعاون مع أنقرة بعدة مجالات، وعلى رأسها الطاقة، وأشار بوتين إلى انخفاض التبادل"
    )
    spans = split_clauses(text, 0, len(text))
    assert all(b - a >= 40 for a, b in spans[:-1])
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")


@given(st.text(alphabet="ابتثجحخدذرسشصضطظعغفقكلمنهوي أإآةى،؛؟.!\n0123456789", max_size=200))
def test_sentence_spans_are_ordered_and_inside_the_text(text: str) -> None:
    spans = split_sentences(text)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert text[a:b].strip() == text[a:b]
        last = b


def test_analyze_strips_clitics_and_stopwords() -> None:
    assert analyze("والسياسيين") == analyze("السياسيين")
    assert analyze("والرئيس") == analyze("للرئيس") == analyze("الرئيس")
    assert analyze("بالطائرة") == analyze("الطائرة") == analyze("طائرة")
    assert analyze("للرئيس") == analyze("الرئيس")
    assert analyze("إدلب") == analyze("ادلب")
    # Alef madda: "الآلية"/"آلية" share a stem, and the unmarked "اسيا" still meets "آسيا".
    assert analyze("الآلية") == analyze("آلية")
    assert analyze("آسيا") == analyze("اسيا") and analyze("الآلاف") == analyze("آلاف") == analyze("الاف")
    # A content word that normalises like a function word is kept ("آلية" vs "إليه").
    assert analyze("آلية") != [] and analyze("إليه") == []
    assert analyze("من هو الذي في") == []
    assert "3.6" in analyze("تستضيف 3.6 ملايين")
