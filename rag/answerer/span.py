"""The short answer: the span of the quoted sentence that answers the question.

The question's form says what kind of answer it expects (a number with its unit for "كم", a
date for "متى", a place for "أين", a reason clause for "لماذا", …); the words that answer are
the ones of the sentence that are *not* in the question, next to the ones that are ("عاصمة
المغرب هي الرباط": the question's words locate the answer, the new words are it). So the
sentence is cut into runs of new words (between question words and punctuation), each run
is scored by how closely it touches the question's words and whether it holds the expected
kind of answer, and the best run, trimmed to the kind's usual length, is the short answer.
Pure functions over strings: no model, no index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..arabic import normalize_arabic

_Q = normalize_arabic


def _alt(words: str) -> str:
    """A regex alternation of space-separated words ("_" stands for a space inside one), normalised."""
    return "(?:" + "|".join(_Q(w.replace("_", " ")) for w in words.split()) + ")"


def _set(words: str) -> frozenset[str]:
    return frozenset(_Q(w.replace("_", " ")) for w in words.split())


# ---- what a question expects -----------------------------------------------------------------
# Checked in order on the normalised question (one alef, ى→ي, ة→ه); the first match wins.
# "في أي مدينة" asks for a place, "في أي عام" for a date, so "أي + noun" rules come first.
_WHICH = _alt("أي اي أية ايه")
_WHAT = r"^(?:ما|وما|في ما|فيما|كم)\s+(?:(?:هو|هي)\s+)?"
_KIND_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "date",
        re.compile(
            rf"(?:^|\s){_alt('متى منذ_متى')}(?:\s|$)|{_WHICH}\s+{_alt('عام سنة شهر يوم تاريخ قرن عصر فترة')}"
            rf"|{_WHAT}{_alt('تاريخ عام سنة يوم')}|\bwhen\b|what (?:year|date|day)|which (?:year|day|month)"
        ),
    ),
    (
        "number",
        re.compile(
            rf"(?:^|\s){_alt('كم بكم لكم')}(?:\s|$)"
            rf"|{_WHAT}{_alt('عدد نسبة حجم قيمة مقدار مساحة طول ارتفاع عمر سعر مدة مسافة عرض عمق وزن تعداد')}"
            r"|\bhow (?:many|much|long|old|far|big|large|high)\b|what (?:percentage|share|number|proportion)"
        ),
    ),
    (
        "place",
        re.compile(
            rf"(?:^|\s){_alt('أين من_أين إلى_أين')}(?:\s|$)"
            rf"|{_WHICH}\s+{_alt('مدينة دولة بلد مكان منطقة عاصمة قارة جزيرة بحر ولاية محافظة')}"
            r"|\bwhere\b|(?:which|what) (?:city|country|town|place|region|province)"
        ),
    ),
    (
        "reason",
        re.compile(
            rf"(?:^|\s){_alt('لماذا لمادا لم')}(?:\s|$)|{_WHAT}{_alt('سبب أسباب الهدف هدف الغرض غرض')}"
            r"|\bwhy\b|what (?:caused|is the reason)"
        ),
    ),
    ("manner", re.compile(rf"(?:^|\s){_alt('كيف كيفية')}(?:\s|$)|\bhow\b")),
    ("person", re.compile(rf"^{_alt('من لمن ممن بمن عمن إلى_من')}(?:\s|$)|\bwho(?:m|se)?\b")),
    ("yesno", re.compile(r"^هل(?:\s|$)|^(?:is|are|was|were|do|does|did|can|will|has|have)\b")),
)


def expected_kind(question: str) -> str:
    """What the question asks for: date, number, place, reason, manner, person, yesno, or thing (ما/ماذا/أي)."""
    q = normalize_arabic(question).strip().strip("-?.").strip()
    q = re.sub(r"^[وف](?=(?:ما|من|متي|اين|كم|كيف|لماذا|هل|اي)\b)", "", q)
    for kind, rule in _KIND_RULES:
        if rule.search(q):
            return kind
    return "thing"


# ---- the words of the sentence -----------------------------------------------------------------
_TOKEN = re.compile(r"\S+")
_OPEN = "([«\"“'‘{<"
_CLOSE = ")]»\"”'’}>"
_BREAK = ",،;؛:.!?؟"
_DIGITS = re.compile(r"\d")
_NUMBER_WORDS = re.compile(
    r"^(?:و|ب|ل)?(?:ال)?"
    + _alt(
        "واحد اثن ثلاث أربع خمس ست سبع ثمان تسع عشر مئ مائ ألف آلاف مليون ملايين مليار مليارات نصف ربع ثلث ضعف بضع عدة"
    )
)
_QUALIFIER = _set("حوالي نحو قرابة أكثر أقل زهاء يقارب بين من")
_MONTHS = re.compile(
    _alt(
        "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر "
        "كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين"
    )
)
_DAYS = re.compile(_alt("الأحد الإثنين الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت أمس اليوم غدا") + "$")
_DATE_NOUNS = _set("عام سنة العام يوم شهر القرن قرن منذ مطلع أواخر أوائل منتصف")
_ERA = _set("م ق.م ه هـ ميلادي ميلادية هجري هجرية الميلادي للميلاد قبل")
# A reason clause opens with one of these (and runs to the end of its clause).
_REASON = re.compile(
    r"^(?:و|ف)?" + _alt("لأن لأنه لأنها بسبب بهدف بغية لكي كي نظرا نتيجة إثر جراء حيث لغرض بداعي لعدم لوجود")
)
_REASON_PHRASE = re.compile("^" + _alt("من_أجل على_خلفية وذلك_ل"))
_MANNER = re.compile(r"^(?:و)?" + _alt("عبر بواسطة عن_طريق من_خلال باستخدام بفضل بطريقة بشكل"))
# Before a place: in, to, from, near, inside, or a word naming a place ("مدينة", "منتجع").
_PLACE_PREP = _set("في إلى من قرب داخل نحو شمال جنوب شرق غرب وسط بمدينة مدينة منتجع عاصمة")
# Words that join the answer to the question's words and belong to neither ("X هو Y").
_COPULA = _set("هو هي هم كان كانت يكون تكون يعد تعد يعتبر تعتبر يسمى تسمى باسم")


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    core: str  # the word without surrounding punctuation (normalised)
    question: bool  # one of the question's words
    weight: float  # how much that question word points at the answer (0 for other words)
    content: bool  # a content word (not a stopword)
    break_after: bool  # punctuation ends a clause after it
    open_before: bool  # an opening bracket/quote before it


def _tokens(
    sentence: str, q_words: Sequence[frozenset[str]], weights: Sequence[float], q_numbers: set[str]
) -> list[Token]:
    from .extractive import _matches, keys_for

    read = keys_for(q_words)
    out = []
    for m in _TOKEN.finditer(sentence):
        raw = m.group(0)
        a, b = m.start(), m.end()
        lead = len(raw) - len(raw.lstrip(_OPEN + _BREAK + "-–—"))
        trail = len(raw) - len(raw.rstrip(_CLOSE + _BREAK + "-–—"))
        if lead >= len(raw):
            continue  # punctuation alone ("-", "،")
        core_raw = raw[lead : len(raw) - trail]
        core = normalize_arabic(core_raw)
        keys = read(core_raw)
        found = set().union(*keys) if keys else set()
        hits = [w for qw, w in zip(q_words, weights, strict=True) if found and _matches(qw, found)]
        weight = max(hits, default=0.0)
        is_q = bool(hits)
        if core in q_numbers:
            is_q, weight = True, max(weight, 1.0)
        out.append(
            Token(
                a + lead,
                b - trail,
                core,
                is_q,
                weight,
                bool(keys) or bool(_DIGITS.search(core)),
                any(ch in _BREAK for ch in raw[len(raw) - trail :]) if trail else False,
                lead > 0 and any(ch in _OPEN for ch in raw[:lead]),
            )
        )
    return out


# Usual answer lengths in content words, per kind (ARCD's median answer has 4 words).
TYPICAL_WORDS = {"number": 3, "date": 3, "place": 3, "person": 3, "thing": 5, "reason": 8, "manner": 8, "yesno": 8}
_SHORT_KINDS = ("number", "date", "place", "person")
# Lengths tried for a candidate that does not run to the end of its clause.
_LENGTHS = (1, 2, 3, 4, 6, 9)

FEATURES = (
    "before",  # a strong question word just before the span (decays with the words between)
    "after",  # ... just after it
    "q_inside",  # share of the span's words that are the question's
    "log_len",  # log(1 + content words)
    "over",  # content words beyond the kind's usual length
    "clause_start",  # starts a clause
    "clause_end",  # ends its clause
    "kind",  # holds the expected kind of answer (a number for كم, a date for متى, …)
    "kind_start",  # starts with it
    "next_to_q",  # the word before it is a question word
    "position",  # where it starts in the sentence (0 … 1)
    "cluster",  # the question words in the five words before it (their weights summed)
    "len_short_kind",  # log(1 + content words) when a short answer is expected (number, date, place, person)
    "kind_near",  # holds the expected kind and a question word is right next to it
    "digit",  # holds a figure
    "end_next_q",  # ends right before a question word
    "far",  # no question word near it on either side
    "clause_q",  # the question words in its own clause, outside it (weights summed)
    "clause_end_short",  # ends its clause, when a short answer is expected
    "q_inside_short",  # q_inside, when a short answer is expected
    "figure_for_number",  # holds a figure (not a number word), when a number is expected
)
# Set by `python benchmarks/calibrate.py span` (a listwise softmax over each sentence's candidate
# spans, fitted on ARCD train's gold sentences; benchmarks/README.md has the cross-validated F1).
WEIGHTS: dict[str, float] = {
    "before": 0.048,
    "after": 0.05,
    "q_inside": -1.048,
    "log_len": 0.853,
    "over": -0.145,
    "clause_start": -0.014,
    "clause_end": 1.121,
    "kind": 1.878,
    "kind_start": 0.013,
    "next_to_q": -0.06,
    "position": 0.049,
    "cluster": 0.21,
    "len_short_kind": -0.571,
    "kind_near": 0.668,
    "digit": -0.05,
    "end_next_q": -0.458,
    "far": -0.095,
    "clause_q": 0.123,
    "clause_end_short": -0.317,
    "q_inside_short": 0.599,
    "figure_for_number": 0.84,
}


def _is_number(t: Token) -> bool:
    return bool(_DIGITS.search(t.core)) or bool(_NUMBER_WORDS.match(t.core))


def _is_date(t: Token) -> bool:
    return (
        bool(re.fullmatch(r"\(?\d{3,4}\)?(م|هـ|ه)?", t.core))
        or bool(_MONTHS.search(t.core))
        or bool(_DAYS.search(t.core))
        or bool(re.fullmatch(r"\d{1,4}[-/]\d{1,4}([-/]\d{1,4})?", t.core))
    )


def _kind_tokens(kind: str, tokens: list[Token]) -> set[int]:
    """Indices of tokens that are (or open) the expected kind of answer."""
    out: set[int] = set()
    for i, t in enumerate(tokens):
        if t.question:
            continue
        two = t.core + (" " + tokens[i + 1].core if i + 1 < len(tokens) else "")
        if (
            (kind == "number" and _is_number(t))
            or (kind == "date" and _is_date(t))
            or (kind == "reason" and (_REASON.match(t.core) or _REASON_PHRASE.match(two)))
            or (kind == "manner" and _MANNER.match(two))
            or (kind == "place" and i > 0 and tokens[i - 1].core in _PLACE_PREP and t.content)
        ):
            out.add(i)
    return out


def prefix_counts(tokens: Sequence[Token]) -> tuple[list[int], list[int], list[int]]:
    """Running counts over the tokens (for O(1) span sums): words that separate, breaks, digits."""
    gap, brk, dig = [0], [0], [0]
    for t in tokens:
        gap.append(gap[-1] + (t.content and t.core not in _COPULA))
        brk.append(brk[-1] + t.break_after)
        dig.append(dig[-1] + bool(_DIGITS.search(t.core)))
    return gap, brk, dig


def _near(tokens: list[Token], q_idx: Sequence[int], a: int, b: int, side: int, pre: tuple[list[int], ...]) -> float:
    """Strongest question word on one side of [a, b] (-1 before, +1 after), by the words between."""
    gaps, breaks, _ = pre
    best = 0.0
    for j in q_idx:
        if side < 0:
            if j >= a:
                continue
            gap, broken = gaps[a] - gaps[j + 1], breaks[a] - breaks[j] > 0
        else:
            if j <= b:
                continue
            gap, broken = gaps[j] - gaps[b + 1], breaks[j] - breaks[b] > 0
        if gap > 6:
            continue
        best = max(best, tokens[j].weight / (1 + 0.5 * gap) * (0.5 if broken else 1.0))
    return best


def _clause_weight(tokens: list[Token], q_idx: Sequence[int], a: int, b: int) -> float:
    lo = a
    while lo > 0 and not tokens[lo - 1].break_after:
        lo -= 1
    hi = b
    while hi < len(tokens) - 1 and not tokens[hi].break_after:
        hi += 1
    return sum(tokens[j].weight for j in q_idx if lo <= j <= hi and not a <= j <= b)


def candidates(tokens: list[Token], kind: str) -> list[tuple[int, int]]:
    """Spans worth scoring: they start at a clause, after a question word or at the expected kind,
    and end at their clause's end, before the next question word, or after a few words."""
    n = len(tokens)
    kinds = _kind_tokens(kind, tokens)
    starts: set[int] = set(kinds)
    for i in range(n):
        prev = tokens[i - 1] if i else None
        if prev is None or prev.break_after or prev.question or (prev.core in _COPULA):
            starts.add(i)
    spans: set[tuple[int, int]] = set()
    for s in starts:
        while s < n and (not tokens[s].content or tokens[s].core in _COPULA):
            s += 1
        if s >= n:
            continue
        clause_end = next((i for i in range(s, n) if tokens[i].break_after), n - 1)
        next_q = next((i - 1 for i in range(s + 1, clause_end + 1) if tokens[i].question), None)
        ends = {clause_end, *(s + k - 1 for k in _LENGTHS if s + k - 1 < clause_end)}
        if next_q is not None and next_q >= s:
            ends.add(next_q)
        for e in ends:
            while e > s and not tokens[e].content:
                e -= 1
            # Words the question already has are never the whole answer.
            if any(tokens[i].content and not tokens[i].question for i in range(s, e + 1)):
                spans.add((s, e))
    return sorted(spans)


