"""The short answer: the span of the quoted sentence that answers the question.

The question's form says what kind of answer it expects (a number with its unit for "كم", a
date for "متى", a place for "أين", a reason clause for "لماذا", …); the words that answer are
the ones of the sentence that are *not* in the question, next to the ones that are ("عاصمة
المغرب هي الرباط": the question's words locate the answer, the new words are it). So the
sentence is cut into runs of new words (between question words and punctuation), each run
is scored by how closely it touches the question's words and whether it holds the expected
kind of answer (weights fitted on ARCD by benchmarks/calibrate.py), the scores become
probabilities, and the answer is the run with the highest expected overlap with the likely
ones (F1 pays for overlap); a number or a date is then cut to its expression, other answers
lose the question's own words at their edges. Pure functions over strings: no model, no index.
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
    (
        "person",
        re.compile(
            rf"^(?:{_alt('على_يد من_قبل ضد مع عن بين')}\s+)?{_alt('من لمن ممن بمن عمن إلى_من')}(?:\s|$)"
            r"|\bwho(?:m|se)?\b"
        ),
    ),
    ("yesno", re.compile(r"^هل(?:\s|$)|^(?:is|are|was|were|do|does|did|can|will|has|have)\b")),
)


def clean_question(question: str) -> str:
    """The question without stray marks around it (a leading dash, a dangling article "ال" typed
    after the question mark) and with "ماهي/ماهو" written apart, as "ما هي/ما هو"."""
    q = question.strip()
    q = re.sub(r"\s+ال$", "", q).strip().strip("-–—?؟.!").strip()
    return re.sub(r"(?:^|(?<=\s))ما(ه[يىو])(?=\s|$)", r"ما \1", q)


def expected_kind(question: str) -> str:
    """What the question asks for: date, number, place, reason, manner, person, yesno, or thing (ما/ماذا/أي)."""
    q = normalize_arabic(clean_question(question)).strip().strip("-?.؟").strip()
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
    qwords: frozenset[int] = frozenset()  # which of the question's words it matches


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
        hit = [k for k, qw in enumerate(q_words) if found and _matches(qw, found)]
        weight = max((weights[k] for k in hit), default=0.0)
        is_q = bool(hit)
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
                frozenset(hit) if hit else (frozenset({-1}) if is_q else frozenset()),
            )
        )
    return out


# Usual answer lengths in content words, per kind (ARCD's median answer has 4 words).
TYPICAL_WORDS = {"number": 3, "date": 3, "place": 3, "person": 3, "thing": 5, "reason": 8, "manner": 8, "yesno": 8}
KINDS = ("thing", "person", "place", "date", "number", "reason", "manner", "yesno")
_SHORT_KINDS = ("number", "date", "place", "person")
# Lengths tried for a candidate that does not run to the end of its clause.
_LENGTHS = (1, 2, 3, 4, 6, 9)
# Prepositions that often open an answer ("في غرب آسيا", "على يد سلالة السلاجقة").
_PREP = _set("في إلى الى من على عن حتى منذ خلال بين عند لدى مع ضد نحو")

FEATURES = (
    "before",  # a strong question word just before the span (decays with the words between)
    "after",  # ... just after it
    "q_inside",  # share of the span's words that are the question's
    "q_count",  # the question's words inside it (count)
    "log_len",  # log(1 + content words)
    "over",  # content words beyond the kind's usual length
    "clause_start",  # starts a clause
    "clause_end",  # ends its clause
    "kind",  # holds the expected kind of answer (a number for كم, a date for متى, …)
    "kind_start",  # starts with it
    "next_to_q",  # the word before it is a question word
    "position",  # where it starts in the sentence (0 … 1)
    "cluster",  # the question words in the five words before it (their weights summed)
    "cluster_after",  # ... in the five words after it
    "kind_near",  # holds the expected kind and a question word is right next to it
    "digit",  # holds a figure
    "end_next_q",  # ends right before a question word
    "clause_q",  # the question words in its own clause, outside it (weights summed)
    "clause_end_short",  # ends its clause, when a short answer is expected
    "q_inside_short",  # q_inside, when a short answer is expected
    "figure_for_number",  # holds a figure (not a number word), when a number is expected
    "subject",  # followed by هو/هي and a question word: "الكعبة هي قبلة المسلمين"
    "after_copula",  # follows هو/هي/يعد/…: "عاصمتها هي الرباط"
    "coverage",  # share of the question's words (found in the sentence) within ten words of it
    "prep_start",  # opens with a preposition ("في غرب آسيا")
    "bracket",  # holds a bracket or a quotation mark
    "sandwich",  # question words close on both sides
    "log_tokens",  # log(1 + all words, function words too)
    "crosses",  # runs on past a comma into the next clause
    "q_first",  # opens with a question word
    "q_last",  # ends with one
    *(f"len_{k}" for k in KINDS),  # log_len for each kind of question: each has its usual length
)
# Set by `python benchmarks/calibrate.py span` (a listwise softmax over each sentence's candidate
# spans, fitted on ARCD train's gold sentences; benchmarks/README.md has the cross-validated F1).
WEIGHTS: dict[str, float] = {
    "before": 0.038,
    "after": 0.243,
    "q_inside": -0.512,
    "q_count": -0.070,
    "log_len": 0.595,
    "over": -0.145,
    "clause_start": 0.091,
    "clause_end": 1.327,
    "kind": 2.110,
    "kind_start": -0.108,
    "next_to_q": 0.024,
    "position": 0.140,
    "cluster": 0.169,
    "cluster_after": -0.023,
    "kind_near": 0.530,
    "digit": 0.035,
    "end_next_q": -0.664,
    "clause_q": 0.161,
    "clause_end_short": -0.346,
    "q_inside_short": 1.054,
    "figure_for_number": 0.933,
    "subject": 0.557,
    "after_copula": 0.388,
    "coverage": 0.626,
    "prep_start": -0.546,
    "bracket": -0.465,
    "sandwich": -0.283,
    "log_tokens": -0.362,
    "crosses": -1.072,
    "q_first": 0.330,
    "q_last": 0.205,
    "len_thing": 0.539,
    "len_person": 0.755,
    "len_place": -0.328,
    "len_date": -0.629,
    "len_number": -0.508,
    "len_reason": 0.702,
    "len_manner": 0.836,
    "len_yesno": 1.575,
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


@dataclass(frozen=True)
class Sentence:
    """A sentence read for one question: its tokens, what the question expects, running counts."""

    tokens: list[Token]
    kind: str
    kinds: frozenset[int]  # tokens that are (or open) the expected kind
    q_idx: tuple[int, ...]  # tokens that are question words
    gaps: list[int]  # running count of the words that separate (content words, not copulas)
    breaks: list[int]  # running count of clause breaks
    digits: list[int]  # running count of figures
    n_qwords: int  # distinct question words found in the sentence


def read_sentence(question: str, sentence: str, weights: Sequence[float] | None = None) -> Sentence | None:
    """The sentence's tokens and counts for scoring spans; None if it has no words."""
    tokens = sentence_tokens(question, sentence, weights)
    if not tokens:
        return None
    kind = expected_kind(question)
    gap, brk, dig = [0], [0], [0]
    for t in tokens:
        gap.append(gap[-1] + (t.content and t.core not in _COPULA))
        brk.append(brk[-1] + t.break_after)
        dig.append(dig[-1] + bool(_DIGITS.search(t.core)))
    q_idx = tuple(i for i, t in enumerate(tokens) if t.question)
    n_q = len(frozenset().union(*(tokens[i].qwords for i in q_idx))) if q_idx else 0
    return Sentence(tokens, kind, frozenset(_kind_tokens(kind, tokens)), q_idx, gap, brk, dig, n_q)


