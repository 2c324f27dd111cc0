"""Questions asked in another script (English, or English mixed with Arabic) over Arabic articles.

The keyword side reads Arabic words only; what it can still match across scripts are names,
which English spells by sound ("Lavrov" / "لافروف", "Idlib" / "إدلب"). Both spellings are
reduced to a consonant skeleton (vowels, weak letters and the Arabic article dropped, letters
that English and Arabic render alike merged), and a name matches an Arabic word with the same
skeleton. Other English words are looked up in a general English→Arabic glossary
(rag/data/glossary_en_ar.tsv, derived from word-frequency lists by the embedding model itself:
benchmarks/glossary.py; names of countries, cities, nationalities, months and days come first from
the Unicode CLDR: rag/data/glossary_en_ar_cldr.tsv, benchmarks/glossary_cldr.py), whose Arabic
renderings the keyword side and the answerer then read like Arabic words of the question. How
much of a question the keyword side can analyse decides how far hybrid fusion leans on the
cross-lingual model. Pure functions: no model, no index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .arabic import normalize_arabic

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a\u0660-\u0669\u0671-\u06d3]+")
# English function words and question words: capitalised at the start of a question, never names.
_ENGLISH_STOP = frozenset(
    "a an the of in on at to for from by with about and or but is are was were be been has have had do does did "
    "who whom whose what which when where why how many much long old that this these those it its his her their "
    "there than since according besides after before during between against into over under what's".split()
)
# Letters English and Arabic spellings of one name tend to swap are merged: p/b, v/f, q/k/c,
# j/g (ج is "j" in some names, "g" in Egyptian and many transliterations), th→t, sh→s, ch→ts.
_LATIN_DIGRAPHS = (
    ("sch", "s"),
    ("sh", "s"),
    ("ch", "ts"),
    ("th", "t"),
    ("kh", "k"),
    ("gh", "g"),
    ("ph", "f"),
    ("ck", "k"),
    ("qu", "k"),
    ("x", "ks"),
)
_LATIN_MAP = str.maketrans(
    {
        "p": "b",
        "v": "f",
        "q": "k",
        "c": "k",
        "j": "g",
        "w": "",
        "y": "",
        "h": "",
        "a": "",
        "e": "",
        "i": "",
        "o": "",
        "u": "",
        "'": "",
        "’": "",
        "-": "",
    }
)
_ARABIC_MAP = str.maketrans(
    {
        "ب": "b",
        "ت": "t",
        "ث": "t",
        "ج": "g",
        "ح": "",
        "خ": "k",
        "د": "d",
        "ذ": "d",
        "ر": "r",
        "ز": "z",
        "س": "s",
        "ش": "s",
        "ص": "s",
        "ض": "d",
        "ط": "t",
        "ظ": "z",
        "ع": "",
        "غ": "g",
        "ف": "f",
        "ق": "k",
        "ك": "k",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ه": "",
        "و": "",
        "ي": "",
        "ا": "",
        "ء": "",
        "پ": "b",
        "چ": "ts",
        "ڤ": "f",
        "گ": "g",
    }
)
# A name matched by skeleton counts as this much of an Arabic word the keyword side reads
# (set on the English seed questions: benchmarks/README.md, "Questions in English").
NAME_WORTH = 1.0
# A word read through the glossary counts half: its renderings are right most of the time, not
# always (benchmarks/README.md, "Questions in English": 0.5 / 0.75 / 1 compared).
GLOSSARY_WORTH = 0.5
# The names' share of the keyword evidence when BM25 also matched something (0.3 / 0.5 / 0.7 compared).
NAME_SHARE = 0.5
_ARTICLE = re.compile("^(?:[وفبك]?ال|لل)(?=..)")


@lru_cache(maxsize=100_000)
def arabic_skeleton(word: str) -> str:
    """The consonant skeleton of an Arabic word, without its article: "الكرملين" → "krmln"."""
    w = _ARTICLE.sub("", normalize_arabic(word))
    return w.translate(_ARABIC_MAP)


@lru_cache(maxsize=10_000)
def latin_skeleton(word: str) -> str:
    """The consonant skeleton of a Latin-script name: "Kremlin" → "krmln", "Sochi" → "sts"."""
    w = word.lower()
    for a, b in _LATIN_DIGRAPHS:
        w = w.replace(a, b)
    w = re.sub(r"(.)\1", r"\1", w)  # doubled letters are one sound ("Assad")
    w = re.sub(r"'s$|’s$", "", w)
    return w.translate(_LATIN_MAP)


def latin_names(question: str) -> list[str]:
    """Skeletons of the capitalised non-function words of a question (the names it holds)."""
    out = []
    for m in _LATIN_WORD.finditer(question):
        word = re.sub(r"['’]s$", "", m.group(0))
        if word[0].isupper() and word.lower() not in _ENGLISH_STOP:
            skel = latin_skeleton(word)
            if len(skel) >= 2:
                out.append(skel)
    return list(dict.fromkeys(out))


def skeletons_match(name: str, arabic: str) -> bool:
    """Same skeleton, or one extends the other by endings ("Turkish" trks / "تركيا" trk) past 3 letters."""
    if name == arabic:
        return True
    return min(len(name), len(arabic)) >= 3 and (arabic.startswith(name) or name.startswith(arabic))


def _word_counts(question: str) -> tuple[int, int]:
    """The question's Arabic words and its English content words (function words left out)."""
    arabic = len(_ARABIC_WORD.findall(question))
    latin = sum(1 for m in _LATIN_WORD.finditer(question) if m.group(0).lower() not in _ENGLISH_STOP)
    return arabic, latin