def features(
    tokens: list[Token],
    kind: str,
    a: int,
    b: int,
    kinds: set[int],
    q_idx: Sequence[int],
    pre: tuple[list[int], ...] | None = None,
) -> tuple[float, ...]:
    """The FEATURES of span [a, b] (token indices, inclusive); ``pre``: prefix_counts(tokens)."""
    import math

    pre = pre or prefix_counts(tokens)
    n_content = sum(tokens[i].content for i in range(a, b + 1))
    n_q = sum(tokens[i].question for i in range(a, b + 1))
    has_kind = any(i in kinds for i in range(a, b + 1))
    before, after = _near(tokens, q_idx, a, b, -1, pre), _near(tokens, q_idx, a, b, +1, pre)
    short = float(kind in _SHORT_KINDS)
    dig = pre[2]
    digits = dig[b + 1] - dig[a]
    return (
        before,
        after,
        n_q / (b - a + 1),
        math.log1p(n_content),
        max(0, n_content - TYPICAL_WORDS.get(kind, 5)),
        float(a == 0 or tokens[a - 1].break_after),
        float(tokens[b].break_after or b == len(tokens) - 1),
        float(has_kind),
        float(a in kinds),
        float(a > 0 and tokens[a - 1].question),
        a / len(tokens),
        sum(tokens[j].weight for j in q_idx if a - 5 <= j < a),
        math.log1p(n_content) * (kind in _SHORT_KINDS),
        float(has_kind) * max(before, after),
        float(digits > 0),
        float(b + 1 < len(tokens) and tokens[b + 1].question),
        float(before == 0 and after == 0),
        _clause_weight(tokens, q_idx, a, b),
        float(tokens[b].break_after or b == len(tokens) - 1) * short,
        n_q / (b - a + 1) * short,
        float(kind == "number" and digits > 0),
    )