def _near(s: Sentence, a: int, b: int, side: int) -> float:
    """Strongest question word on one side of [a, b] (-1 before, +1 after), by the words between."""
    best = 0.0
    for j in s.q_idx:
        if side < 0:
            if j >= a:
                continue
            gap, broken = s.gaps[a] - s.gaps[j + 1], s.breaks[a] - s.breaks[j] > 0
        else:
            if j <= b:
                continue
            gap, broken = s.gaps[j] - s.gaps[b + 1], s.breaks[j] - s.breaks[b] > 0
        if gap > 6:
            continue
        best = max(best, s.tokens[j].weight / (1 + 0.5 * gap) * (0.5 if broken else 1.0))
    return best


def _clause_weight(s: Sentence, a: int, b: int) -> float:
    tokens = s.tokens
    lo = a
    while lo > 0 and not tokens[lo - 1].break_after:
        lo -= 1
    hi = b
    while hi < len(tokens) - 1 and not tokens[hi].break_after:
        hi += 1
    return sum(tokens[j].weight for j in s.q_idx if lo <= j <= hi and not a <= j <= b)


def candidates(s: Sentence) -> list[tuple[int, int]]:
    """Spans worth scoring: they start at a clause, after a question word or at the expected kind,
    and end at their clause's end, before the next question word, or after a few words."""
    tokens = s.tokens
    n = len(tokens)
    starts: set[int] = set(s.kinds)
    for i in range(n):
        prev = tokens[i - 1] if i else None
        if prev is None or prev.break_after or prev.question or (prev.core in _COPULA):
            starts.add(i)
    spans: set[tuple[int, int]] = set()
    for st in starts:
        while st < n and (not tokens[st].content or tokens[st].core in _COPULA):
            st += 1
        if st >= n:
            continue
        clause_end = next((i for i in range(st, n) if tokens[i].break_after), n - 1)
        next_q = next((i - 1 for i in range(st + 1, clause_end + 1) if tokens[i].question), None)
        ends = {clause_end, *(st + k - 1 for k in _LENGTHS if st + k - 1 < clause_end)}
        if clause_end + 1 < n:  # a list or an apposition runs on past a comma
            ends.add(next((i for i in range(clause_end + 1, n) if tokens[i].break_after), n - 1))
        if next_q is not None and next_q >= st:
            ends.add(next_q)
        for e in ends:
            while e > st and not tokens[e].content:
                e -= 1
            # Words the question already has are never the whole answer.
            if any(tokens[i].content and not tokens[i].question for i in range(st, e + 1)):
                spans.add((st, e))
    return sorted(spans)


