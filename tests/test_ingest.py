"""Ingestion: the five scraped sample articles come out as the article and nothing else."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.errors import IngestError, NoDocumentsError
from rag.ingest import Skipped, clean_article, clean_unicode, load_documents
from rag.types import Document

ROOT = Path(__file__).parents[1]
ARTICLES = ROOT / "data" / "articles"
FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
GOLD = ROOT.parent / "shared" / "gold" / "seed_qa.jsonl"


@dataclass(frozen=True)
class Expected:
    first: str  # the article's first real sentence (a prefix of it)
    last: str  # the end of its last real sentence
    title: str
    date: str | None
    source: str | None
    author: str | None


# Checked by hand against the raw files: the first and last real sentences of each article, and the
# metadata a reader would name. 000 was scraped without its headline, so its title is the lead.
EXPECTED: dict[str, Expected] = {
    "000_3f08d7278be308a9.txt": Expected(
        first="دعت تركيا روسيا للعمل كفريق والقيام بعمليات عسكرية مشتركة في محاولة لسحق داعش",
        last="بين الرئيسين والمسؤولين العسكريين للبلدين.",
        title="دعت تركيا روسيا للعمل كفريق والقيام بعمليات عسكرية مشتركة في محاولة لسحق داعش في سورية…",
        date=None,
        source="Almaghribtoday.net",
        author="جلال فواز",
    ),
    "001_592edc9b261770c7.txt": Expected(
        first="قال مسؤولون أتراك إن رئيس الأركان الروسي فاليري جيراسيموف أجرى محادثات",
        last="وقالت روسيا في السابق إن مثل هذا التوغل سيكون غير مشروع",
        title="رئيس الأركان الروسي يبحث مع نظيره التركي الوضع في سوريا",
        date="2016-09-16",
        source=None,
        author=None,
    ),
    "002_a06876e7d532a0fc.txt": Expected(
        first="أكد كلا من الرئيسين الروسي والتركي على تعزيز التعاون الاقتصادي بين بلديهما",
        last="مع التحالف الذي تقوده الولايات المتحدة في العملية التي تستهدف منبج”.",
        title="القمة التركية الروسية تركز على تعزيز أوجه التعاون بين البلدين وتفاهمات حول الأزمة السورية",
        date=None,
        source=None,
        author="سامي الشمراني",
    ),
    "003_186e581e48ef242c.txt": Expected(
        first='أبلغ الرئيس التركي "رجب طيب أردوغان" نظيره الروسي "فلاديمير بوتين"',
        last="نحو تركيا، التي تستضيف أصلا 3.6 ملايين لاجئ سوري.",
        title="أردوغان لبوتين: سنرد بأقصى حزم على هجمات قوات الأسد",
        date="2020-02-04",
        source="الخليج الجديد",
        author=None,
    ),
    "004_60af0b160dcc8caa.txt": Expected(
        first="دعا وزير الخارجية الروسي، سيرغي لافروف، إلى اتصالات عسكرية بين بلاده وتركيا",
        last="باستهداف المعارضة التي تسعى لإسقاط نظام الرئيس، بشار الأسد.",
        title="روسيا تدعو تركيا إلى اتصالات عسكرية بشأن سوريا",
        date=None,
        source=None,
        author=None,
    ),
}

# Labels that open the site's own sections after an article (used to find, independently of the
# module under test, every line that must not survive).
FOOTER_MARKERS = (
    "أخبار ذات صلة",
    "اخر الاخبار",
    "الأخبار الأكثر قراءة",
    "أخبار أخرى لهذا القسم",
    "مواضيع ذات صلة",
    "كلمات مفتاحية",
    "رابط مختصر",
    "اترك تعليق",
)

# Page furniture above or inside the article, picked by hand from the raw files.
FURNITURE = (
    "صلاح يعادل رقم كاراجر القياسي في دوري أبطال أوروبا",
    "الرئيسية » أخبار السياسة والسياسيين",
    "صورة للرئيسين بوتين و أردوغان",
    "أنقرة - جلال فواز",
    "View on Almaghribtoday.net",
    "482 مشاهدات",
    "سبتمبر 16, 2016 08:38, 482 مشاهدات",
    "مواضيع ذات صلة",
    "اخبار عالمية",
    "سامي الشمراني",
    "مصدر الصورة EPA",
    "Image caption",
    "أول لقاء بين لافروف وجاويش أوغلو منذ تطبيع العلاقات بين بلديهما",
    "المصدر | الخليج الجديد + وكالات",
    "الثلاثاء 4 فبراير 2020 11:39 م",
    "لن يتم نشر عنوان بريدك الإلكتروني",
    "عدم الإساءة للكاتب",
    "شروط التعليق",
    "إدلب مقابل طرابلس.. لعبة الضغط على أردوغان",
)


@pytest.fixture(scope="module")
def samples() -> dict[str, Document]:
    docs, skipped = load_documents([ARTICLES])
    assert skipped == []
    return {d.doc_id: d for d in docs}


def _raw_lines(name: str) -> list[str]:
    return [line.strip() for line in clean_unicode((ARTICLES / name).read_text("utf-8")).split("\n")]


# --------------------------------------------------------------------------------- the samples


def test_all_five_samples_load_in_path_order(samples: dict[str, Document]) -> None:
    assert list(samples) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_text_is_exactly_the_article(samples: dict[str, Document], name: str) -> None:
    doc, want = samples[name], EXPECTED[name]
    assert doc.text.startswith(want.first)
    assert doc.text.endswith(want.last)
    assert "\n\n\n" not in doc.text and doc.text == doc.text.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_metadata(samples: dict[str, Document], name: str) -> None:
    doc, want = samples[name], EXPECTED[name]
    assert (doc.title, doc.date, doc.source, doc.author) == (want.title, want.date, want.source, want.author)
    raw = (ARTICLES / name).read_bytes()
    assert doc.doc_id == name
    assert doc.content_hash == hashlib.sha256(raw).hexdigest()
    assert Path(doc.path) == ARTICLES / name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cleaning_only_drops_whole_lines(samples: dict[str, Document], name: str) -> None:
    # Quotes and offsets must point at real article sentences: paragraphs are never rewritten.
    lines = set(_raw_lines(name))
    assert all(paragraph in lines for paragraph in samples[name].text.split("\n\n"))


def test_title_is_not_repeated_in_the_body(samples: dict[str, Document]) -> None:
    for doc in samples.values():
        assert doc.title not in doc.text.split("\n\n")


def _footer_lines() -> list[str]:
    """Every non-empty line after the first footer marker that follows the article's first sentence."""
    found: list[str] = []
    for name, want in EXPECTED.items():
        lines = _raw_lines(name)
        start = next(i for i, line in enumerate(lines) if line.startswith(want.first[:30]))
        cut = next((i for i in range(start, len(lines)) if lines[i] in FOOTER_MARKERS), len(lines))
        found.extend(line for line in lines[cut:] if line)
    return found


