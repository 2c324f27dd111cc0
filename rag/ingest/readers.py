"""Files → Documents: which files are read, how each format (.txt .md .html .jsonl) becomes text.

Only the standard library is imported at module level; selectolax and trafilatura (HTML) and
charset-normalizer (encoding detection) are imported where they are needed.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rag.errors import IngestError, NoDocumentsError
from rag.types import Document

from .boilerplate import clean_unicode, clean_with_report, is_end_marker
from .metadata import Meta, byline, parse_date_value, word_count

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".jsonl")


@dataclass(frozen=True)
class Skipped:
    """A file (or one jsonl line, or a folder) that was not loaded, and why."""

    path: str
    reason: str
    folder: bool = False  # a folder that could not be listed: what it held before must stay indexed


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


def _markdown_to_text(md: str) -> tuple[str, str | None, Meta]:
    """Strip Markdown syntax; return (plain text, first ``#`` heading, front-matter metadata)."""
    md = clean_unicode(md)
    lines = md.split("\n")
    meta = Meta()
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
    meta.take(parse_date_value(front.get("date")), front.get("source") or front.get("site"), front.get("author"))

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


def _html_to_text(html: str) -> tuple[str, str | None, Meta]:
    """Parse HTML; return (the article's text as lines, title, metadata hints).

    The main text comes from trafilatura (a content extractor built for news pages), one line per
    paragraph, heading, list item or table row; rag's line cleaner then drops what it still knows
    to be furniture. Title and metadata are taken field by field from whichever source measured
    better on real page layouts (benchmarks/html_study.md). When trafilatura finds no text the
    whole page goes through the selectolax walk instead."""
    from selectolax.lexbor import LexborHTMLParser  # lazy: only when HTML files are ingested

    tree = LexborHTMLParser(html)
    title, meta = _html_meta(tree)
    found = _trafilatura(html, site=meta.source)
    if found is None:
        return _html_body_text(tree), title, meta
    text, extracted = found
    # Our <h1>/<title> rule first (trafilatura prefers og:title, which often carries " | Site");
    # trafilatura's structured metadata (JSON-LD, bylines) fills what the meta tags do not name.
    meta.take(date=parse_date_value(extracted.date), source=extracted.sitename, author=_one_author(extracted.author))
    if meta.author is None:
        # A byline above the article ("كتب محمد عبد الحليم") that trafilatura left out of the text:
        # look for it in the page's own lines before the article's first line.
        first = text.split("\n", 1)[0]
        for line in _html_body_text(tree).split("\n"):
            if line == first:
                break
            by = byline(line) if word_count(line) <= 6 else None
            if by and by[0]:
                meta.take(author=by[0])
                break
    return text, title or extracted.title or None, meta


def _html_to_text_selectolax(html: str) -> tuple[str, str | None, Meta]:
    """The selectolax-only reading of a page (before trafilatura; kept for the benchmark)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title, meta = _html_meta(tree)
    return _html_body_text(tree), title, meta


def _one_author(value: str | None) -> str | None:
    """trafilatura joins several authors with "; ": keep the page's first named author."""
    first = (value or "").split(";")[0].strip()
    return first or None


# trafilatura's XML elements that are lines of their own (inline ones: hi, ref, del, span...).
_TRAF_BLOCKS = frozenset("doc main p head item list quote code table row graphic".split())


# favor_precision: trafilatura drops more borderline blocks (ad labels, teaser boxes, stamp lines);
# on the fixtures it lost no article paragraph (benchmarks/html_study.md).
_TRAFILATURA_OPTIONS: dict[str, Any] = {"favor_precision": True}
# Embedded social posts (the platforms' standard embed markup): someone else's words, not the article's.
_EMBEDS_XPATH = [
    "//blockquote[contains(@class, 'twitter-tweet') or contains(@class, 'twitter-video')"
    " or contains(@class, 'instagram-media') or contains(@class, 'tiktok-embed')]",
]


def _trafilatura(html: str, site: str | None = None) -> tuple[str, Any] | None:
    """(main text as lines, trafilatura's Document with the metadata) or None if it found nothing.

    trafilatura is given the page's text, never a URL: it reads nothing from the network."""
    import trafilatura  # lazy: heavy (lxml, htmldate, justext), and only HTML needs it
    from lxml import etree

    try:
        extracted = trafilatura.bare_extraction(
            html,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            author_blacklist={site} if site else None,  # JSON-LD often names the site as the author
            prune_xpath=_EMBEDS_XPATH,
            **_TRAFILATURA_OPTIONS,
        )
    except Exception:  # a parser failure on one odd page must not stop ingestion: selectolax reads it
        return None
    body = getattr(extracted, "body", None)
    if extracted is None or body is None:
        return None
    # Paragraphs, headings and rows are separated by a blank line, <lb/> (a <br>) by a line break,
    # as in the selectolax walk: the cleaner reads a blank line as the end of a block.
    for head in body.iter("head"):
        # "قصص ذات صلة" over a related-stories list that trafilatura removed, with the article going
        # on below: the cleaner would end the article at this label. A label over a list stays.
        following = head.getnext()
        if is_end_marker(" ".join("".join(head.itertext()).split())) and following is not None and following.tag == "p":
            head.tag = "removed"
    etree.strip_elements(body, "removed", with_tail=False)
    parts: list[str] = []
    in_code = 0  # source line breaks are whitespace, except in <code> (from <pre>)

    def add(text: str | None) -> None:
        if text:
            parts.append(text if in_code else re.sub(r"[ \t\r\n\f\v]+", " ", text))

    for event, el in etree.iterwalk(body, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _TRAF_BLOCKS:
                parts.append("\n\n")
            elif tag == "lb":
                parts.append("\n")
            elif tag == "cell":
                parts.append(" ")  # cells of one row stay on the row's line, as in the selectolax walk
            in_code += tag == "code"
            if tag != "lb":
                add(el.text)
        else:
            in_code -= tag == "code"
            if tag in _TRAF_BLOCKS:
                parts.append("\n\n")
            if el is not body:
                add(el.tail)
    text = "\n".join(line.strip() for line in "".join(parts).split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return (text, extracted) if text else None


def _html_meta(tree: Any) -> tuple[str | None, Meta]:
    """The title (the article's <h1>, else <title> without the site suffix) and meta-tag metadata."""
    meta = Meta()

    def attr(selector: str, name: str) -> str | None:
        node = tree.css_first(selector)
        value = node.attributes.get(name) if node is not None else None
        return value.strip() if value and value.strip() else None

    meta.take(
        date=parse_date_value(
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
    return title, meta


def _html_body_text(tree: Any) -> str:
    """Block-structured text of the page's article element (selectolax walk); strips the tree."""
    tree.strip_tags(_HTML_DROP, recursive=True)
    # Listing pages wrap teaser cards in <article> too: the real article is the one with most text.
    candidates = tree.css("article") or tree.css("main")
    root = max(candidates, key=lambda n: len(n.text())) if candidates else tree.body
    if root is None:
        return ""

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
    return re.sub(r"\n{2,}", "\n\n", text).strip()


# "جريدة الفداء - <headline>": a <title> that starts with the outlet's name.
_OUTLET_PREFIX_RE = re.compile(r"^(?:جريدة|صحيفة|موقع|بوابة|مجلة|شبكة|وكالة|قناة)\s")


def _strip_site_suffix(title: str, site: str | None) -> str:
    """ "Headline | Site" → "Headline" (and "جريدة X - Headline" → "Headline"): <title> names the site."""
    for sep in (" | ", " - ", " – ", " — ", " :: "):
        head, found, tail = title.rpartition(sep)
        if found and head and (tail.strip() == site or (sep == " | " and word_count(tail) <= 4)):
            return head.strip()
    for sep in (" | ", " - ", " – ", " — ", " :: "):
        head, found, tail = title.partition(sep)
        prefix = head.strip()
        if found and tail.strip() and (prefix == site or (_OUTLET_PREFIX_RE.match(prefix) and word_count(prefix) <= 4)):
            return tail.strip()
    return title


def _ancestors(node: Any) -> Iterator[Any]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jsonl_records(path: Path, f: BinaryIO, max_bytes: int) -> Iterator[tuple[int, str, bytes] | Skipped]:
    """(line number, text, raw bytes) of each non-blank line, streamed: memory stays bounded by
    one record. A record over ``max_bytes`` is skipped and reported. UTF-8 (with or without BOM)
    is read line by line; any other encoding is detected on the whole file (up to a size cap)."""
    first = f.read(4)
    f.seek(0)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in first:
        raw = f.read(max_bytes * _NON_UTF8_JSONL_FACTOR + 1)
        if len(raw) > max_bytes * _NON_UTF8_JSONL_FACTOR:
            yield Skipped(
                str(path), f"a non-UTF-8 .jsonl file over {_mb(max_bytes * _NON_UTF8_JSONL_FACTOR)}: save it as UTF-8"
            )
            return
        text, encoding = _decode(raw)
        for lineno, line in enumerate(text.split("\n"), start=1):
            line = line.rstrip("\r")
            if line.strip():
                try:
                    yield lineno, line, line.encode(encoding)
                except (UnicodeEncodeError, LookupError):
                    yield lineno, line, line.encode("utf-8")
        return
    lineno = 0
    while True:
        raw_line = f.readline(max_bytes + 1)
        if not raw_line:
            return
        lineno += 1
        if len(raw_line) > max_bytes and not raw_line.endswith(b"\n"):
            size = len(raw_line)
            while (more := f.readline(1 << 20)) and not more.endswith(b"\n"):
                size += len(more)
            yield Skipped(
                str(path),
                f"line {lineno}: the record is {_mb(size + len(more))}, "
                f"over the {_mb(max_bytes)} limit for one article",
            )
            continue
        if lineno == 1 and raw_line.startswith(codecs.BOM_UTF8):
            raw_line = raw_line[len(codecs.BOM_UTF8) :]
        raw_line = raw_line.rstrip(b"\n").rstrip(b"\r")
        if not raw_line.strip():
            continue
        try:
            yield lineno, raw_line.decode("utf-8"), raw_line
        except UnicodeDecodeError:
            yield Skipped(str(path), f"line {lineno}: not valid UTF-8 text")


def _load_jsonl(path: Path, f: BinaryIO, max_bytes: int) -> Iterator[Document | Skipped | tuple[Document, str]]:
    seen: dict[str, int] = {}
    where = str(path)
    for item in _jsonl_records(path, f, max_bytes):
        if isinstance(item, Skipped):
            yield item
            continue
        lineno, line, line_bytes = item
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
        hints = Meta()

        def field_str(name: str, _record: dict[str, Any] = record) -> str | None:
            value = _record.get(name)
            return (" ".join(clean_unicode(value).split()) or None) if isinstance(value, str) else None

        hints.take(parse_date_value(record.get("date")), field_str("source"), field_str("author"))
        # The hash is of the line's own bytes (without its line break), so editing one record
        # re-indexes only that record.
        try:
            doc, report = clean_with_report(
                body,
                doc_id=doc_id,
                title=field_str("title"),
                path=str(path),
                content_hash=_sha256(line_bytes),
                hints=hints,
            )
        except IngestError:
            yield Skipped(where, f"line {lineno}: no article text left after cleaning (id {doc_id!r})")
            continue
        note = report.notice()
        yield (doc, f"line {lineno} (id {doc_id!r}): {note}") if note else doc


# A .jsonl file in another encoding than UTF-8 must be decoded whole: allow it this many articles' worth.
_NON_UTF8_JSONL_FACTOR = 20


def _mb(n: int | float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} KB"


def _open_regular(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """Open a file for reading only if it is a regular file: a named pipe, device or socket would
    block or never end. O_NONBLOCK makes opening a FIFO return at once instead of waiting."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a named pipe" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a folder" if stat.S_ISDIR(st.st_mode)
                else "not a regular file"
            )  # fmt: skip
            raise _Unreadable(f"{kind}, not a regular file: skipped")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def _load_file(path: Path, max_bytes: int) -> Iterator[Document | Skipped | tuple[Document, str]]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(str(path), f"unsupported file type {suffix or '(none)'!r}; use {', '.join(SUPPORTED_SUFFIXES)}")
        return
    try:
        f, st = _open_regular(path)
    except _Unreadable as exc:
        yield Skipped(str(path), str(exc))
        return
    except OSError as exc:
        reason = "a symbolic link that loops" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        yield Skipped(str(path), f"cannot read file: {reason}")
        return
    with f:
        try:
            if suffix == ".jsonl":
                yield from _load_jsonl(path, f, max_bytes)
                return
            if st.st_size > max_bytes:
                yield Skipped(
                    str(path),
                    f"the file is {_mb(st.st_size)}, over the {_mb(max_bytes)} limit for one article "
                    "(raise it with RAG_MAX_FILE_MB if it really is one article)",
                )
                return
            raw = f.read(max_bytes + 1)
            if len(raw) > max_bytes:  # it grew while we looked
                yield Skipped(str(path), f"the file is over the {_mb(max_bytes)} limit for one article")
                return
            text, _ = _decode(raw)
            hints: Meta | None = None
            title: str | None = None
            if suffix == ".md":
                text, title, hints = _markdown_to_text(text)
            elif suffix in (".html", ".htm"):
                text, title, hints = _html_to_text(text)
            doc, report = clean_with_report(
                text, doc_id=path.name, title=title, path=str(path), content_hash=_sha256(raw), hints=hints
            )
            note = report.notice()
            yield (doc, note) if note else doc
        except _Unreadable as exc:
            yield Skipped(str(path), str(exc))
        except IngestError:
            yield Skipped(str(path), "no article text left after removing site boilerplate")
        except OSError as exc:
            yield Skipped(str(path), f"cannot read file: {exc.strerror or exc}")


def _walk(folder: Path, skipped: list[Skipped]) -> list[Path]:
    """Supported, non-hidden files under ``folder``, recursively, sorted by path. Folders that
    cannot be listed and links to folders (never followed: they can loop) are reported."""
    found: list[Path] = []

    def unlistable(exc: OSError) -> None:
        skipped.append(Skipped(str(exc.filename or folder), f"cannot list folder: {exc.strerror or exc}", folder=True))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unlistable):
        keep = []
        for d in dirnames:
            if d.startswith("."):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                skipped.append(
                    Skipped(os.path.join(dirpath, d), "a link to a folder (not followed: give the folder itself)")
                )
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.as_posix())


def _expand(paths: Iterable[str | Path], skipped: list[Skipped]) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if not os.path.lexists(path):
            raise IngestError(
                f"{path}: no such file or folder. Check the path, or pass a folder of articles "
                f"({', '.join(SUPPORTED_SUFFIXES)})."
            )
        files.extend(_walk(path, skipped) if path.is_dir() else [path])
    return files


@dataclass(frozen=True)
class LoadReport:
    """Everything read from some paths: the articles, what was skipped, and notices about articles
    that were loaded but lost much of their text in cleaning."""

    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]
    notices: tuple[Skipped, ...] = ()


def read_articles(paths: Sequence[str | Path], *, max_file_mb: float = 5.0) -> LoadReport:
    """Load and clean every article under ``paths``; unreadable files are reported, not fatal."""
    if isinstance(paths, str | Path):
        paths = [paths]
    max_bytes = int(max_file_mb * 1e6)
    skipped: list[Skipped] = []
    files = _expand(paths, skipped)
    documents: list[Document] = []
    notices: list[Skipped] = []
    seen_files: set[str] = set()
    for path in files:
        resolved = os.path.realpath(path)
        if resolved in seen_files:  # the same file reached twice (a folder and a file in it)
            continue
        seen_files.add(resolved)
        for item in _load_file(path, max_bytes):
            if isinstance(item, Skipped):
                skipped.append(item)
            elif isinstance(item, tuple):
                documents.append(item[0])
                notices.append(Skipped(item[0].path, item[1]))
            else:
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
    return LoadReport(tuple(documents), tuple(skipped), tuple(notices))


def load_documents(paths: Sequence[str | Path], *, max_file_mb: float = 5.0) -> tuple[list[Document], list[Skipped]]:
    """Load and clean every article under ``paths``: (documents, skipped files with reasons)."""
    report = read_articles(paths, max_file_mb=max_file_mb)
    return list(report.documents), list(report.skipped)
