"""Files → clean Documents: formats, boilerplate removal, metadata (title, date, source, author).

Scraped Arabic news pages carry a lot besides the article: breadcrumbs, view counters, date stamps,
image credits, "related news" headline lists, share widgets and comment forms. Everything here is a
general heuristic for such pages; nothing matches a particular site's exact strings. Cleaning only
ever *drops* whole lines: every paragraph of ``Document.text`` is a line of the Unicode-cleaned input,
so quotes and character offsets taken from the text are exact article sentences.

Only the standard library is imported at module level; selectolax (HTML) and charset-normalizer
(encoding detection) are imported where they are needed.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import functools
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import IngestError, NoDocumentsError
from rag.types import Document

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".jsonl")


@dataclass(frozen=True)
class Skipped:
    """A file (or one jsonl line) that was not loaded, and why."""

    path: str
    reason: str


# ---------------------------------------------------------------------------------------------
# Unicode hygiene (display text: letters and diacritics are never changed here)
# ---------------------------------------------------------------------------------------------

# Scrapes are full of NBSPs and typographic spaces; they break word splitting and exact matching.
_ODD_SPACES = "\t\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
# Zero-width and bidi controls are invisible on screen but make identical-looking strings differ.
# Tatweel (U+0640) is pure typographic stretching; removing it never changes a word.
_INVISIBLE = (
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u061c\u200e\u200f"
    + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
    + "\u0640"
)
_LINE_BREAKS = "\u2028\u2029\x85\x0b\x0c"
_CONTROLS = "".join(chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t\x85\x0b\x0c")
_UNICODE_TABLE = str.maketrans(
    {
        **{c: " " for c in _ODD_SPACES},
        **{c: "\n" for c in _LINE_BREAKS},
        **{c: None for c in _INVISIBLE + _CONTROLS},
    }
)


def clean_unicode(text: str) -> str:
    """Normalise spaces, invisible characters, tatweel and line endings of displayed text (NFC)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_UNICODE_TABLE)
    # NFC last among the character-level steps: removing a zero-width char can bring a base letter
    # and a combining mark together, and only NFC afterwards keeps the function idempotent.
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r" {2,}", " ", text)
    return "\n".join(line.strip(" ") for line in text.split("\n"))


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)

# Egyptian/Gulf, Levantine/Iraqi and Maghrebi month names, spelling variants (hamza, taa marbuta)
# included, plus English: Arabic sites print any of these, often two at once ("شباط/فبراير").
_MONTH_NAMES: tuple[tuple[str, ...], ...] = (
    ("يناير", "كانون الثاني", "كانون ثاني", "جانفي", "january", "jan"),
    ("فبراير", "شباط", "فيفري", "february", "feb"),
    ("مارس", "آذار", "اذار", "أذار", "march", "mar"),
    ("أبريل", "ابريل", "إبريل", "نيسان", "أفريل", "افريل", "april", "apr"),
    ("مايو", "أيار", "ايار", "ماي", "may"),
    ("يونيو", "يونيه", "حزيران", "جوان", "june", "jun"),
    ("يوليو", "يوليه", "تموز", "جويلية", "july", "jul"),
    ("أغسطس", "اغسطس", "آب", "أوت", "اوت", "august", "aug"),
    ("سبتمبر", "أيلول", "ايلول", "september", "sept", "sep"),
    ("أكتوبر", "اكتوبر", "تشرين الأول", "تشرين الاول", "تشرين أول", "تشرين اول", "october", "oct"),
    ("نوفمبر", "تشرين الثاني", "تشرين ثاني", "november", "nov"),
    ("ديسمبر", "كانون الأول", "كانون الاول", "كانون أول", "كانون اول", "december", "dec"),
)
_MONTHS: dict[str, int] = {name: num for num, names in enumerate(_MONTH_NAMES, 1) for name in names}

_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
# "15 يوليو/ تموز", "4 شباط (فبراير)" and "نوفمبر تشرين الثاني": one date, two month names.
_MONTH = rf"(?P<m>{_MONTH_ALT})(?:\s*[/(-]?\s*(?:{_MONTH_ALT})\s*\)?)?"
_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 4 فبراير 2020 / الثلاثاء 4 شباط/فبراير 2020
    re.compile(rf"(?<!\w)(?P<d>\d{{1,2}})\s+(?:من\s+)?{_MONTH}\s*[,،]?\s*(?P<y>\d{{4}})(?!\w)", re.IGNORECASE),
    # سبتمبر 16, 2016 / February 4, 2020
    re.compile(rf"(?<!\w){_MONTH}\s+(?P<d>\d{{1,2}})\s*[,،]?\s*(?P<y>\d{{4}})(?!\w)", re.IGNORECASE),
    # 2020-02-04, 2020/2/4
    re.compile(r"(?<!\d)(?P<y>\d{4})\s?[-/.]\s?(?P<m>\d{1,2})\s?[-/.]\s?(?P<d>\d{1,2})(?!\d)"),
    # 04/02/2020: Arabic sites write day first.
    re.compile(r"(?<!\d)(?P<d>\d{1,2})\s?[-/.]\s?(?P<m>\d{1,2})\s?[-/.]\s?(?P<y>\d{4})(?!\d)"),
)


