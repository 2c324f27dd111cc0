"""Arabic text handling for *matching*: normalisation, sentence spans, keyword terms.

Nothing here changes the text shown or quoted to users: every function either returns
a normalised copy for comparison or character spans into the original string.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Harakat, tanween, shadda, sukun, dagger alef and Quranic marks: readers omit them in
# news text, so a question with or without them must match the same words.
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_CHAR_MAP = str.maketrans(
    {
        # Hamza-carrying alef forms are written inconsistently ("إدلب" / "ادلب").
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        # Final yaa / alef maqsura and taa marbuta / haa are swapped in everyday spelling.
        "ى": "ي",
        "ة": "ه",
        # Hamza on waw / yaa seats vary between writers ("مسؤول" / "مسئول").
        "ؤ": "و",
        "ئ": "ي",
        # Persian letters that show up in Arabic web text.
        "ک": "ك",
        "ی": "ي",
        # Arabic-Indic and Eastern Arabic-Indic digits match Western digits.
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        # Arabic punctuation → Latin, so one punctuation rule serves both.
        "،": ",",
        "؛": ";",
        "؟": "?",
        "٪": "%",
        "٫": ".",
    }
)


def normalize_arabic(text: str) -> str:
    """Return a matching key: no diacritics/tatweel, unified alef/yaa/taa marbuta, Western digits, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    return text.translate(_CHAR_MAP).lower()


# A sentence ends at . ! ? ؟ ؛ (optionally followed by closing quotes/brackets) or a line break.
# A full stop between two digits ("3.6") or inside an abbreviation/URL ("Almaghribtoday.net")
# is not a sentence end, hence the look-arounds.
_SENTENCE_END = re.compile(r"""(?:(?<!\d)\.(?!\w)|(?<=\d)\.(?!\d)|[!?؟…])["'”’»)\]]*(?=\s|$)|\n+""")
# Clause boundaries inside a long Arabic sentence: commas, and the Arabic semicolon, which
# in news prose joins a cause to its effect ("قصفت …؛ ما أسفر عن مقتل …") within one sentence.
_CLAUSE_END = re.compile(r"[،,;:؛](?=\s)")


def _spans(text: str, pattern: re.Pattern[str], start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in pattern.finditer(text, start, end):
        stop = m.end() if m.group(0)[0] != "\n" else m.start()
        spans.append((pos, stop))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text[start:end]`` (Arabic and Latin punctuation, line breaks)."""
    return _spans(text, _SENTENCE_END, start, end)


def split_clauses(text: str, start: int, end: int, min_chars: int = 40) -> list[tuple[int, int]]:
    """Split one long sentence span at commas (، ,) into clause spans of at least ``min_chars``."""
    raw = _spans(text, _CLAUSE_END, start, end)
    merged: list[tuple[int, int]] = []
    for a, b in raw:
        # A tiny clause ("وعلى رأسها الطاقة") finishes the thought before it; only a tiny
        # opening clause ("وأوضح،") is glued to the one after it.
        if merged and ((b - a) < min_chars or (merged[-1][1] - merged[-1][0]) < min_chars):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


_WORD = re.compile(r"[\w%]+(?:[.,]\d+)*", re.UNICODE)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Arabic function words, normalised, including their clitic-attached forms (from `arabic-stopwords`)."""
    from arabicstopwords import arabicstopwords as asw  # small pure-Python list, loaded on first use

    words = {stop_key(w) for w in asw.stopwords_list()}
    # Interrogatives: they shape the question but never appear in the answer sentence.
    words |= {stop_key(w) for w in _QUESTION_WORDS}
    return frozenset(words)


_ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})


def stop_key(word: str) -> str:
    """The form a word is looked up in the stopword list by: no diacritics, one alef.

    Lighter than normalize_arabic on purpose: with ة→ه and ى→ي too, content words collide
    with function words ("آلية" mechanism → "اليه" like "إليه" to him; "علي" Ali like "على").
    """
    return _DIACRITICS.sub("", word).replace(_TATWEEL, "").translate(_ALEFS).lower()