def sentence_tokens(question: str, sentence: str, weights: Sequence[float] | None = None) -> list[Token]:
    """The sentence's words, marked with the question words they match and those words' weights."""
    from .extractive import _numbers, question_keys

    q_words = list(question_keys(question))
    w = tuple(weights) if weights is not None else (1.0,) * len(q_words)
    top = max(w, default=0.0) or 1.0
    return _tokens(sentence, q_words, [x / top for x in w], _numbers(question))


def short_answer(question: str, sentence: str, weights: Sequence[float] | None = None) -> tuple[int, int] | None:
    """Character span (in ``sentence``) of the words that answer ``question``; None if nothing stands out.

    ``weights``: one per distinct question word (rag.arabic.analyze_words order), how strongly it
    points at the answering sentence (the answerer's IDF x local-rarity weights); equal if not given.
    """
    return _short_answer(question, sentence, None if weights is None else tuple(weights))


@lru_cache(maxsize=4096)
def _short_answer(question: str, sentence: str, weights: tuple[float, ...] | None) -> tuple[int, int] | None:
    tokens = sentence_tokens(question, sentence, weights)
    if not tokens:
        return None
    kind = expected_kind(question)
    kinds = _kind_tokens(kind, tokens)
    q_idx = [i for i, t in enumerate(tokens) if t.question]
    w = [WEIGHTS[f] for f in FEATURES]
    best: tuple[float, int, int] | None = None
    pre = prefix_counts(tokens)
    for a, b in candidates(tokens, kind):
        score = sum(x * y for x, y in zip(w, features(tokens, kind, a, b, kinds, q_idx, pre), strict=True))
        if best is None or score > best[0]:
            best = (score, a, b)
    if best is None:
        return None
    a, b = _tighten(kind, tokens, best[1], best[2], kinds) if TIGHTEN else (best[1], best[2])
    return tokens[a].start, tokens[b].end