def test_footer_sections_and_furniture_never_reach_the_text(samples: dict[str, Document]) -> None:
    footer = _footer_lines()
    # The extraction itself must have found the related/latest/most-read lists and comment text.
    assert len(footer) >= 50
    assert {"صلاح يعادل رقم كاراجر القياسي في دوري أبطال أوروبا", "شروط التعليق :"} <= set(footer)
    texts = [doc.text for doc in samples.values()]
    paragraphs = {p for text in texts for p in text.split("\n\n")}
    for line in [*footer, *FURNITURE]:
        if len(line.split()) >= 3:
            assert not any(line in text for text in texts), line
        else:  # one- or two-word labels ("رياضة") may legitimately occur inside sentences
            assert line not in paragraphs, line


def test_sample_texts_are_clean_unicode(samples: dict[str, Document]) -> None:
    for doc in samples.values():
        assert clean_unicode(doc.text) == doc.text
        assert "\u00a0" not in doc.text and "\u0640" not in doc.text


@pytest.mark.skipif(not GOLD.exists(), reason="shared gold set not available")
def test_gold_evidence_survives_cleaning(samples: dict[str, Document]) -> None:
    for line in GOLD.read_text("utf-8").splitlines():
        item = json.loads(line)
        if item["answerable"]:
            assert any(item["evidence"] in samples[src].text for src in item["sources"]), item["id"]