def features(s: Sentence, a: int, b: int) -> tuple[float, ...]:
    """The FEATURES of span [a, b] (token indices, inclusive)."""
    import math

    tokens, kind, kinds = s.tokens, s.kind, s.kinds
    n = len(tokens)
    n_content = sum(tokens[i].content for i in range(a, b + 1))
    n_q = sum(tokens[i].question for i in range(a, b + 1))
    has_kind = any(i in kinds for i in range(a, b + 1))
    before, after = _near(s, a, b, -1), _near(s, a, b, +1)
    short = float(kind in _SHORT_KINDS)
    digits = s.digits[b + 1] - s.digits[a]
    ends_clause = float(tokens[b].break_after or b == n - 1)
    log_len = math.log1p(n_content)
    near_q: set[int] = set()
    for j in s.q_idx:
        if a - 10 <= j <= b + 10 and not a <= j <= b:
            near_q |= tokens[j].qwords
    return (
        before,
        after,
        n_q / (b - a + 1),
        float(n_q),
        log_len,
        max(0, n_content - TYPICAL_WORDS.get(kind, 5)),
        float(a == 0 or tokens[a - 1].break_after),
        ends_clause,
        float(has_kind),
        float(a in kinds),
        float(a > 0 and tokens[a - 1].question),
        a / n,
        sum(tokens[j].weight for j in s.q_idx if a - 5 <= j < a),
        sum(tokens[j].weight for j in s.q_idx if b < j <= b + 5),
        float(has_kind) * max(before, after),
        float(digits > 0),
        float(b + 1 < n and tokens[b + 1].question),
        _clause_weight(s, a, b),
        ends_clause * short,
        n_q / (b - a + 1) * short,
        float(kind == "number" and digits > 0),
        float(b + 2 < n and tokens[b + 1].core in _COPULA and tokens[b + 2].question),
        float(a > 0 and tokens[a - 1].core in _COPULA),
        len(near_q) / s.n_qwords if s.n_qwords else 0.0,
        float(tokens[a].core in _PREP),
        float(any(tokens[i].open_before for i in range(a, b + 1))),
        float(before > 0 and after > 0),
        math.log1p(b - a + 1),
        float(s.breaks[b] - s.breaks[a] > 0),
        float(tokens[a].question),
        float(tokens[b].question),
        *(log_len * (kind == k) for k in KINDS),
    )


