"""Boilerplate removal: Unicode hygiene, line classification, and the article cleaner.

Scraped Arabic news pages carry a lot besides the article: breadcrumbs, view counters, date stamps,
image credits, "related news" headline lists, share widgets and comment forms. Everything here is a
general heuristic for such pages; nothing matches a particular site's exact strings. Cleaning only
ever *drops* whole lines: every paragraph of ``Document.text`` is a line of the Unicode-cleaned input,
so quotes and character offsets taken from the text are exact article sentences.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.errors import IngestError
from rag.types import Document

from .metadata import (
    ELLIPSIS_RE,
    FINAL_PUNCT_RE,
    SECTION_WORDS,
    Meta,
    agency_line,
    as_author_name,
    byline,
    dateline,
    find_date,
    is_stamp_line,
    source_from,
    title_from_lead,
    word_count,
)

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


# Breadcrumbs: "الرئيسية » أخبار السياسة", "Home > World > Middle East".
_HOME_WORDS = r"(?:الرئيسية|الرئيسيه|الصفحة الرئيسية|الرئيسة|home|homepage|accueil)"
_CRUMB_SEP = r"[»›>«‹<|/]"
_CRUMB_START_RE = re.compile(rf"^{_HOME_WORDS}\s*{_CRUMB_SEP}", re.IGNORECASE)

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


def _is_sentence(line: str) -> bool:
    """Whether a line reads like article prose rather than a label, headline or menu item."""
    n = word_count(line)
    if ELLIPSIS_RE.search(line):
        # Headline widgets truncate with "…"; a long paragraph may still trail off that way.
        return n > 20
    if FINAL_PUNCT_RE.search(line):
        return n >= 4
    # Some articles end a paragraph without a full stop (001's last paragraph); length decides.
    return n >= 15


def _is_crumb(line: str) -> bool:
    if _CRUMB_START_RE.match(line):
        return True
    # Two or more spaced "»"/"›" separators between short segments: a trail without "Home". A "«"
    # means Arabic quotation marks («...»), which prose uses all the time.
    if "«" in line or "‹" in line or FINAL_PUNCT_RE.search(line):
        return False
    parts = re.split(r"\s+[»›]\s+", line)
    if len(parts) >= 3 and all(0 < word_count(p) <= 5 for p in parts):
        return True
    # A row of links ("طباعة الخبر | أرسل لصديق | عودة للصفحة الرئيسية"): three or more short items.
    items = re.split(r"\s+\|\s+", line)
    return len(items) >= 3 and all(0 < word_count(p) <= 3 for p in items)


def _is_caption(line: str) -> bool:
    if _CAPTION_LABEL_RE.match(line):
        return True
    if _CAPTION_WORD_RE.match(line) and word_count(line) <= 12 and not FINAL_PUNCT_RE.search(line):
        return True
    # "(صورة أرشيفية)", "(Reuters)": a short parenthesised line.
    return bool(re.fullmatch(r"[(\[].{1,60}[)\]]", line)) and word_count(line) <= 6


def _is_glued_headline(line: str) -> bool:
    return bool(_GLUED_RE.match(line) or _FILENAME_RE.search(line))


def _is_social(line: str) -> bool:
    tokens = [t for t in re.split(r"[\s|،,/·•]+", line.lower()) if t]
    return bool(tokens) and len(tokens) <= 10 and all(t in _SOCIAL_WORDS for t in tokens)


def is_end_marker(line: str) -> bool:
    core = line.strip(_MARKER_TRIM)
    # Section labels are short and never end like a sentence ("شارك الآلاف في المظاهرة." is prose).
    if not core or word_count(core) > 6 or FINAL_PUNCT_RE.search(core) or ELLIPSIS_RE.search(core):
        return False
    return bool(_END_MARKER_RE.match(core))


def _is_section_label(line: str) -> bool:
    """A site section or flag ("عاجل", "اخبار عالمية"), not a headline."""
    words = line.lower().split()
    return 0 < len(words) <= 3 and all(w in SECTION_WORDS or w.removeprefix("و") in SECTION_WORDS for w in words)


def _key(line: str) -> str:
    """Comparison key that ignores punctuation and spacing (title repeats differ in both)."""
    return re.sub(r"[\W_]+", "", line).lower()


# ---------------------------------------------------------------------------------------------
# Article cleaning
# ---------------------------------------------------------------------------------------------
def _metadata_line(line: str, meta: Meta) -> bool:
    """Consume a line that is site furniture anywhere in a page, recording its metadata."""
    if _is_crumb(line) or _is_caption(line) or _is_social(line) or _is_glued_headline(line):
        return True
    if (_TEASER_RE.match(line) and word_count(line) <= 25) or _COMMENT_FORM_RE.search(line):
        return True
    src = source_from(line)
    if src:
        meta.take(source=src)
        return True
    if is_stamp_line(line):
        date = find_date(line)
        if date:
            meta.stamp_dates.append(date)
        return True
    return False


def _drop_headline_runs(lines: list[str]) -> list[str]:
    """Remove runs of headline-like lines (lists of links to other stories) from the body."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and not _is_sentence(lines[j]) and word_count(lines[j]) <= 15:
            j += 1
        run = lines[i:j]
        # Two or more short lines where one is visibly truncated ("…") or glued to an image name,
        # or four short unpunctuated lines in a row: a headline list, not prose.
        strong = any(ELLIPSIS_RE.search(x) or _is_glued_headline(x) for x in run)
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