def _date_matches(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, iso) for every valid calendar date in ``text``."""
    text = text.translate(_DIGITS)
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            month_text = m.group("m")
            month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text.lower(), 0)
            try:
                day = _dt.date(int(m.group("y")), month, int(m.group("d")))
            except ValueError:
                continue
            if 1900 <= day.year <= 2100:
                yield m.start(), m.end(), day.isoformat()


def _find_date(text: str) -> str | None:
    """The earliest full date (day, month, year) in ``text`` as ISO ``YYYY-MM-DD``."""
    found = sorted(_date_matches(text))
    return found[0][2] if found else None


def _parse_date_value(value: object) -> str | None:
    """Normalise a structured date field (jsonl, front matter, HTML meta) to ISO, or None."""
    if not isinstance(value, str | _dt.date):
        return None
    if isinstance(value, _dt.date):
        return value.isoformat()[:10]
    m = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value.translate(_DIGITS))
    if m:
        try:
            return _dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    return _find_date(value)


# ---------------------------------------------------------------------------------------------
# Line classification
# ---------------------------------------------------------------------------------------------

_TIME_RE = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
_WEEKDAYS = (
    "الأحد|الاحد|الإثنين|الاثنين|الأثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة|السبت|"
    "Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday"
)
# Counters like "482 مشاهدات", "1.2k views", "عدد القراءات: 90".
_VIEWS_RE = re.compile(
    r"(?:\d[\d,.]*\s*(?:k|K|ألف|الف)?\s*(?:مشاهدات|مشاهدة|مشاهده|قراءات|قراءة|زيارات|زيارة|views?|reads?)"
    r"|(?:عدد\s+)?(?:المشاهدات|القراءات|الزيارات|views?)\s*[:：]?\s*\d[\d,.]*)",
    re.IGNORECASE,
)
_RELATIVE_TIME_RE = re.compile(r"منذ\s+\d+\s+(?:ثانية|ثوان|دقيقة|دقائق|ساعة|ساعات|يوم|أيام|ايام|أسبوع|شهر)")
_STAMP_WORDS_RE = re.compile(
    rf"(?<![\w])(?:{_WEEKDAYS}|ص|م|مساء|مساءً|صباحا|صباحاً|AM|PM|GMT|UTC|بتوقيت|غرينتش|"
    r"نشر|نُشر|منشور|في|بتاريخ|تاريخ|النشر|آخر|اخر|تحديث|التحديث|محدث|Published|Updated|on|at)(?![\w])",
    re.IGNORECASE,
)
_STAMP_PUNCT_RE = re.compile(r"[\s,،|:：\-–—/()\[\]•·+]+")


@functools.lru_cache(maxsize=8192)  # every line is tested several times while finding the body
def _stamp_leftover(line: str) -> tuple[int, bool]:
    """Words left after removing dates, times, weekdays and view counters; and whether any matched."""
    text = line.translate(_DIGITS)
    spans = [(s, e) for s, e, _ in _date_matches(text)]
    spans += [m.span() for r in (_TIME_RE, _VIEWS_RE, _RELATIVE_TIME_RE) for m in r.finditer(text)]
    if not spans:
        return len(line.split()), False
    chars = list(text)
    for s, e in spans:
        chars[s:e] = [" "] * (e - s)
    rest = _STAMP_WORDS_RE.sub(" ", "".join(chars))
    return len([w for w in _STAMP_PUNCT_RE.split(rest) if w]), True


def _is_stamp_line(line: str) -> bool:
    """A line that is only a publication stamp: date/time/weekday/view counter, nothing else."""
    if re.search(r"[.!?؟][\"'”»)]*$", line):
        return False  # a full stop ends a sentence that mentions a date, never a stamp
    leftover, matched = _stamp_leftover(line)
    # Up to two other words allow a place name ("موسكو – 12 آذار 2020"); prose has many more.
    return matched and leftover <= 2


# Breadcrumbs: "الرئيسية » أخبار السياسة", "Home > World > Middle East".
_HOME_WORDS = r"(?:الرئيسية|الرئيسيه|الصفحة الرئيسية|الرئيسة|home|homepage|accueil)"
_CRUMB_SEP = r"[»›>«‹<|/]"
_CRUMB_START_RE = re.compile(rf"^{_HOME_WORDS}\s*{_CRUMB_SEP}", re.IGNORECASE)

# "View on Almaghribtoday.net": syndication footers naming the publishing site.
_VIEW_ON_RE = re.compile(r"^(?:view|read|published|originally published)\s+(?:on|at)\s+(?P<src>\S+)$", re.I)
# "المصدر | الخليج الجديد + وكالات", "المصدر: رويترز". "مصدر الصورة" has no separator: not matched.
_SOURCE_RE = re.compile(r"^(?:ال)?مصدر(?:\s+الخبر)?\s*[:：|\-–—]\s*(?P<src>.+)$|^source\s*[:：|]\s*(?P<src2>.+)$", re.I)

# Explicit caption/credit labels (BBC-style "Image caption", "مصدر الصورة EPA").
_CAPTION_LABEL_RE = re.compile(
    r"^(?:image caption|caption|image source|image copyright|photo credit|copyright|getty images|©|"
    r"مصدر الصورة|حقوق الصورة|تعليق على الصورة|شرح الصورة|الصورة\s*[:：]|تصوير\s*[:：])",
    re.IGNORECASE,
)
# Short unpunctuated lines that start "صورة ..." are image alt text, not prose.
_CAPTION_WORD_RE = re.compile(r"^(?:صورة|الصورة|صوره|photo|image|picture)(?![\w])", re.I)

# Image file names glued to a headline by the scraper: "photo_2026-02-25_09-58-27دوشنبه ...".
_GLUED_RE = re.compile(r"^[A-Za-z0-9_\-.]{4,}(?:\s*\(\d+\))?[\u0600-\u06FF]")
_FILENAME_RE = re.compile(r"(?:photo|img|image|dsc|screenshot)[_-]\d", re.IGNORECASE)

# End-of-article sections: what follows belongs to the site, not to this article.
_END_MARKERS = (
    r"(?:أخبار|اخبار|الأخبار|الاخبار|مواضيع|موضوعات|مقالات|قصص|تقارير|روابط)\s+"
    r"(?:ذات صلة|ذات الصلة|متعلقة|مشابهة|مرتبطة|أخرى|اخرى|قد تهمك|ذات علاقة)"
    r"(?:\s+(?:لهذا|في هذا|من هذا|من|في)\s+(?:القسم|التصنيف|الباب|الموقع))?",
    r"ذات صلة|قد يهمك أيضا|قد يهمك أيضاً|قد يعجبك أيضا|قد يعجبك أيضاً|لا تفوتك|طالع أيضا|طالع أيضاً",
    r"(?:آخر|اخر|أحدث|احدث|أهم|اهم)\s+(?:الأخبار|الاخبار|الاخبار|المقالات|المواضيع|الموضوعات|الفيديوهات)",
    r"(?:(?:الأخبار|الاخبار|المقالات|المواضيع)\s+)?(?:الأكثر|الاكثر)\s+(?:قراءة|قراءه|مشاهدة|تداولا|تداولاً|تعليقا|تعليقاً)",
    r"(?:ال)?كلمات\s+(?:ال)?مفتاحية|(?:ال)?وسوم|tags?|keywords",
    r"(?:ال)?رابط\s+(?:ال)?مختصر|(?:ال)?رابط\s+(?:ال)?خبر|short\s*link|permalink",
    r"شارك|شارك (?:الخبر|المقال|المقالة|الموضوع)|شارك هذا (?:الخبر|المقال|الموضوع)|"
    r"شارك(?:ه|ها)? (?:على|عبر)(?:\s+\S+){0,2}|مشاركة|مشاركة الخبر|share|share this(?: article| story)?",
    r"(?:اترك|أترك|أضف|اضف|أكتب|اكتب)\s+(?:تعليق|تعليقا|تعليقاً|تعليقك|ردا|رداً)|(?:ال)?تعليقات|شروط التعليق|"
    r"leave a (?:comment|reply)|comments?|\d+\s+(?:تعليق|تعليقات|comments?)",
    r"related(?:\s+(?:news|articles|posts|stories|content))?|read more|more from this section|"
    r"latest news|most read|most popular|you may also like|recommended",
    r"(?:اقرأ|إقرأ|اقرا|إقرا)\s+(?:أيضا|أيضاً|ايضا|ايضاً|المزيد)|المزيد من (?:الأخبار|الاخبار)",
)
_END_MARKER_RE = re.compile(rf"^(?:{'|'.join(_END_MARKERS)})$", re.IGNORECASE)
_MARKER_TRIM = " :：-–—|»«›‹•·*#"
# Comment-form and comment-policy sentences. Only the line is dropped: phrases this specific never
# occur in news prose, but a form label such as "اترك تعليق" (an end marker) is what ends the article.
_COMMENT_FORM_RE = re.compile(
    r"بريدك الإلكتروني|بريدك الالكتروني|الحقول الإلزامية|الحقول الالزامية|الحقول المطلوبة|"
    r"عدم الإساءة للكاتب|عدم الاساءة للكاتب|التعليقات المنشورة لا تعبر|"
    r"your email address will not be published|required fields are marked",
    re.IGNORECASE,
)
# "اقرأ أيضا: <headline>" in the middle of an article: a teaser link, drop the line only.
_TEASER_RE = re.compile(r"^(?:اقرأ|إقرأ|اقرا|إقرا|طالع|شاهد)\s+(?:أيضا|أيضاً|ايضا|ايضاً|كذلك)?\s*[:：\-–—]", re.I)

_SOCIAL_WORDS = frozenset(
    "facebook twitter x whatsapp telegram linkedin pinterest reddit email print messenger "
    "فيسبوك فيس بوك تويتر واتساب واتس اب تيليجرام تلغرام تليجرام لينكدإن طباعة إرسال ارسال "
    "البريد الإلكتروني الالكتروني مشاركة شارك عبر على".split()
)

# Agencies named in datelines ("موسكو - رويترز"): these are sources, not authors.
_AGENCIES = frozenset(
    {
        "رويترز", "أ ف ب", "ا ف ب", "أ.ف.ب", "فرانس برس", "فرانس بريس", "الأناضول", "الاناضول",
        "سبوتنيك", "د ب أ", "د.ب.أ", "أسوشيتد برس", "اسوشيتد برس", "أ ب", "وكالات", "واس", "وام",
        "سانا", "قنا", "كونا", "بترا", "إرنا", "ارنا", "تاس", "نوفوستي", "شينخوا", "الأسوشيتد برس",
        "reuters", "afp", "ap", "dpa", "anadolu",
    }
)  # fmt: skip
# "أنقرة - جلال فواز": a place (1-2 words), a dash, a name (1-4 words), nothing else.
_DATELINE_BYLINE_RE = re.compile(
    r"^(?P<place>[^\W\d_]+(?:\s[^\W\d_]+)?)\s*[-–—]\s*(?P<name>[^\W\d_.]+(?:[\s.][^\W\d_.]+){0,3})$"
)
_BY_PREFIX_RE = re.compile(
    r"^(?:بقلم|كتب|كتبت|كتبه|إعداد|اعداد|تحرير|تقرير|by)\s*[:：\-–—]?\s*(?P<name>[^\W\d_]+(?:\s[^\W\d_]+){1,3})$",
    re.IGNORECASE,
)

# Section labels ("اخبار عالمية", "رياضة"): never a person's name.
_SECTION_WORDS = frozenset(
    "أخبار اخبار الأخبار الاخبار خبر سياسة السياسة سياسي السياسي اقتصاد الاقتصاد اقتصادي رياضة الرياضة "
    "رياضي منوعات ثقافة الثقافة فن الفن فنون صحة الصحة تكنولوجيا التكنولوجيا علوم العلوم عالمية عالمي "
    "محلية محليات محلي دولية دولي الدولي عربية عربي العربي العالم تقارير تقرير مقالات مقال رأي الرأي "
    "حوارات حوار فيديو صور عاجل شؤون مجتمع المجتمع حوادث تحقيقات ملفات متابعات اقتصادية سياسية "
    "news world politics sports business opinion".split()
)
# Words that name an organisation ("وكالة الأناضول", "الجزيرة نت", "صحيفة الحياة"), not a person.
_ORG_WORDS = frozenset(
    "وكالة وكالات صحيفة جريدة مجلة موقع بوابة قناة شبكة مركز وزارة نت نيوز تي في agency news net tv "
    "online press times post daily".split()
)
# Function words: a line containing one is a phrase, not a name.
_FUNCTION_WORDS = frozenset(
    "في من على إلى الى عن مع و أو او ثم هذا هذه ذلك التي الذي الذين بعد قبل حول ضد عبر بين لا لم لن قد "
    "إن ان أن كان كانت هو هي يوم اليوم".split()
)
_NOT_NAME_WORDS = _FUNCTION_WORDS | _SECTION_WORDS | _ORG_WORDS

_FINAL_PUNCT_RE = re.compile(r"[.!?؟:؛][\s\"'”’»)\]]*$")
_ELLIPSIS_RE = re.compile(r"(?:…|\.{2,})[\s\"'”’»)\]]*$")


def _words(line: str) -> int:
    return len(line.split())


def _is_sentence(line: str) -> bool:
    """Whether a line reads like article prose rather than a label, headline or menu item."""
    n = _words(line)
    if _ELLIPSIS_RE.search(line):
        # Headline widgets truncate with "…"; a long paragraph may still trail off that way.
        return n > 20
    if _FINAL_PUNCT_RE.search(line):
        return n >= 4
    # Some articles end a paragraph without a full stop (001's last paragraph); length decides.
    return n >= 15


def _is_crumb(line: str) -> bool:
    if _CRUMB_START_RE.match(line):
        return True
    # Two or more spaced "»"/"›" separators between short segments: a trail without "Home". A "«"
    # means Arabic quotation marks («...»), which prose uses all the time.
    if "«" in line or "‹" in line or _FINAL_PUNCT_RE.search(line):
        return False
    parts = re.split(r"\s+[»›]\s+", line)
    return len(parts) >= 3 and all(0 < _words(p) <= 5 for p in parts)


def _is_caption(line: str) -> bool:
    if _CAPTION_LABEL_RE.match(line):
        return True
    if _CAPTION_WORD_RE.match(line) and _words(line) <= 12 and not _FINAL_PUNCT_RE.search(line):
        return True
    # "(صورة أرشيفية)", "(Reuters)": a short parenthesised line.
    return bool(re.fullmatch(r"[(\[].{1,60}[)\]]", line)) and _words(line) <= 6


def _is_glued_headline(line: str) -> bool:
    return bool(_GLUED_RE.match(line) or _FILENAME_RE.search(line))


def _is_social(line: str) -> bool:
    tokens = [t for t in re.split(r"[\s|،,/·•]+", line.lower()) if t]
    return bool(tokens) and len(tokens) <= 10 and all(t in _SOCIAL_WORDS for t in tokens)


def _is_end_marker(line: str) -> bool:
    core = line.strip(_MARKER_TRIM)
    # Section labels are short and never end like a sentence ("شارك الآلاف في المظاهرة." is prose).
    if not core or _words(core) > 6 or _FINAL_PUNCT_RE.search(core) or _ELLIPSIS_RE.search(core):
        return False
    return bool(_END_MARKER_RE.match(core))


def _source_from(line: str) -> str | None:
    """The site/agency named by a source line, or None if the line is not one."""
    m = _VIEW_ON_RE.match(line)
    if m:
        return m.group("src").rstrip(".")
    m = _SOURCE_RE.match(line)
    src = (m.group("src") or m.group("src2") or "").strip() if m else ""
    # A source line names an outlet in a few words; "المصدر: إن الهجوم ..." would be prose.
    if not src or _words(src) > 6 or _FINAL_PUNCT_RE.search(src):
        return None
    # "الخليج الجديد + وكالات": keep the named outlet; "+ وكالات" (wire agencies) names no one.
    first = re.split(r"\s*\+\s*|\s*[،,]\s*|\s+و\s*وكالات$", src)[0].strip(" .-–—|")
    return first or src or None


def _byline(line: str) -> tuple[str | None, str | None] | None:
    """(author, agency) from a byline line, or None if the line is not a byline."""
    m = _BY_PREFIX_RE.match(line)
    if m:
        return m.group("name"), None
    m = _DATELINE_BYLINE_RE.match(line)
    if not m:
        return None
    name = m.group("name").strip()
    if name.lower() in _AGENCIES:
        return None, name
    if _as_author_name(name):
        return name, None
    return None


def _as_author_name(line: str) -> str | None:
    """A standalone name line ("سامي الشمراني"): 2-4 letter-only words, no function/section words."""
    words = line.split()
    if not 2 <= len(words) <= 4:
        return None
    if not all(re.fullmatch(r"[^\W\d_]+", w) for w in words):
        return None
    if any(w.lower() in _NOT_NAME_WORDS for w in words):
        return None
    return line


def _is_section_label(line: str) -> bool:
    """A site section or flag ("عاجل", "اخبار عالمية"), not a headline."""
    words = line.lower().split()
    return 0 < len(words) <= 3 and all(w in _SECTION_WORDS or w.removeprefix("و") in _SECTION_WORDS for w in words)


def _agency_line(line: str) -> str | None:
    """A header line that only names a wire agency ("رويترز", "وكالة الأناضول")."""
    if line.lower() in _AGENCIES or (line.startswith("وكالة ") and _words(line) <= 4):
        return line
    return None


def _key(line: str) -> str:
    """Comparison key that ignores punctuation and spacing (title repeats differ in both)."""
    return re.sub(r"[\W_]+", "", line).lower()


# ---------------------------------------------------------------------------------------------
# Article cleaning
# ---------------------------------------------------------------------------------------------


@dataclass
class _Meta:
    """Metadata found so far; structured sources (jsonl fields, HTML meta) are filled in first."""

    date: str | None = None
    source: str | None = None
    author: str | None = None
    stamp_dates: list[str] = field(default_factory=list)

    def take(self, date: str | None = None, source: str | None = None, author: str | None = None) -> None:
        self.date = self.date or date
        self.source = self.source or source
        self.author = self.author or author


def _metadata_line(line: str, meta: _Meta) -> bool:
    """Consume a line that is site furniture anywhere in a page, recording its metadata."""
    if _is_crumb(line) or _is_caption(line) or _is_social(line) or _is_glued_headline(line):
        return True
    if (_TEASER_RE.match(line) and _words(line) <= 25) or _COMMENT_FORM_RE.search(line):
        return True
    src = _source_from(line)
    if src:
        meta.take(source=src)
        return True
    if _is_stamp_line(line):
        date = _find_date(line)
        if date:
            meta.stamp_dates.append(date)
        return True
    return False


def _title_from_lead(paragraph: str, limit: int = 90) -> str:
    """A stand-in title from the lead sentence, for articles scraped without their headline."""
    sentence = re.split(r"(?<=[.!?؟])\s", paragraph, maxsplit=1)[0].rstrip(".!?؟ ")
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0].rstrip("،, ")
    return cut + "…"


def _dateline(lead: str) -> tuple[str | None, str | None]:
    """(date, agency) of a dateline opening the lead: "بيروت، 12 آذار 2020 (رويترز) - قال ..."."""
    head = re.split(r"\s[-–—]\s|\)\s*[-–—]", lead[:100], maxsplit=1)
    if len(head) != 2 or _stamp_leftover(head[0])[0] > 3:
        return None, None
    agency = re.search(r"\(([^()]{1,25})\)?\s*$", head[0])
    source = agency.group(1).strip() if agency and agency.group(1).strip().lower() in _AGENCIES else None
    found = sorted(_date_matches(head[0]))
    # "(11 ديسمبر 1911 - 30 أغسطس 2006)" after a name is a lifespan, not a dateline.
    if not found or "(" in head[0][: found[0][0]]:
        return None, source
    return found[0][2], source


def _drop_headline_runs(lines: list[str]) -> list[str]:
    """Remove runs of headline-like lines (lists of links to other stories) from the body."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and not _is_sentence(lines[j]) and _words(lines[j]) <= 15:
            j += 1
        run = lines[i:j]
        # Two or more short lines where one is visibly truncated ("…") or glued to an image name,
        # or four short unpunctuated lines in a row: a headline list, not prose.
        strong = any(_ELLIPSIS_RE.search(x) or _is_glued_headline(x) for x in run)
        if (len(run) >= 2 and strong) or len(run) >= 4:
            i = j
            continue
        if run:
            out.extend(run)
            i = j
        else:
            out.append(lines[i])
            i += 1
    return out