# ------------------------------------------------------------------------------ clean_unicode


def test_clean_unicode_spaces() -> None:
    assert clean_unicode("الرئيسين الروسي\u00a0والتركي") == "الرئيسين الروسي والتركي"
    assert clean_unicode("a\u2009b\u202fc\u3000d\u205fe\u2003f\tg") == "a b c d e f g"
    assert clean_unicode("كلمة    أخرى  ") == "كلمة أخرى"
    assert clean_unicode("\u00a0 \nسطر") == "\nسطر"


def test_clean_unicode_invisible_and_bidi() -> None:
    assert clean_unicode("تر\u200dكيا\u200b\u200c\u2060\ufeff") == "تركيا"
    assert clean_unicode("\u200fسوريا\u200e \u202bإدلب\u202c \u2067حلب\u2069\u061c") == "سوريا إدلب حلب"


def test_clean_unicode_tatweel_and_line_endings() -> None:
    assert clean_unicode("مشار إليها بـ *") == "مشار إليها ب *"
    assert clean_unicode("أ\r\nب\rج\u2028د") == "أ\nب\nج\nد"


def test_clean_unicode_keeps_diacritics_and_composes() -> None:
    assert clean_unicode("وانتُقدت تركيا ومُكلفين") == "وانتُقدت تركيا ومُكلفين"
    assert clean_unicode("مُحَمَّدٌ") == "مُحَمَّدٌ"
    assert clean_unicode("\u0627\u0654") == "\u0623"  # NFC: alef + hamza above is أ