def sentence_tokens(question: str, sentence: str, weights: Sequence[float] | None = None) -> list[Token]:
    """The sentence's words, marked with the question words they match and those words' weights."""
    from .extractive import _numbers, question_keys

    q_words = list(question_keys(clean_question(question)))
    w = tuple(weights) if weights is not None else (1.0,) * len(q_words)
    top = max(w, default=0.0) or 1.0
    return _tokens(sentence, q_words, [x / top for x in w], _numbers(question))


def short_answer(question: str, sentence: str, weights: Sequence[float] | None = None) -> tuple[int, int] | None:
    """Character span (in ``sentence``) of the words that answer ``question``; None if nothing stands out.

    ``weights``: one per distinct question word (rag.arabic.analyze_words order), how strongly it
    points at the answering sentence (the answerer's IDF x local-rarity weights); equal if not given.
    """
    return _short_answer(question, sentence, None if weights is None else tuple(weights))


# Spans are scored with the fitted weights, turned into probabilities (a softmax over the
# sentence's candidates); the answer is the candidate with the highest expected overlap with
# the others (F1 rewards overlap: a span that most likely answers in part beats a tight guess).
MBR_TOP = 30


def pick_by_overlap(scored: Sequence[tuple[float, int, int]]) -> tuple[float, int, int]:
    """The (score, first, last) candidate with the highest expected word overlap (F1) with the
    others, each weighted by its softmax probability."""
    import math

    top = max(x for x, _, _ in scored)
    probs = [math.exp(x - top) for x, _, _ in scored]
    return max(
        scored,
        key=lambda c: sum(
            p * 2 * max(0, min(c[2], b) - max(c[1], a) + 1) / (c[2] - c[1] + b - a + 2)
            for p, (_, a, b) in zip(probs, scored, strict=True)
        ),
    )


@lru_cache(maxsize=4096)
def _short_answer(question: str, sentence: str, weights: tuple[float, ...] | None) -> tuple[int, int] | None:
    s = read_sentence(question, sentence, weights)
    if s is None:
        return None
    w = [WEIGHTS[f] for f in FEATURES]
    scored = sorted(
        ((sum(x * y for x, y in zip(w, features(s, a, b), strict=True)), a, b) for a, b in candidates(s)),
        reverse=True,
    )[:MBR_TOP]
    if not scored:
        return None
    _, a, b = pick_by_overlap(scored)
    if s.kind in TIGHTEN:
        # A number or a date keeps its unit or counted noun even when the question names it
        # ("كم عدد الجنود …" → "6 جنود").
        a, b = _tighten(s.kind, s.tokens, a, b, set(s.kinds))
    else:
        # The question's own words at the answer's edges are already known ("مدينتي منبج والرقة"
        # for "ما المدينتان …"): cut them (ARCD's annotators often kept them: -0.007 F1 there).
        while a < b and s.tokens[a].question:
            a += 1
        while b > a and (s.tokens[b].question or not s.tokens[b].content):
            b -= 1
    return s.tokens[a].start, s.tokens[b].end


# Kinds whose chosen span is cut down to the expression itself: numbers and dates (ARCD F1 on
# gold sentences 0.460 -> 0.469, seed EM 0.04 -> 0.21). Cutting names and places to their first
# words lost F1 on ARCD (0.469 -> 0.435), whose names and places run longer than three words.
TIGHTEN = ("number", "date")
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