_QUESTION_WORDS = (
    "ما",
    "ماذا",
    "من",
    "متى",
    "أين",
    "كيف",
    "كم",
    "لماذا",
    "هل",
    "أي",
    "أية",
    "اي",
    "وما",
    "فما",
    "الذي",
    "التي",
    "الذين",
    "اللذان",
    "اللتان",
    "اللتين",
    "اللذين",
    "هو",
    "هي",
    "هم",
    # A dangling article (typed questions often end in a stray "ال") is no word at all.
    "ال",
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:  # type: ignore[name-defined]  # noqa: F821
    import Stemmer  # PyStemmer: Snowball's Arabic stemmer compiled to C

    return Stemmer.Stemmer("arabic")


_PRE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


_CONJ_ARTICLE = re.compile("^[وف](?=(?:ال|بال|كال|لل)...)")
# و/ف glued to a word without the article ("ورئيس", "فقال") cannot be stripped blindly:
# they are also root letters ("وزير", "فريق"). For matching we keep both readings.
_CONJ = re.compile("^[وف](?=....)")


# The cardinal directions are adverbs to arabic-stopwords ("شمال المدينة"), yet they are what a
# geography question asks about ("ما الدولة التي تقع شمال لبنان؟") and the sentence that answers
# holds ("ومن الشمال لبنان"); the answerer reads them (keyword retrieval does not: its index would
# have to be rebuilt). ARCD contains +0.004 (benchmarks/README.md: the quoted sentence).
_DIRECTIONS = ("شمال", "جنوب", "شرق", "غرب")


@lru_cache(maxsize=1)
def _answer_stopwords() -> frozenset[str]:
    return frozenset(w for w in stopwords() if not any(d in w for d in _DIRECTIONS))


def kept_words(text: str, *, answering: bool = False) -> list[str]:
    """The content words of ``text`` as written (lower case, no diacritics): what analyze_words analyses.

    ``answering``: as the answerer reads them (the cardinal directions count as content words).
    """
    stop = _answer_stopwords() if answering else stopwords()
    out = []
    for raw in _WORD.findall(_PRE.sub("", unicodedata.normalize("NFKC", text)).lower()):
        key = normalize_arabic(raw)
        if stop_key(raw) in stop or key == "_" or (len(key) < 2 and not key.isdigit()):
            continue
        out.append(raw)
    return out


def analyze_words(text: str, *, answering: bool = False) -> list[tuple[str, ...]]:
    """Per content word, in order: its keyword term, plus the term without a leading و/ف when ambiguous.

    ``answering``: the words the answerer reads (kept_words).
    """
    snowball = _stemmer().stemWord

    def stem(word: str) -> str:
        return snowball(word).replace("ءا", "ا")

    out: list[tuple[str, ...]] = []
    for raw in kept_words(text, answering=answering):
        key = normalize_arabic(raw)
        if key[0].isdigit():
            out.append((key,))
            continue
        # آ is hamza + alef. Spelled out, Snowball no longer takes the "ال" of "آلية" for the
        # article (it gave "الآلية" → الال but "آلية" → ال); the hamza is dropped from the stem
        # again below, so "آسيا" and the common unmarked "اسيا" still meet.
        raw = raw.replace("آ", "ءا")
        # Snowball leaves a conjunction in front of the article ("والرئيس" → "والرييس"), and
        # news prose starts most clauses with one: drop و/ف when ال/بال/لل follows.
        if _CONJ_ARTICLE.match(raw):
            out.append((normalize_arabic(stem(raw[1:])),))
        elif _CONJ.match(raw):
            main, alt = normalize_arabic(stem(raw)), normalize_arabic(stem(raw[1:]))
            out.append((main, alt) if alt != main else (main,))
        else:
            out.append((normalize_arabic(stem(raw)),))
    return out


_LONG_VOWELS = re.compile("[اويى]")


@lru_cache(maxsize=100_000)
def loose_stem(stem: str) -> str:
    """The form two stems of one word family are compared in when they differ only in their inner
    long vowels or the imperfect prefix: "اقليم"/"اقاليم" → اقلم, "انتشر"/"انتشار" → انتشر,
    "تتركز"/"يتركز" → يتركز (ت read as ي). Only for matching a question's words
    against a sentence's (rag/answerer): Arabic derives related words by inner vowels, which
    Snowball keeps. Stems under four letters and figures are left as they are.
    """
    if len(stem) < 4 or not "\u0621" <= stem[0] <= "\u064a":
        return stem
    if stem[0] == "ت":
        stem = "ي" + stem[1:]
    loose = stem[0] + _LONG_VOWELS.sub("", stem[1:])
    return loose if len(loose) >= 3 else stem


def analyze(text: str) -> list[str]:
    """Keyword terms: tokens minus stopwords, Snowball-stemmed, then normalised.

    Snowball's Arabic stemmer strips clitics (و ف ب ل ك + ال) and suffixes itself and
    expects real spelling: it would not strip a taa marbuta already rewritten to haa, so
    we stem first and normalise the stem afterwards.
    """
    return [w[0] for w in analyze_words(text)]