@dataclass(frozen=True)
class CleanReport:
    """How much of a file's text the cleaner kept, and where the dropped text was."""

    input_chars: int
    kept_chars: int
    header_chars: int  # before the first line of prose (menus, crumbs, headline lists)
    tail_chars: int  # from the end-of-article marker on (related news, tags, comments)
    end_marker: str | None

    def notice(self, min_chars: int = 1500, min_share: float = 0.5) -> str | None:
        """A sentence for the user when most of a sizeable file was dropped (None otherwise)."""
        if self.input_chars < min_chars or self.kept_chars >= min_share * self.input_chars:
            return None
        share = 100 * self.kept_chars / self.input_chars
        rest = self.input_chars - self.kept_chars - self.header_chars - self.tail_chars
        head = f"kept only {share:.0f}% of the text ({self.kept_chars:,} of {self.input_chars:,} characters)"
        if self.tail_chars >= max(self.header_chars, rest):
            why = (
                f"the {self.tail_chars:,} characters from the line «{self.end_marker}» on were taken for the "
                "site's end-of-article section (related news, tags, comments)"
            )
        elif self.header_chars >= rest:
            why = (
                f"the {self.header_chars:,} characters before the first paragraph of prose were taken for "
                "the page header (menus, headline lists)"
            )
        else:
            why = f"{rest:,} characters of short lines without sentence punctuation were taken for menus and lists"
        return f"{head}: {why}. Check the file if the article is longer"


def clean_document(
    raw: str,
    *,
    doc_id: str,
    title: str | None,
    path: str,
    content_hash: str,
    hints: Meta | None = None,
) -> Document:
    """Turn an article's text (any format, already converted to lines) into a clean Document."""
    return clean_with_report(raw, doc_id=doc_id, title=title, path=path, content_hash=content_hash, hints=hints)[0]