ARABIC_LETTERS = [chr(c) for c in [*range(0x0621, 0x063B), *range(0x0641, 0x064B)]]
DIACRITICS = [chr(c) for c in range(0x064B, 0x0653)]
DIGITS = [chr(c) for c in range(0x0660, 0x066A)] + list("0123456789")
JUNK = ["\u00a0", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202b", "\u2067", "\ufeff", "\u0640", "\r\n"]


@given(st.text())
def test_clean_unicode_is_idempotent(text: str) -> None:
    once = clean_unicode(text)
    assert clean_unicode(once) == once
    assert not set(once) & {"\u00a0", "\u200b", "\u200d", "\u200f", "\u202e", "\u2066", "\u0640", "\ufeff", "\r"}


@given(st.lists(st.sampled_from(ARABIC_LETTERS + DIACRITICS + DIGITS + JUNK + [" "]), max_size=80))
def test_clean_unicode_never_changes_letters_digits_or_diacritics(chars: list[str]) -> None:
    text = "".join(chars)
    out = clean_unicode(text)

    def letters(s: str) -> list[str]:
        return [c for c in s if c in ARABIC_LETTERS or c in DIGITS]

    assert letters(out) == letters(text)
    assert sorted(c for c in out if c in DIACRITICS) == sorted(c for c in text if c in DIACRITICS)


# ----------------------------------------------------------------------------- clean_article

LEAD = "قال مسؤولون أتراك إن المحادثات مع الجانب الروسي كانت بناءة للغاية وتناولت الوضع في سوريا."
SECOND = "وأضافت المصادر أن الجانبين اتفقا على مواصلة التنسيق العسكري خلال الأسابيع المقبلة."


def _article(*header: str, body: tuple[str, ...] = (LEAD, SECOND)) -> str:
    return "\n\n".join(["عنوان الخبر عن المحادثات", *header, *body])


@pytest.mark.parametrize(
    ("stamp", "iso"),
    [
        ("الثلاثاء 4 فبراير 2020 11:39 م", "2020-02-04"),
        ("سبتمبر 16, 2016 08:38, 482 مشاهدات", "2016-09-16"),
        ("الأربعاء ٤ شباط ٢٠٢٠", "2020-02-04"),
        ("15 تشرين الثاني 2019", "2019-11-15"),
        ("نشر في: 3 كانون الأول 2018 - 10:00", "2018-12-03"),
        ("1 أيار/مايو 2017", "2017-05-01"),
        ("12 آب 2015", "2015-08-12"),
        ("2020-02-04 11:39", "2020-02-04"),
        ("04/02/2020", "2020-02-04"),
        ("٠٤/٠٢/٢٠٢٠", "2020-02-04"),
        ("February 4, 2020", "2020-02-04"),
    ],
)
def test_date_from_header_stamp(stamp: str, iso: str) -> None:
    doc = clean_article(_article(stamp), doc_id="x.txt")
    assert doc.date == iso
    assert doc.text == f"{LEAD}\n\n{SECOND}"  # the stamp line itself is gone


def test_dates_inside_sentences_are_not_publication_dates() -> None:
    body = ("زار الرئيس موسكو في 15 يوليو/ تموز 2016 في أول رحلة له منذ محاولة الانقلاب عليه.", SECOND)
    doc = clean_article(_article(body=body), doc_id="x.txt")
    assert doc.date is None
    assert doc.text.startswith("زار الرئيس موسكو في 15 يوليو/ تموز 2016")


def test_date_and_agency_from_dateline() -> None:
    doc = clean_article(_article(body=(f"بيروت، 12 آذار 2020 (رويترز) - {LEAD}", SECOND)), doc_id="x")
    assert (doc.date, doc.source) == ("2020-03-12", "رويترز")
    assert doc.text.startswith("بيروت، 12 آذار 2020 (رويترز) - قال")  # the sentence is not rewritten


def test_lifespan_in_a_lead_is_not_a_dateline() -> None:
    lead = "نجيب محفوظ (11 ديسمبر 1911 - 30 أغسطس 2006) روائي مصري، هو أول عربي حائز على جائزة نوبل في الأدب."
    assert clean_article(lead, doc_id="x", title="نجيب محفوظ").date is None


def test_prose_that_resembles_furniture_is_kept() -> None:
    # Guillemet quotes, a sentence starting with "شارك", "لن يتم نشر" in a quote: all article text.
    body = (
        LEAD,
        "وقال إن «الوضع خطير» في «المنطقة» كلها.",
        "شارك الآلاف في المظاهرة.",
        "تقارير أخرى تحدثت عن مقتل جنديين.",
        "وقال إنه لن يتم نشر القوات قبل موافقة البرلمان.",
        "صورة قاتمة رسمها التقرير عن الوضع الإنساني في المدينة.",
        "وقع الانفجار عند 11:30 صباحا يوم 4 فبراير 2020.",
        SECOND,
    )
    assert clean_article(_article(body=body), doc_id="x").text == "\n\n".join(body)


def test_impossible_date_is_ignored() -> None:
    assert clean_article(_article("31 شباط 2020"), doc_id="x.txt").date is None


def test_byline_and_name_line_become_author() -> None:
    assert clean_article(_article("دمشق - منى الأحمد"), doc_id="x").author == "منى الأحمد"
    assert clean_article(_article("بقلم: خالد يوسف"), doc_id="x").author == "خالد يوسف"
    assert clean_article(_article("منى الأحمد"), doc_id="x").author == "منى الأحمد"


def test_agency_dateline_is_a_source_not_an_author() -> None:
    doc = clean_article(_article("موسكو - رويترز"), doc_id="x")
    assert (doc.author, doc.source) == (None, "رويترز")


def test_labels_organisations_and_sentences_are_not_authors() -> None:
    assert clean_article(_article("اخبار عالمية"), doc_id="x").author is None
    assert clean_article(_article("الجزيرة نت"), doc_id="x").author is None
    assert clean_article(_article("وكالة الأناضول"), doc_id="x").source == "وكالة الأناضول"
    assert clean_article(_article("أخبار ذات صلة"), doc_id="x").author is None
    doc = clean_article(_article(body=("قال الوزير إن المحادثات بناءة.", LEAD)), doc_id="x")
    assert doc.author is None
    assert doc.text.startswith("قال الوزير إن المحادثات بناءة.")


def test_image_credit_is_not_the_source() -> None:
    doc = clean_article(_article("مصدر الصورة Reuters", "Image caption الرئيسان خلال اللقاء"), doc_id="x")
    assert doc.source is None
    assert doc.text == f"{LEAD}\n\n{SECOND}"


def test_headline_list_without_marker_is_removed() -> None:
    raw = _article(
        body=(
            LEAD,
            SECOND,
            "بوتين يستقبل أردوغان في الكرملين لبحث…",
            "وزير الدفاع التركي يزور موسكو الأسبوع…",
            "photo_2026-01-01_10-00-00إدلب تشهد هدوءا حذرا",
        )
    )
    assert clean_article(raw, doc_id="x").text == f"{LEAD}\n\n{SECOND}"


def test_inline_read_also_teaser_is_dropped_but_article_continues() -> None:
    raw = _article(body=(LEAD, "اقرأ أيضا: أردوغان يهدد بعملية جديدة في سوريا", SECOND))
    assert clean_article(raw, doc_id="x").text == f"{LEAD}\n\n{SECOND}"


def test_explicit_title_is_kept_and_its_repeat_dropped() -> None:
    doc = clean_article(f"قمة موسكو\n{LEAD}\n{SECOND}", doc_id="x", title="قمة موسكو", path="p", content_hash="h")
    assert (doc.title, doc.text, doc.path, doc.content_hash) == ("قمة موسكو", f"{LEAD}\n\n{SECOND}", "p", "h")


def test_boilerplate_only_article_raises() -> None:
    with pytest.raises(IngestError):
        clean_article("الرئيسية » أخبار\n\n482 مشاهدات\n\nأخبار ذات صلة\n\nعنوان آخر…", doc_id="x")


SAMPLE_LINES = sorted({line for name in EXPECTED for line in _raw_lines(name) if line})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(SAMPLE_LINES), min_size=1, max_size=25))
def test_cleaning_never_rewrites_a_line(picked: list[str]) -> None:
    # Whatever mixture of article and furniture lines comes in, what comes out is input lines.
    try:
        doc = clean_article("\n".join(picked), doc_id="x")
    except IngestError:
        return
    assert all(p in picked for p in doc.text.split("\n\n"))
    assert doc.title


