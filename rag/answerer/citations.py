"""`[n]` markers in a model's answer: parse every common form, drop the ones that point nowhere,
write the rest as [n] (keeping the sources' numbers, so a streamed answer and the final one agree),
and check each cited sentence against the passages it cites.

A language model's citations are not trusted: small local models drop them, invent numbers, or
cite a source that does not say what the sentence says. The check here is lexical (the answer's
keyword terms, Snowball-stemmed and normalised, found in the cited passages), so it needs no
model call and works the same for every model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..arabic import analyze, split_sentences
from ..types import Citation, Passage

# [1]  [١]  [1، 2]  [1, 2]  [1-3]  [1 و 2]  [المصدر 1]  【1】  — and runs of them: [1][2].
_NUM = r"[0-9٠-٩۰-۹]+"
_SEP = r"\s*(?:[,،;؛]|و|-|–)\s*"
MARKER_RE = re.compile(
    rf"[\[【]\s*(?:(?:source|sources|المصدر|مصدر|المصادر)\s*)?({_NUM}(?:{_SEP}{_NUM})*)\s*[\]】]",
    re.IGNORECASE,
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# A sentence is supported when at least this share of its keyword terms occurs in the passages it
# cites. Set on the seed set's gold evidence sentences (tests/test_chain.py measures it): each has
# all its terms in its own article, and at most 60% in any other article of the same Turkey–Russia
# news (short phrases share "تركيا", "الروسية"…); 0.7 sits between the two. A flagged sentence is
# shown with a warning, not removed: paraphrase by a model lowers the share of a true sentence.
SUPPORT_MIN = 0.7


@dataclass(frozen=True)
class Marker:
    """One citation marker: its span in the text and the source numbers it names."""

    start: int
    end: int
    numbers: tuple[int, ...]


def parse_citations(text: str) -> list[Marker]:
    """Every citation marker in ``text``, in order, with Arabic-Indic digits and ranges read."""
    markers = []
    for m in MARKER_RE.finditer(text):
        body = m.group(1).translate(_DIGITS)
        numbers: list[int] = []
        for part in re.split(r"\s*(?:[,،;؛]|و)\s*", body):
            if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
                a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
                if 0 < b - a < 20:
                    numbers.extend(range(a, b + 1))
                    continue
            numbers.extend(int(x) for x in re.findall(r"\d+", part))
        markers.append(Marker(m.start(), m.end(), tuple(dict.fromkeys(numbers))))
    return markers


@dataclass(frozen=True)
class CheckedAnswer:
    """A model's answer after the citation check."""

    text: str  # with valid markers written as [1][2] and invalid ones removed
    sources: tuple[int, ...]  # the source numbers cited, in order of first use
    removed: tuple[int, ...]  # numbers that pointed at no source (dropped from the text)
    unsupported: tuple[str, ...]  # sentences with no valid citation or too little support
    claims: dict[int, list[str]]  # original source number -> the sentences citing it


def check_citations(text: str, passages: Sequence[Passage]) -> CheckedAnswer:
    """Renumber valid citations, drop invalid ones, and find sentences their sources do not support."""
    n_sources = len(passages)
    markers = parse_citations(text)
    order: list[int] = []
    removed: list[int] = []
    for m in markers:
        for n in m.numbers:
            if 1 <= n <= n_sources:
                if n not in order:
                    order.append(n)
            elif n not in removed:
                removed.append(n)
    new_number = {n: n for n in order}

    # Rewrite the text; remember which sources each sentence cites.
    out: list[str] = []
    spans: list[tuple[int, int, tuple[int, ...]]] = []  # marker spans in the new text
    pos = 0
    for m in markers:
        out.append(text[pos : m.start])
        valid = [n for n in m.numbers if n in new_number]
        start = sum(len(x) for x in out)
        if valid:
            out.append("".join(f"[{new_number[n]}]" for n in valid))
        elif out and out[-1].endswith(" ") and m.end < len(text) and text[m.end] in " .،,؟?!":
            out[-1] = out[-1].rstrip(" ")  # "… قال [9]." → "… قال."
        spans.append((start, sum(len(x) for x in out), tuple(valid)))
        pos = m.end
    out.append(text[pos:])
    new_text = re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()

    claims: dict[int, list[str]] = {n: [] for n in order}
    unsupported: list[str] = []
    sentences = _claims(text)
    terms_of = {n: set(analyze(passages[n - 1].chunk.text + " " + passages[n - 1].title)) for n in order}
    for sentence, cited in sentences:
        words = set(analyze(sentence))
        if not words:
            continue
        valid = [n for n in cited if n in terms_of]
        if not valid:
            unsupported.append(sentence)
            continue
        have = set().union(*(terms_of[n] for n in valid))
        if len(words & have) / len(words) < SUPPORT_MIN:
            unsupported.append(sentence)
        for n in valid:
            claims[n].append(sentence)
    return CheckedAnswer(new_text, tuple(order), tuple(removed), tuple(unsupported), claims)


def _claims(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """The answer's sentences (markers removed) with the source numbers cited in or right after each."""
    result: list[tuple[str, list[int]]] = []
    for a, b in split_sentences(text):
        piece = text[a:b]
        numbers = [n for m in parse_citations(piece) for n in m.numbers]
        words = MARKER_RE.sub(" ", piece).strip(" .،,")
        if not words.strip() and result:  # a marker on its own after the full stop
            result[-1][1].extend(numbers)
            continue
        if words.strip():
            result.append((" ".join(words.split()), numbers))
    return [(s, tuple(dict.fromkeys(n))) for s, n in result]


def build_citations(checked: CheckedAnswer, passages: Sequence[Passage], texts: dict[str, str]) -> tuple[Citation, ...]:
    """One Citation per used source, quoting the passage sentence closest to the claims citing it."""
    out = []
    for old in checked.sources:
        p = passages[old - 1]
        article = texts.get(p.chunk.doc_id, "")
        claim_terms = set(analyze(" ".join(checked.claims.get(old, []))))
        best, best_score = (p.chunk.start, p.chunk.end), -1.0
        for a, b in split_sentences(p.chunk.text):
            words = set(analyze(p.chunk.text[a:b]))
            score = len(words & claim_terms) / (len(words) ** 0.5 or 1.0)
            if score > best_score:
                best, best_score = (p.chunk.start + a, p.chunk.start + b), score
        start, end = best
        quote = article[start:end] if article else p.chunk.text[start - p.chunk.start : end - p.chunk.start]
        out.append(
            Citation(
                number=old,
                doc_id=p.chunk.doc_id,
                title=p.title,
                date=p.date,
                source=p.source,
                passage=p.chunk.text,
                quote=quote,
                start=start,
                end=end,
                score=p.score,
            )
        )
    return tuple(out)
