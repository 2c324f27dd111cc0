"""Properties of the text pipeline, for any input hypothesis can think of: cleaning is idempotent,
matching-normalisation never reaches the displayed text, and chunks map back to and cover the article."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.arabic import normalize_arabic
from rag.chunk import chunk_documents
from rag.errors import IngestError
from rag.ingest.boilerplate import clean_article, clean_unicode
from rag.types import Document

# Words with the forms a matching key folds away: hamza'd alefs, alef maqsura, taa marbuta,
# diacritics, tatweel, Eastern Arabic digits, and Latin words and numbers as news prose has them.
WORDS = [
    "قال",
    "إنّ",
    "أعلن",
    "آلاف",
    "الرئيسُ",
    "مدينة",
    "على",
    "مستشفى",
    "٢٠٢٠",
    "3.6",
    "ملايين",
    "الأمم",
    "المتحدة",
    "يُعدّ",
    "ـــ",
    "NATO",
    "COVID-19",
    "،",
    "؛",
    "؟",
    ".",
    "»",
    "«",
    "(",
    ")",
    "%",
    "\u200f",
    "\u00a0",
    "تركيا",
    "روسيا",
    "إدلب",
    "جنود",
    "اجتماع",
    "موسكو",
]
FURNITURE = [
    "الرئيسية » أخبار",
    "شارك على فيسبوك",
    "اقرأ أيضا",
    "جميع الحقوق محفوظة © 2020",
    "تابعونا على تويتر",
    "أخبار ذات صلة",
    "مصدر الصورة EPA",
    "",
]

sentence = st.lists(st.sampled_from(WORDS), min_size=3, max_size=30).map(" ".join)
line = st.one_of(sentence, sentence.map(lambda s: s + "."), st.sampled_from(FURNITURE))
article = st.lists(line, min_size=1, max_size=25).map("\n".join)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _clean(raw: str, title: str | None = None) -> Document | None:
    try:
        return clean_article(raw, doc_id="x", title=title)
    except IngestError:
        return None


@QUICK
@given(article)
def test_cleaning_is_idempotent(raw: str) -> None:
    doc = _clean(raw)
    if doc is None:
        return
    again = _clean(doc.text, title=doc.title)  # the cleaned article, cleaned again
    assert again is not None
    assert (again.title, again.text) == (doc.title, doc.text)


@QUICK
@given(article)
def test_normalisation_never_changes_the_displayed_text(raw: str) -> None:
    doc = _clean(raw)
    if doc is None:
        return
    # Every kept paragraph is an input line as displayed (only spaces and invisibles tidied):
    # hamza forms, diacritics, taa marbuta and Eastern digits survive; matching keys are separate.
    shown = {clean_unicode(x).strip() for x in raw.split("\n")}
    for paragraph in doc.text.split("\n\n"):
        assert paragraph in shown
    if any(c in doc.text for c in "إأآىةُّ٢"):
        assert normalize_arabic(doc.text) != doc.text


@QUICK
@given(article, st.integers(min_value=20, max_value=120), st.integers(min_value=0, max_value=15))
# Found by hypothesis in CI: the second paragraph also reads from the first one's fourth character.
@example("قال " + "\n".join(["إنّ قال قال قال قال قال الرئيسُ ؛."] * 2 + ["إنّ قال قال قال قال قال الرئيسُ ؛"]), 45, 0)
def test_chunk_offsets_map_back_and_chunks_cover_the_article(raw: str, size: int, overlap: int) -> None:
    doc = _clean(raw)
    if doc is None:
        return
    chunks = chunk_documents([doc], chunk_tokens=size, chunk_overlap=min(overlap, size // 2))
    covered = [False] * len(doc.text)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text  # a citation's span is the exact substring
        for i in range(c.start, c.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(doc.text) if not ch.isspace())
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