# ---------------------------------------------------------------------------------- formats


def test_html_fixture() -> None:
    docs, skipped = load_documents([FIXTURES / "article.html"])
    assert skipped == []
    (doc,) = docs
    assert doc.title == "قمة سوتشي تبحث وقف إطلاق النار في إدلب"
    assert (doc.date, doc.source, doc.author) == ("2019-09-16", "شبكة الأخبار", "ليلى حسن")
    # Inline tags stay inside their sentence; <br> and block elements become separate paragraphs.
    assert doc.text.split("\n\n") == [
        "بحث الرئيسان الروسي والتركي في منتجع سوتشي سبل تثبيت وقف إطلاق النار في محافظة إدلب شمال غربي سوريا.",
        "وقال المتحدث باسم الكرملين إن المحادثات كانت بناءة ومفيدة للطرفين.",
        "وأضاف أن لقاء آخر سيعقد قبل نهاية العام.",
        "لم يحدد الجانبان موعد القمة المقبلة بعد.",
    ]
    for junk in ("SCRIPT", "STYLE", "NAV", "NOSCRIPT", "FORM", "ASIDE", "FOOTER", "FIGCAPTION", "مشاهدة"):
        assert junk not in doc.text


def test_markdown_fixture() -> None:
    docs, _ = load_documents([FIXTURES / "article.md"])
    (doc,) = docs
    assert doc.title == "تركيا وروسيا تتفقان على دوريات مشتركة"
    assert doc.date == "2020-03-12"
    paragraphs = doc.text.split("\n\n")
    # Soft-wrapped lines join into one paragraph; links keep their text; emphasis markers go.
    assert paragraphs[0] == (
        "اتفقت تركيا وروسيا على تسيير دوريات مشتركة على طول الطريق الدولي في شمال سوريا، "
        "وفق ما أعلنه وزير الدفاع التركي."
    )
    assert paragraphs[1] == "وقال الوزير إن الدوريات ستبدأ الأسبوع المقبل بمشاركة وحدات من البلدين."
    assert paragraphs[-1] == "تتولى لجنة عسكرية مشتركة متابعة تنفيذ البنود."
    for junk in ("*", "#", "](", "http", "map.png", "خريطة المنطقة", "الكرملين", "ذات صلة"):
        assert junk not in doc.text


