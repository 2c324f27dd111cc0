"""Article metadata from scraped text: dates (Arabic month names of every region), bylines, sources."""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

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


def date_matches(text: str) -> Iterator[tuple[int, int, str]]:
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


def find_date(text: str) -> str | None:
    """The earliest full date (day, month, year) in ``text`` as ISO ``YYYY-MM-DD``."""
    found = sorted(date_matches(text))
    return found[0][2] if found else None


def parse_date_value(value: object) -> str | None:
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
    return find_date(value)


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
def stamp_leftover(line: str) -> tuple[int, bool]:
    """Words left after removing dates, times, weekdays and view counters; and whether any matched."""
    text = line.translate(_DIGITS)
    spans = [(s, e) for s, e, _ in date_matches(text)]
    spans += [m.span() for r in (_TIME_RE, _VIEWS_RE, _RELATIVE_TIME_RE) for m in r.finditer(text)]
    if not spans:
        return len(line.split()), False
    chars = list(text)
    for s, e in spans:
        chars[s:e] = [" "] * (e - s)
    rest = _STAMP_WORDS_RE.sub(" ", "".join(chars))
    return len([w for w in _STAMP_PUNCT_RE.split(rest) if w]), True


def is_stamp_line(line: str) -> bool:
    """A line that is only a publication stamp: date/time/weekday/view counter, nothing else."""
    if re.search(r"[.!?؟][\"'”»)]*$", line):
        return False  # a full stop ends a sentence that mentions a date, never a stamp
    leftover, matched = stamp_leftover(line)
    # Up to two other words allow a place name ("موسكو – 12 آذار 2020"); prose has many more.
    return matched and leftover <= 2


# "View on Almaghribtoday.net": syndication footers naming the publishing site.
_VIEW_ON_RE = re.compile(r"^(?:view|read|published|originally published)\s+(?:on|at)\s+(?P<src>\S+)$", re.I)
# "المصدر | الخليج الجديد + وكالات", "المصدر: رويترز". "مصدر الصورة" has no separator: not matched.
_SOURCE_RE = re.compile(r"^(?:ال)?مصدر(?:\s+الخبر)?\s*[:：|\-–—]\s*(?P<src>.+)$|^source\s*[:：|]\s*(?P<src2>.+)$", re.I)

# Agencies named in datelines ("موسكو - رويترز"): these are sources, not authors.
AGENCIES = frozenset(
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
# Anadolu-style "ريزة/ جلال فواز/ الأناضول" or "إسطنبول/ الأناضول": place, optional name, agency.
_SLASH_BYLINE_RE = re.compile(
    r"^(?P<place>[^\W\d_]+(?:\s[^\W\d_]+)?)\s*/\s*(?:(?P<name>[^\W\d_]+(?:\s[^\W\d_]+){1,3})\s*/\s*)?"
    r"(?P<agency>[^\W\d_]+(?:\s[^\W\d_]+){0,2})$"
)
_BY_PREFIX_RE = re.compile(
    r"^(?:بقلم|كتب|كتبت|كتبه|إعداد|اعداد|تحرير|تقرير|by)\s*[:：\-–—]?\s*(?P<name>[^\W\d_]+(?:\s[^\W\d_]+){1,3})$",
    re.IGNORECASE,
)

# Section labels ("اخبار عالمية", "رياضة"): never a person's name.
SECTION_WORDS = frozenset(
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
_NOT_NAME_WORDS = _FUNCTION_WORDS | SECTION_WORDS | _ORG_WORDS

FINAL_PUNCT_RE = re.compile(r"[.!?؟:؛][\s\"'”’»)\]]*$")
ELLIPSIS_RE = re.compile(r"(?:…|\.{2,})[\s\"'”’»)\]]*$")


def word_count(line: str) -> int:
    return len(line.split())


def source_from(line: str) -> str | None:
    """The site/agency named by a source line, or None if the line is not one."""
    m = _VIEW_ON_RE.match(line)
    if m:
        return m.group("src").rstrip(".")
    m = _SOURCE_RE.match(line)
    src = (m.group("src") or m.group("src2") or "").strip() if m else ""
    # A source line names an outlet in a few words; "المصدر: إن الهجوم ..." would be prose.
    if not src or word_count(src) > 6 or FINAL_PUNCT_RE.search(src):
        return None
    # "الخليج الجديد + وكالات": keep the named outlet; "+ وكالات" (wire agencies) names no one.
    first = re.split(r"\s*\+\s*|\s*[،,]\s*|\s+و\s*وكالات$", src)[0].strip(" .-–—|")
    return first or src or None


def byline(line: str) -> tuple[str | None, str | None] | None:
    """(author, agency) from a byline line, or None if the line is not a byline."""
    m = _BY_PREFIX_RE.match(line)
    if m:
        return m.group("name"), None
    m = _SLASH_BYLINE_RE.match(line)
    if m and m.group("agency").lower() in AGENCIES:
        name = m.group("name")
        return (as_author_name(name) if name else None), m.group("agency")
    m = _DATELINE_BYLINE_RE.match(line)
    if not m:
        return None
    name = m.group("name").strip()
    if name.lower() in AGENCIES:
        return None, name
    if as_author_name(name):
        return name, None
    return None


def as_author_name(line: str) -> str | None:
    """A standalone name line ("سامي الشمراني"): 2-4 letter-only words, no function/section words."""
    words = line.split()
    if not 2 <= len(words) <= 4:
        return None
    if not all(re.fullmatch(r"[^\W\d_]+", w) for w in words):
        return None
    if any(w.lower() in _NOT_NAME_WORDS for w in words):
        return None
    return line


def agency_line(line: str) -> str | None:
    """A header line that only names a wire agency ("رويترز", "وكالة الأناضول")."""
    if line.lower() in AGENCIES or (line.startswith("وكالة ") and word_count(line) <= 4):
        return line
    return None


@dataclass
class Meta:
    """Metadata found so far; structured sources (jsonl fields, HTML meta) are filled in first."""

    date: str | None = None
    source: str | None = None
    author: str | None = None
    stamp_dates: list[str] = field(default_factory=list)

    def take(self, date: str | None = None, source: str | None = None, author: str | None = None) -> None:
        self.date = self.date or date
        self.source = self.source or source
        self.author = self.author or author


def title_from_lead(paragraph: str, limit: int = 90) -> str:
    """A stand-in title from the lead sentence, for articles scraped without their headline."""
    sentence = re.split(r"(?<=[.!?؟])\s", paragraph, maxsplit=1)[0].rstrip(".!?؟ ")
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0].rstrip("،, ")
    return cut + "…"


def dateline(lead: str) -> tuple[str | None, str | None]:
    """(date, agency) of a dateline opening the lead: "بيروت، 12 آذار 2020 (رويترز) - قال ..."."""
    head = re.split(r"\s[-–—]\s|\)\s*[-–—]", lead[:100], maxsplit=1)
    if len(head) != 2 or stamp_leftover(head[0])[0] > 3:
        return None, None
    agency = re.search(r"\(([^()]{1,25})\)?\s*$", head[0])
    source = agency.group(1).strip() if agency and agency.group(1).strip().lower() in AGENCIES else None
    found = sorted(date_matches(head[0]))
    # "(11 ديسمبر 1911 - 30 أغسطس 2006)" after a name is a lifespan, not a dateline.
    if not found or "(" in head[0][: found[0][0]]:
        return None, source
    return found[0][2], source