def clean_with_report(
    raw: str,
    *,
    doc_id: str,
    title: str | None,
    path: str,
    content_hash: str,
    hints: Meta | None = None,
) -> tuple[Document, CleanReport]:
    """``clean_document``, plus how much text was dropped and where (for the user's notice)."""
    meta = hints or Meta()
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
                _is_crumb(line) or _is_caption(line) or is_stamp_line(line) or is_end_marker(line)
                or _is_social(line) or _is_glued_headline(line) or source_from(line) is not None
                or byline(line) is not None or _COMMENT_FORM_RE.search(line) is not None
                or _is_section_label(line) or agency_line(line) is not None
            )  # fmt: skip
            if furniture:
                continue
            if word_count(line) <= 25 and not (_is_sentence(line) and line.endswith((".", "،"))):
                title, title_idx = line, i
            break
    title_key = _key(title) if title else None

    def repeats_title(line: str) -> bool:
        # The headline repeated in the body; a full sentence (final stop) that happens to read
        # like the title is the lead, and stays (so cleaning a cleaned article changes nothing).
        return _key(line) == title_key and not line.rstrip("\"'»”)").endswith((".", "!", "?", "؟"))

    # 2. Body start: first prose line after the title. Everything above it is the header.
    start = len(lines)
    for i in nonblank:
        if title_idx is not None and i <= title_idx:
            continue
        line = lines[i]
        if repeats_title(line) or is_end_marker(line) or _COMMENT_FORM_RE.search(line):
            continue
        if _is_caption(line) or _is_glued_headline(line) or is_stamp_line(line) or byline(line):
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
        by = byline(line)
        if by:
            meta.take(author=by[0], source=by[1])
        elif agency_line(line):
            meta.take(source=line)
        elif meta.author is None and _key(line) != title_key and not is_end_marker(line):
            meta.take(author=as_author_name(line))
    header_date = meta.stamp_dates[0] if meta.stamp_dates else None
    meta.stamp_dates.clear()

    # 4. Body: stop at the first end-of-article section; drop furniture lines in between.
    body: list[str] = []
    skipping_teaser = False
    end_at: int | None = None
    for n, line in enumerate(lines[start:], start=start):
        if not line:
            skipping_teaser = False
            continue
        if is_end_marker(line):
            if _TEASER_RE.match(line + ":") and body:
                # A bare "اقرأ أيضا" inside the article introduces one teaser block, not the footer.
                skipping_teaser = True
                continue
            end_at = n
            break
        if skipping_teaser and not _is_sentence(line):
            continue
        skipping_teaser = False
        if _metadata_line(line, meta) or (not body and repeats_title(line)):
            continue
        by = byline(line)
        if by and word_count(line) <= 6:
            meta.take(author=by[0], source=by[1])
            continue
        body.append(line)
    body = _drop_headline_runs(body)
    # Trailing labels ("اخبار عالمية", a lone name) that survived: short and unpunctuated.
    while body and word_count(body[-1]) <= 8 and (not FINAL_PUNCT_RE.search(body[-1]) or ELLIPSIS_RE.search(body[-1])):
        body.pop()
    if not body:
        raise IngestError(f"{path or doc_id}: no article text left after removing site boilerplate")

    # 5. Date: header stamp first, then a dateline at the head of the lead ("بيروت، 4 شباط 2020 -"),
    # then a standalone stamp line near the body. Never a date mentioned inside a sentence.
    dateline_date, agency = dateline(body[0])
    meta.take(source=agency)
    stamp_date = meta.stamp_dates[0] if meta.stamp_dates else None
    date = meta.date or header_date or dateline_date or stamp_date

    report = CleanReport(
        input_chars=sum(len(x) for x in lines),
        kept_chars=sum(len(x) for x in body),
        header_chars=sum(len(x) for x in lines[:start]),
        tail_chars=sum(len(x) for x in lines[end_at:]) if end_at is not None else 0,
        end_marker=lines[end_at][:40] if end_at is not None else None,
    )
    doc = Document(
        doc_id=doc_id,
        title=title or title_from_lead(body[0]),
        text="\n\n".join(body),
        path=path,
        date=date,
        source=meta.source,
        author=meta.author,
        content_hash=content_hash,
    )
    return doc, report


def clean_article(
    raw: str, *, doc_id: str, title: str | None = None, path: str = "", content_hash: str = ""
) -> Document:
    """Turn one plain-text article scrape into a Document with boilerplate removed and metadata."""
    return clean_document(raw, doc_id=doc_id, title=title, path=path, content_hash=content_hash)