def test_jsonl_fixture() -> None:
    path = FIXTURES / "articles.jsonl"
    docs, skipped = load_documents([path])
    by_id = {d.doc_id: d for d in docs}
    assert list(by_id) == ["j1", "j3", "6"]
    j1 = by_id["j1"]
    assert (j1.title, j1.date, j1.source, j1.author) == (
        "موسكو وأنقرة تبحثان الملف السوري",
        "2020-02-04",
        "وكالة الأنباء",
        "سارة أحمد",
    )
    assert j1.text.split("\n\n") == [
        "بحث وزيرا خارجية روسيا وتركيا الملف السوري خلال اتصال هاتفي يوم الثلاثاء.",
        "وأكد الجانبان أهمية التنسيق بينهما في إدلب.",
    ]
    first_line = path.read_bytes().split(b"\n")[0]
    assert j1.content_hash == hashlib.sha256(first_line).hexdigest()
    assert by_id["j3"].date == "2020-02-04"  # Arabic-Indic digits and a Levantine month
    assert by_id["j3"].text.startswith("أعلنت وزارة الدفاع التركية")  # no title field: nothing lost
    reasons = {s.reason.split(":")[0]: s for s in skipped}
    assert set(reasons) == {"line 2", "line 4", "line 5"}
    assert all(s.path == str(path) for s in skipped)
    assert "invalid JSON" in reasons["line 2"].reason
    assert "duplicate id 'j1'" in reasons["line 4"].reason
    assert "'text'" in reasons["line 5"].reason


@pytest.mark.parametrize(
    ("name", "title", "date", "author", "source", "paragraphs"),
    [
        (
            "layout_levant.txt",
            "أنقرة تعلن بدء عملية عسكرية جديدة شمال سوريا",
            "2020-01-05",
            "أحمد علي",
            None,
            [
                "أعلنت وزارة الدفاع التركية، الأحد، بدء عملية عسكرية جديدة في شمال سوريا بمشاركة فصائل معارضة.",
                'وقالت الوزارة في بيان إن العملية تستهدف "مواقع التنظيمات الإرهابية" قرب الحدود.',
                'وأضاف البيان أن العملية ستستمر "حتى تحقيق أهدافها".',
            ],
        ),
        (
            "layout_agency.txt",
            "موسكو ترحب بالاتفاق التركي الأمريكي",
            "2019-10-15",
            None,
            "وكالة الأناضول",
            [
                "موسكو - رحبت وزارة الخارجية الروسية بالاتفاق الذي توصلت إليه تركيا والولايات المتحدة بشأن شمال سوريا.",
                "وقالت المتحدثة باسم الوزارة إن موسكو تتابع تنفيذ الاتفاق عن كثب.",
            ],
        ),
    ],
)
def test_other_site_layouts(
    name: str, title: str, date: str, author: str | None, source: str | None, paragraphs: list[str]
) -> None:
    # Layouts unlike the five samples: "/" crumbs, "نشر في ... | آخر تحديث" stamps, "بقلم:" bylines,
    # share widgets, inline teasers, tag lists, a flag line ("عاجل") and an agency line.
    (doc,), _ = load_documents([FIXTURES / name])
    assert (doc.title, doc.date, doc.author, doc.source) == (title, date, author, source)
    assert doc.text.split("\n\n") == paragraphs


ARCD = ROOT.parent / "shared" / "gold" / "arcd-train.json"