def keyword_share(question: str) -> float:
    """Share of the question's content words the keyword side can match: Arabic words, and names
    in Latin script (matched by skeleton); 1 for an Arabic question."""
    arabic, latin = _word_counts(question)
    if latin == 0:
        return 1.0
    read = NAME_WORTH * len(latin_names(question)) + GLOSSARY_WORTH * len(translated_terms(question))
    return min(1.0, (arabic + read) / (arabic + latin))


def arabic_share(question: str) -> float:
    """Arabic words / (Arabic words + English content words) of the question; 1 with no English content word."""
    arabic, latin = _word_counts(question)
    return 1.0 if latin == 0 else arabic / (arabic + latin)


def fusion_weight(question: str, weight: float) -> float:
    """The dense side's share in hybrid fusion: ``weight`` for an Arabic question, rising to 1 as
    less of the question is Arabic (BM25 cannot score words it cannot analyse)."""
    return 1.0 - (1.0 - weight) * keyword_share(question)


def with_names(bm25: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Keyword evidence of candidates from BM25 scores and name matches: the names alone when BM25
    matched nothing, else both min-max scaled and mixed (NAME_SHARE)."""
    if not names.any():
        return bm25
    if not bm25.any():
        return names
    from .retrieve import _minmax  # the scaling hybrid fusion uses

    return (1 - NAME_SHARE) * _minmax(bm25) + NAME_SHARE * _minmax(names)


def name_scores(question: str, texts: Sequence[str]) -> list[float]:
    """Per text: how many of the question's names (by skeleton) it holds, rarer names weighing more."""
    names = latin_names(question)
    if not names:
        return [0.0] * len(texts)
    skels = [{arabic_skeleton(w) for w in _ARABIC_WORD.findall(t)} for t in texts]
    found = [[any(skeletons_match(n, s) for s in sk) for n in names] for sk in skels]
    import math

    df = [sum(f[i] for f in found) for i in range(len(names))]
    weight = [math.log(1 + len(texts) / (1 + d)) for d in df]
    return [sum(w for w, hit in zip(weight, f, strict=True) if hit) for f in found]


_GLOSSARY = Path(__file__).with_name("data") / "glossary_en_ar.tsv"
# Names the Unicode CLDR translates (countries, cities, languages/nationalities, months, days, currencies;
# benchmarks/glossary_cldr.py): read first, they replace the generated renderings of those words.
_GLOSSARY_CLDR = Path(__file__).with_name("data") / "glossary_en_ar_cldr.tsv"
# English inflections tried when a word is not in the glossary as written ("soldiers" → "soldier").
_SUFFIXES = (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"))


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    """English word → its Arabic renderings, best first (read once, on the first English question)."""
    out: dict[str, tuple[str, ...]] = {}
    for path in (_GLOSSARY_CLDR, _GLOSSARY):
        for line in path.read_text("utf-8").splitlines():
            if line.startswith("#"):
                continue
            word, _, forms = line.partition("\t")
            if forms and word not in out:
                out[word] = tuple(forms.split())
    return out


def lookup(word: str) -> tuple[str, ...]:
    """The Arabic renderings of one English word, trying its base form if needed; () if unknown."""
    g = glossary()
    w = word.lower()
    if w in g:
        return g[w]
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and (w[: -len(suffix)] + repl) in g:
            return g[w[: -len(suffix)] + repl]
    return ()


@lru_cache(maxsize=4096)
def translated_words(question: str) -> tuple[tuple[str, ...], ...]:
    """Per English content word of the question the glossary knows, its Arabic renderings."""
    out = []
    for m in _LATIN_WORD.finditer(question):
        word = re.sub(r"['’]s$", "", m.group(0))
        if word.lower() in _ENGLISH_STOP:
            continue
        forms = lookup(word)
        if forms:
            out.append(forms)
    return tuple(out)


@lru_cache(maxsize=4096)
def translated_terms(question: str) -> tuple[tuple[str, ...], ...]:
    """Per English word the glossary knows: the keyword terms of its Arabic renderings (an
    alternation: the keyword side counts the best of them once)."""
    from .arabic import analyze

    out = []
    for forms in translated_words(question):
        terms = tuple(dict.fromkeys(t for f in forms for t in analyze(f)))
        if terms:
            out.append(terms)
    return tuple(out)


@lru_cache(maxsize=4096)
def english_keys(question: str) -> tuple[frozenset[str], ...]:
    """Per English content word that can be read across scripts, the keys an Arabic text may hold
    it by: a name's skeleton ("~krmln") and the keyword terms of its glossary renderings. One
    word, one key, so a name the glossary also knows ("Japan") counts once, found either way."""
    from .arabic import analyze

    out = []
    for m in _LATIN_WORD.finditer(question):
        word = re.sub(r"['’]s$", "", m.group(0))
        if word.lower() in _ENGLISH_STOP:
            continue
        keys = {t for form in lookup(word) for t in analyze(form)}
        skel = latin_skeleton(word)
        if word[0].isupper() and len(skel) >= 2:
            keys.add("~" + skel)
        if keys:
            out.append(frozenset(keys))
    return tuple(dict.fromkeys(out))