def _clean(
    raw: str,
    *,
    doc_id: str,
    title: str | None,
    path: str,
    content_hash: str,
    hints: _Meta | None = None,
) -> Document:
    meta = hints or _Meta()
    lines = [line.strip() for line in clean_unicode(raw).split("\n")]
    nonblank = [i for i, line in enumerate(lines) if line]
    title = clean_unicode(title).strip() if title else None
    title = " ".join(title.split()) if title else None

    # 1. The title: first line that is not site furniture, unless it already reads like prose.
    title_idx: int | None = None
    if title is None:
        for i in nonblank:
            line = lines[i]
            furniture = (
                _is_crumb(line) or _is_caption(line) or _is_stamp_line(line) or _is_end_marker(line)
                or _is_social(line) or _is_glued_headline(line) or _source_from(line) is not None
                or _byline(line) is not None or _COMMENT_FORM_RE.search(line) is not None
                or _is_section_label(line) or _agency_line(line) is not None
            )  # fmt: skip
            if furniture:
                continue
            if _words(line) <= 25 and not (_is_sentence(line) and line.endswith((".", "،"))):
                title, title_idx = line, i
            break
    title_key = _key(title) if title else None

    # 2. Body start: first prose line after the title. Everything above it is the header.
    start = len(lines)
    for i in nonblank:
        if title_idx is not None and i <= title_idx:
            continue
        line = lines[i]
        if _key(line) == title_key or _is_end_marker(line) or _COMMENT_FORM_RE.search(line):
            continue
        if _is_caption(line) or _is_glued_headline(line) or _is_stamp_line(line) or _byline(line):
            continue
        if _is_sentence(line):
            start = i
            break
    else:
        # No line reads like prose (a very short article): start after the title and let the
        # furniture filters below decide line by line.
        if title is not None:
            start = next((i for i in nonblank if title_idx is None or i > title_idx), len(lines))

    # 3. Header: metadata only. Labels such as "مواضيع ذات صلة" or "اخبار عالمية" are dropped.
    for i in nonblank:
        if i >= start:
            break
        if i == title_idx:
            continue
        line = lines[i]
        if _metadata_line(line, meta):
            continue
        by = _byline(line)
        if by:
            meta.take(author=by[0], source=by[1])
        elif _agency_line(line):
            meta.take(source=line)
        elif meta.author is None and _key(line) != title_key and not _is_end_marker(line):
            meta.take(author=_as_author_name(line))
    header_date = meta.stamp_dates[0] if meta.stamp_dates else None
    meta.stamp_dates.clear()

    # 4. Body: stop at the first end-of-article section; drop furniture lines in between.
    body: list[str] = []
    skipping_teaser = False
    for line in lines[start:]:
        if not line:
            skipping_teaser = False
            continue
        if _is_end_marker(line):
            if _TEASER_RE.match(line + ":") and body:
                # A bare "اقرأ أيضا" inside the article introduces one teaser block, not the footer.
                skipping_teaser = True
                continue
            break
        if skipping_teaser and not _is_sentence(line):
            continue
        skipping_teaser = False
        if _metadata_line(line, meta) or _key(line) == title_key:
            continue
        by = _byline(line)
        if by and _words(line) <= 6:
            meta.take(author=by[0], source=by[1])
            continue
        body.append(line)
    body = _drop_headline_runs(body)
    # Trailing labels ("اخبار عالمية", a lone name) that survived: short and unpunctuated.
    while body and _words(body[-1]) <= 8 and (not _FINAL_PUNCT_RE.search(body[-1]) or _ELLIPSIS_RE.search(body[-1])):
        body.pop()
    if not body:
        raise IngestError(f"{path or doc_id}: no article text left after removing site boilerplate")

    # 5. Date: header stamp first, then a dateline at the head of the lead ("بيروت، 4 شباط 2020 -"),
    # then a standalone stamp line near the body. Never a date mentioned inside a sentence.
    dateline_date, agency = _dateline(body[0])
    meta.take(source=agency)
    stamp_date = meta.stamp_dates[0] if meta.stamp_dates else None
    date = meta.date or header_date or dateline_date or stamp_date

    return Document(
        doc_id=doc_id,
        title=title or _title_from_lead(body[0]),
        text="\n\n".join(body),
        path=path,
        date=date,
        source=meta.source,
        author=meta.author,
        content_hash=content_hash,
    )


