"""Saved news pages (.html): today's selectolax extraction vs trafilatura vs a hybrid.

    python benchmarks/html_study.py            # tables (markdown) on stdout
    python benchmarks/html_study.py --show NAME  # the text each method extracts from one fixture

Fixtures: tests/fixtures/html_pages/NAME.html with NAME.json gold (title, date, author, source,
body_paragraphs, junk). Every method gets the same decoded text (rag's own decoder) and ends in a
Document, scored against the gold:

- body P/R/F1: word-token multiset overlap of the document text with the gold paragraphs;
- exact ¶: share of gold paragraphs that are a whole paragraph of the document text (citations
  quote exact spans, so a paragraph glued to a caption or split in two is a miss);
- junk: gold junk strings (related headlines, menus, comment forms, cookie banners...) found in the text;
- title / date / author / source: exact match with the gold (None must be None).

Methods:
- today: selectolax → text lines → rag's line cleaner (`clean_with_report`), metadata from meta tags
  and the cleaner's line heuristics;
- trafilatura (default / precision / recall): `bare_extraction` text and metadata as is;
- hybrid: trafilatura's main text (XML, one line per paragraph/heading/item/cell) → rag's line
  cleaner; metadata field by field (see `rag.ingest.readers._html_to_text`).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.errors import IngestError  # noqa: E402
from rag.ingest import readers  # noqa: E402
from rag.ingest.boilerplate import clean_unicode, clean_with_report  # noqa: E402
from rag.ingest.metadata import parse_date_value  # noqa: E402
from rag.types import Document  # noqa: E402

PAGES = ROOT / "tests" / "fixtures" / "html_pages"
REPEATS = 5


def _doc(text: str, title: str | None, hints: readers.Meta | None, name: str) -> Document:
    try:
        return clean_with_report(text, doc_id=name, title=title, path=name, content_hash="", hints=hints)[0]
    except IngestError:  # rag skips the file: nothing extracted
        return Document(doc_id=name, title="", text="")


def today(html: str, name: str) -> Document:
    return _doc(*readers._html_to_text_selectolax(html), name)


def trafilatura_alone(**options: object) -> Callable[[str, str], Document]:
    def run(html: str, name: str) -> Document:
        import trafilatura  # lazy, as in rag

        d = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True, **options)  # type: ignore[arg-type]
        text = clean_unicode(d.text or "") if d is not None else ""
        paragraphs = [" ".join(line.split()) for line in text.split("\n") if line.strip()]
        return Document(
            doc_id=name,
            title=d.title if d is not None and d.title else "",
            text="\n\n".join(paragraphs),
            date=parse_date_value(d.date) if d is not None else None,
            author=d.author if d is not None else None,
            source=d.sitename if d is not None else None,
        )

    return run


def hybrid(**options: object) -> Callable[[str, str], Document]:
    def run(html: str, name: str) -> Document:
        saved = dict(readers._TRAFILATURA_OPTIONS)
        readers._TRAFILATURA_OPTIONS.update(options)
        try:
            return _doc(*readers._html_to_text(html), name)
        finally:
            readers._TRAFILATURA_OPTIONS.clear()
            readers._TRAFILATURA_OPTIONS.update(saved)

    return run


METHODS: list[tuple[str, Callable[[str, str], Document]]] = [
    ("today (selectolax + rag cleaner)", today),
    ("trafilatura", trafilatura_alone()),
    ("trafilatura favor_precision", trafilatura_alone(favor_precision=True)),
    ("trafilatura favor_recall", trafilatura_alone(favor_recall=True)),
    ("hybrid, trafilatura default (XML + rag cleaner)", hybrid(favor_precision=False)),
    ("hybrid, trafilatura favor_precision (XML + rag cleaner)", hybrid(favor_precision=True)),
]


def tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text))


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    exact: float
    junk: int
    title: bool
    date: bool
    author: bool
    source: bool
    ms: float


def _same(a: str | None, b: str | None) -> bool:
    return (" ".join(a.split()) if a else None) == (" ".join(b.split()) if b else None)


def score(doc: Document, gold: dict, ms: float) -> Score:
    # rag normalises display text (tatweel, odd spaces, NFC) before quoting it: so does the gold.
    gold_paragraphs = [clean_unicode(g) for g in gold["body_paragraphs"]]
    got, want = tokens(doc.text), tokens(" ".join(gold_paragraphs))
    common = sum((got & want).values())
    p = common / max(1, sum(got.values()))
    r = common / max(1, sum(want.values()))
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    paragraphs = set(doc.text.split("\n\n"))
    exact = sum(g in paragraphs for g in gold_paragraphs) / len(gold_paragraphs)
    junk = sum(j in doc.text for j in gold["junk"])
    return Score(
        p, r, f1, exact, junk,
        title=_same(doc.title, gold["title"]),
        date=doc.date == gold["date"],
        author=_same(doc.author, gold["author"]),
        source=_same(doc.source, gold["source"]),
        ms=ms,
    )  # fmt: skip


def fixtures() -> list[tuple[str, str, dict]]:
    out = []
    for path in sorted(PAGES.glob("*.html")):
        html, _ = readers._decode(path.read_bytes())
        out.append((path.stem, html, json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))))
    return out


def timed(fn: Callable[[str, str], Document], html: str, name: str) -> tuple[Document, float]:
    fn(html, name)  # warm: imports, regex caches
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        doc = fn(html, name)
        times.append(time.perf_counter() - t0)
    return doc, 1000 * statistics.median(times)


def main() -> None:
    pages = fixtures()
    if len(sys.argv) == 3 and sys.argv[1] == "--show":
        name, html, _ = next(p for p in pages if p[0] == sys.argv[2])
        for label, fn in METHODS:
            doc = fn(html, name)
            print(f"=== {label}\ntitle={doc.title!r} date={doc.date} author={doc.author!r} source={doc.source!r}")
            print(doc.text, "\n")
        return
    results: dict[str, dict[str, Score]] = {}
    for label, fn in METHODS:
        results[label] = {name: _run(fn, html, name, gold) for name, html, gold in pages}
    n = len(pages)
    print(f"## All {n} pages\n")
    print("| method | body P | body R | body F1 | exact ¶ | junk leaks | title | date | author | source | ms/page |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, per in results.items():
        s = list(per.values())

        def mean(f: Callable[[Score], float], s: list[Score] = s) -> float:
            return sum(f(x) for x in s) / n

        print(
            f"| {label} | {mean(lambda x: x.precision):.3f} | {mean(lambda x: x.recall):.3f} | "
            f"{mean(lambda x: x.f1):.3f} | {mean(lambda x: x.exact):.3f} | {sum(x.junk for x in s)} | "
            f"{sum(x.title for x in s)}/{n} | {sum(x.date for x in s)}/{n} | {sum(x.author for x in s)}/{n} | "
            f"{sum(x.source for x in s)}/{n} | {statistics.median(x.ms for x in s):.1f} |"
        )
    print("\n## Per page: body F1 / exact ¶ / junk leaks, and metadata misses (T title, D date, A author, S source)\n")
    short = [label.split(" (")[0] for label, _ in METHODS]
    print("| page | " + " | ".join(short) + " |")
    print("|---|" + "---|" * len(short))
    for name, _, _ in pages:
        cells = []
        for label, _ in METHODS:
            x = results[label][name]
            miss = "".join(k for k, ok in zip("TDAS", (x.title, x.date, x.author, x.source), strict=True) if not ok)
            cells.append(f"{x.f1:.2f} / {x.exact:.2f} / {x.junk}{' ' + miss if miss else ''}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n## Per page: milliseconds (median of 5 warm runs)\n")
    print("| page | KB | " + " | ".join(short) + " |")
    print("|---|---|" + "---|" * len(short))
    for name, html, _ in pages:
        ms = " | ".join(f"{results[label][name].ms:.1f}" for label, _ in METHODS)
        print(f"| {name} | {len(html.encode()) / 1000:.1f} | {ms} |")


def _run(fn: Callable[[str, str], Document], html: str, name: str, gold: dict) -> Score:
    doc, ms = timed(fn, html, name)
    return score(doc, gold, ms)


if __name__ == "__main__":
    main()