TIGHTEN = True
# At most this many content words for a name or a place.
_NAME_WORDS = 3


def _tighten(kind: str, tokens: list[Token], a: int, b: int, kinds: set[int]) -> tuple[int, int]:
    """Cut a span that runs on past a short answer down to it: the number with its unit, the date
    expression, the first words of a name or place (the scorer, fitted on encyclopaedia answers that
    often run to the end of the clause, leaves "12 مارس 2019 بحضور رئيس الوزراء")."""
    inside = [i for i in range(a, b + 1) if i in kinds]
    if kind in ("number", "date") and inside:
        s = e = inside[0]
        while e + 1 <= b and not tokens[e].break_after and (e + 1 in kinds or tokens[e + 1].core in _ERA):
            e += 1
        if kind == "number" and e + 1 <= b and not tokens[e].break_after and tokens[e + 1].content:
            e += 1  # the unit or the counted noun: "250 ألف نسمة", "6 جنود"
        while (
            s - 1 >= 0
            and not tokens[s - 1].question
            and (
                tokens[s - 1].core in _QUALIFIER
                or tokens[s - 1].core in _DATE_NOUNS
                or (kind == "date" and re.fullmatch(r"\d{1,2}", tokens[s - 1].core))  # the day before the month
            )
        ):
            s -= 1
        return s, e
    if kind in ("person", "place"):
        seen, e = 0, a
        for i in range(a, b + 1):
            if not tokens[i].content:
                break  # a function word ends the name ("أحمد السالم إن …")
            seen += 1
            e = i
            if seen == _NAME_WORDS or tokens[i].break_after:
                break
        return a, e
    return a, b