def clean_article(
    raw: str, *, doc_id: str, title: str | None = None, path: str = "", content_hash: str = ""
) -> Document:
    """Turn one plain-text article scrape into a Document with boilerplate removed and metadata."""
    return _clean(raw, doc_id=doc_id, title=title, path=path, content_hash=content_hash)


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------


class _Unreadable(Exception):
    """Raised inside this module for a file we skip; turned into a Skipped entry."""


def _decode(raw: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM aware), else the detected encoding; return (text, encoding)."""
    if not raw.strip():
        raise _Unreadable("empty file")
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                     (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if raw.startswith(bom):
            try:
                return raw.decode(enc), enc
            except UnicodeDecodeError:
                break
    try:
        text, enc = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes  # lazy: only for non-UTF-8 files

        best = from_bytes(raw).best()
        if best is None or not best.encoding:
            raise _Unreadable("cannot decode: not UTF-8 and no text encoding detected") from None
        text, enc = str(best), best.encoding
    # NULs or many control characters mean a binary file that happened to decode.
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\n\r\t")
    if "\x00" in text or controls > max(8, len(text) // 100):
        raise _Unreadable("looks like a binary file, not text")
    return text, enc


_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_MD_REFDEF_RE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_MD_EMPHASIS = (
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?![\w])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])"), r"\1"),
)


def _md_inline(text: str) -> str:
    text = _MD_IMAGE_RE.sub("", text)
    text = _MD_LINK_RE.sub(lambda m: m.group(1) or m.group(2), text)
    for pattern, repl in _MD_EMPHASIS:
        text = pattern.sub(repl, text)
    return text.strip()


def _markdown_to_text(md: str) -> tuple[str, str | None, _Meta]:
    """Strip Markdown syntax; return (plain text, first ``#`` heading, front-matter metadata)."""
    md = clean_unicode(md)
    lines = md.split("\n")
    meta = _Meta()
    front: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        for k in range(1, min(len(lines), 60)):
            if lines[k].strip() in ("---", "..."):
                for entry in lines[1:k]:
                    key, sep, value = entry.partition(":")
                    if sep:
                        front[key.strip().lower()] = value.strip().strip("\"'")
                lines = lines[k + 1 :]
                break
    meta.take(_parse_date_value(front.get("date")), front.get("source") or front.get("site"), front.get("author"))

    title: str | None = front.get("title") or None
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for line in lines:
        stripped = line.strip()
        if re.match(r"^(```|~~~)", stripped):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            paragraphs.append(stripped)
            continue
        if not stripped or _MD_REFDEF_RE.match(line) or re.fullmatch(r"(?:[-*_]\s*){3,}", stripped):
            flush()
            continue
        if re.fullmatch(r"=+|-+", stripped) and current:
            # Setext heading underline: the previous line was a heading.
            setext = _md_inline(" ".join(current))
            current.clear()
            if title is None and stripped.startswith("="):
                title = setext
            else:
                paragraphs.append(setext)
            continue
        if re.fullmatch(r"\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?", stripped):
            continue  # table separator row
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", stripped)
        if heading:
            flush()
            text = _md_inline(heading.group(2))
            if title is None and heading.group(1) == "#":
                title = text
            elif text:
                paragraphs.append(text)
            continue
        while stripped.startswith(">"):
            stripped = stripped[1:].strip()
        item = re.match(r"^(?:[-*+]|\d{1,3}[.)])\s+(.*)$", stripped)
        if item:
            flush()
            paragraphs.append(_md_inline(item.group(1)))
            continue
        text = _md_inline(stripped.strip("|").replace(" | ", " "))
        if text:
            current.append(text)
    flush()
    return "\n\n".join(p for p in paragraphs if p), title, meta


# Page furniture that is never article text.
_HTML_DROP = [
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "figure", "figcaption",
    "iframe", "svg", "template", "button", "select", "input", "textarea", "object", "embed", "canvas",
    "video", "audio", "map", "dialog", "menu",
]  # fmt: skip
_HTML_BLOCKS = frozenset(
    "p div section article main h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre table thead tbody "
    "tfoot tr caption address hr center details summary".split()
)


def _html_to_text(html: str) -> tuple[str, str | None, _Meta]:
    """Parse HTML; return (block-structured text of the article, title, metadata from meta tags)."""
    from selectolax.lexbor import LexborHTMLParser  # lazy: only when HTML files are ingested

    tree = LexborHTMLParser(html)
    meta = _Meta()

    def attr(selector: str, name: str) -> str | None:
        node = tree.css_first(selector)
        value = node.attributes.get(name) if node is not None else None
        return value.strip() if value and value.strip() else None

    meta.take(
        date=_parse_date_value(
            attr('meta[property="article:published_time"]', "content")
            or attr('meta[name="date"]', "content")
            or attr("time[datetime]", "datetime")
        ),
        source=attr('meta[property="og:site_name"]', "content"),
        author=attr('meta[name="author"]', "content"),
    )

    # The article's <h1>, taken before <header> (which often wraps it) is dropped.
    title: str | None = None
    for selector in ("article h1", "main h1", "h1", "title"):
        node = tree.css_first(selector)
        text = " ".join(node.text().split()) if node is not None else ""
        if text:
            title = _strip_site_suffix(text, meta.source) if selector == "title" else text
            break

    tree.strip_tags(_HTML_DROP, recursive=True)
    # Listing pages wrap teaser cards in <article> too: the real article is the one with most text.
    candidates = tree.css("article") or tree.css("main")
    root = max(candidates, key=lambda n: len(n.text())) if candidates else tree.body
    if root is None:
        return "", title, meta

    parts: list[str] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative walk: scraped pages can nest deeper than Python's recursion limit
        node, closing = stack.pop()
        if closing:
            parts.append("\n")
            continue
        if node.is_text_node:
            in_pre = any(p.tag == "pre" for p in _ancestors(node))
            text = node.text_content or ""
            parts.append(text if in_pre else re.sub(r"[ \t\r\n\f]+", " ", text))
            continue
        if not node.is_element_node:
            continue
        if node.tag == "br":
            parts.append("\n")
            continue
        if node.tag in _HTML_BLOCKS:
            parts.append("\n")
            stack.append((node, True))
        elif node.tag in ("td", "th"):
            parts.append(" ")  # table cells render apart even without whitespace between them
        stack.extend((child, False) for child in reversed(list(node.iter(include_text=True))))
    text = "\n".join(line.strip() for line in "".join(parts).split("\n"))
    return re.sub(r"\n{2,}", "\n\n", text).strip(), title, meta


def _strip_site_suffix(title: str, site: str | None) -> str:
    """ "Headline | Site" → "Headline": <title> usually appends the site name."""
    for sep in (" | ", " - ", " – ", " — ", " :: "):
        head, found, tail = title.rpartition(sep)
        if found and head and (tail.strip() == site or (sep == " | " and _words(tail) <= 4)):
            return head.strip()
    return title


def _ancestors(node: Any) -> Iterator[Any]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_jsonl(path: Path, raw: bytes) -> Iterator[Document | Skipped]:
    text, encoding = _decode(raw)
    utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "ascii")
    raw_lines = raw.split(b"\n") if utf8 else None
    seen: dict[str, int] = {}
    # Split on "\n" only: JSON strings may legally contain U+2028, which str.splitlines() splits on.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        where = str(path)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield Skipped(where, f"line {lineno}: expected a JSON object, got {type(record).__name__}")
            continue
        doc_id = record.get("id")
        if isinstance(doc_id, int | float) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id.strip():
            yield Skipped(where, f"line {lineno}: missing or empty 'id'")
            continue
        doc_id = doc_id.strip()
        body = record.get("text")
        if not isinstance(body, str) or not body.strip():
            yield Skipped(where, f"line {lineno}: missing or empty 'text' (id {doc_id!r})")
            continue
        if doc_id in seen:
            yield Skipped(where, f"line {lineno}: duplicate id {doc_id!r} (first on line {seen[doc_id]})")
            continue
        seen[doc_id] = lineno
        hints = _Meta()

        def field_str(name: str, _record: dict[str, Any] = record) -> str | None:
            value = _record.get(name)
            return (" ".join(clean_unicode(value).split()) or None) if isinstance(value, str) else None

        hints.take(_parse_date_value(record.get("date")), field_str("source"), field_str("author"))
        # The hash is of the line's own bytes (without its line break), so editing one record
        # re-indexes only that record. UTF-8 files are sliced directly; others re-encoded.
        if raw_lines is not None:
            line_bytes = raw_lines[lineno - 1].rstrip(b"\r")
        else:
            try:
                line_bytes = line.encode(encoding)
            except (UnicodeEncodeError, LookupError):
                line_bytes = line.encode("utf-8")
        try:
            yield _clean(
                body,
                doc_id=doc_id,
                title=field_str("title"),
                path=str(path),
                content_hash=_sha256(line_bytes),
                hints=hints,
            )
        except IngestError:
            yield Skipped(where, f"line {lineno}: no article text left after cleaning (id {doc_id!r})")


