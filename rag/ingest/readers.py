"""Files → Documents: which files are read, how each format (.txt .md .html .jsonl) becomes text.

Only the standard library is imported at module level; selectolax (HTML) and charset-normalizer
(encoding detection) are imported where they are needed.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import IngestError, NoDocumentsError
from rag.types import Document

from .boilerplate import clean_document, clean_unicode
from .metadata import Meta, parse_date_value, word_count

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".jsonl")


@dataclass(frozen=True)
class Skipped:
    """A file (or one jsonl line) that was not loaded, and why."""

    path: str
    reason: str


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
    """Parse HTML; return (block-structured text of the article, title, metadata from meta tags)."""
    from selectolax.lexbor import LexborHTMLParser  # lazy: only when HTML files are ingested

    tree = LexborHTMLParser(html)
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
        if found and head and (tail.strip() == site or (sep == " | " and word_count(tail) <= 4)):
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
        hints = Meta()

        def field_str(name: str, _record: dict[str, Any] = record) -> str | None:
            value = _record.get(name)
            return (" ".join(clean_unicode(value).split()) or None) if isinstance(value, str) else None

        hints.take(parse_date_value(record.get("date")), field_str("source"), field_str("author"))
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
            yield clean_document(
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
        hints: Meta | None = None
        title: str | None = None
        if suffix == ".md":
            text, title, hints = _markdown_to_text(text)
        elif suffix in (".html", ".htm"):
            text, title, hints = _html_to_text(text)
        yield clean_document(
            text, doc_id=path.name, title=title, path=str(path), content_hash=_sha256(raw), hints=hints
        )
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