@pytest.mark.skipif(not ARCD.exists(), reason="shared ARCD file not available")
def test_encyclopedic_prose_passes_through_unchanged() -> None:
    # 231 Wikipedia paragraphs contain no site furniture: cleaning must not drop or invent anything.
    data = json.loads(ARCD.read_text("utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            doc = clean_article(context, doc_id="arcd", title=article["title"])
            assert doc.text == clean_unicode(context).strip()
            assert (doc.date, doc.author, doc.source) == (None, None, None)


# ------------------------------------------------------------------------------ file handling


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_bad_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.txt", _article())
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    empty = _write(tmp_path / "empty.txt", "\u00a0\n\n  \n")
    furniture = _write(tmp_path / "furniture.txt", "الرئيسية » أخبار\n\n482 مشاهدات\n\nأخبار ذات صلة")
    pdf = _write(tmp_path / "paper.pdf", "%PDF-1.4")
    docs, skipped = load_documents([good, binary, empty, furniture, pdf])
    assert [d.doc_id for d in docs] == ["good.txt"]
    assert [Path(s.path).name for s in skipped] == ["image.txt", "empty.txt", "furniture.txt", "paper.pdf"]
    assert all(isinstance(s, Skipped) and s.reason for s in skipped)
    assert "unsupported" in skipped[-1].reason


def test_non_utf8_file_is_decoded(tmp_path: Path) -> None:
    path = _write(tmp_path / "cp1256.txt", _article(body=(LEAD, SECOND, LEAD.replace("قال", "وقال"))), "cp1256")
    (doc,), _ = load_documents([path])
    assert doc.text.startswith(LEAD)
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + _article().replace("\n", "\r\n").encode("utf-8"))
    (doc,), _ = load_documents([path])
    assert doc.title == "عنوان الخبر عن المحادثات"
    assert doc.text == f"{LEAD}\n\n{SECOND}"


def test_missing_path_raises_with_actionable_message(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(IngestError, match=r"no-such-folder.*no such file or folder"):
        load_documents([ARTICLES, missing])


def test_nothing_loadable_raises(tmp_path: Path) -> None:
    _write(tmp_path / "empty.txt", "")
    with pytest.raises(NoDocumentsError, match=r"empty\.txt"):
        load_documents([tmp_path])
    with pytest.raises(NoDocumentsError):
        load_documents([tmp_path / "empty.txt"])


def test_folder_recursion(tmp_path: Path) -> None:
    _write(tmp_path / "b" / "deep" / "z.txt", _article())
    _write(tmp_path / "a.md", f"# عنوان\n\n{LEAD}")
    _write(tmp_path / "b" / "c.htm", f"<h1>عنوان</h1><p>{LEAD}</p>")
    _write(tmp_path / ".hidden.txt", _article())
    _write(tmp_path / ".git" / "x.txt", _article())
    _write(tmp_path / "notes.pdf", "ignored in folders")
    docs, skipped = load_documents([tmp_path, tmp_path / "a.md"])  # a.md twice: loaded once
    assert [Path(d.path).relative_to(tmp_path).as_posix() for d in docs] == ["a.md", "b/c.htm", "b/deep/z.txt"]
    assert skipped == []


def test_duplicate_file_names_in_different_folders(tmp_path: Path) -> None:
    _write(tmp_path / "one" / "same.txt", _article())
    _write(tmp_path / "two" / "same.txt", _article())
    _write(tmp_path / "two" / "same.txt", _article().replace("المحادثات", "المفاوضات"))
    docs, skipped = load_documents([tmp_path])
    # Two files are two articles, even under one name; the index gives them distinct ids.
    assert len(docs) == 2 and not skipped
    assert {d.doc_id for d in docs} == {"same.txt"}
    assert len({d.path for d in docs}) == 2


def test_unicode_normalisation_is_display_safe() -> None:
    # Matching-normalisation (alef forms, taa marbuta, diacritics) is never applied to display text.
    text = "إِنَّ الأمم المتحدة دعت إلى هدنة فورية في المدينة المحاصرة منذ أشهر طويلة."
    assert clean_unicode(text) == text
    assert unicodedata.is_normalized("NFC", clean_unicode("e\u0301"))