def _load_file(path: Path) -> Iterator[Document | Skipped]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(str(path), f"unsupported file type {suffix or '(none)'!r}; use {', '.join(SUPPORTED_SUFFIXES)}")
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        yield Skipped(str(path), f"cannot read file: {exc.strerror or exc}")
        return
    try:
        if suffix == ".jsonl":
            yield from _load_jsonl(path, raw)
            return
        text, _ = _decode(raw)
        hints: _Meta | None = None
        title: str | None = None
        if suffix == ".md":
            text, title, hints = _markdown_to_text(text)
        elif suffix in (".html", ".htm"):
            text, title, hints = _html_to_text(text)
        yield _clean(text, doc_id=path.name, title=title, path=str(path), content_hash=_sha256(raw), hints=hints)
    except _Unreadable as exc:
        yield Skipped(str(path), str(exc))
    except IngestError:
        yield Skipped(str(path), "no article text left after removing site boilerplate")


def _walk(folder: Path) -> list[Path]:
    """Supported, non-hidden files under ``folder``, recursively, sorted by path."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.as_posix())


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise IngestError(
                f"{path}: no such file or folder. Check the path, or pass a folder of articles "
                f"({', '.join(SUPPORTED_SUFFIXES)})."
            )
        files.extend(_walk(path) if path.is_dir() else [path])
    return files


def load_documents(paths: Sequence[str | Path]) -> tuple[list[Document], list[Skipped]]:
    """Load and clean every article under ``paths``; unreadable files are reported, not fatal."""
    if isinstance(paths, str | Path):
        paths = [paths]
    files = _expand(paths)
    documents: list[Document] = []
    skipped: list[Skipped] = []
    seen_files: set[Path] = set()
    seen_ids: dict[str, str] = {}
    for path in files:
        resolved = path.resolve()
        if resolved in seen_files:  # the same file reached twice (a folder and a file in it)
            continue
        seen_files.add(resolved)
        for item in _load_file(path):
            if isinstance(item, Skipped):
                skipped.append(item)
            elif item.doc_id in seen_ids:
                # Gold sets cite articles by doc_id, so two documents may never share one.
                skipped.append(
                    Skipped(
                        item.path, f"duplicate doc_id {item.doc_id!r} (already loaded from {seen_ids[item.doc_id]})"
                    )
                )
            else:
                seen_ids[item.doc_id] = item.path
                documents.append(item)
    if not documents:
        names = ", ".join(str(p) for p in paths)
        details = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise NoDocumentsError(
            f"No articles could be loaded from {names}. "
            + (f"Skipped {len(skipped)}: {details}{more}." if skipped else "")
            + f" Supported files: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    return documents, skipped
