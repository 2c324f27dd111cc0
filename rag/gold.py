"""Gold question sets: our JSONL format and SQuAD v1.1 JSON (whose contexts become the corpus)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import GoldFormatError
from .types import Document


@dataclass(frozen=True)
class GoldQuestion:
    """One gold question: acceptable answers (best first) and the documents that hold them."""

    qid: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...] = ()
    answerable: bool = True
    where: str = ""  # file:line or SQuAD record path, for error messages


@dataclass(frozen=True)
class GoldSet:
    """Questions, plus the documents they are about when the file carries them (SQuAD)."""

    name: str
    path: str
    sha256: str
    questions: tuple[GoldQuestion, ...]
    documents: tuple[Document, ...] = ()
    kind: str = "jsonl"


def load_gold(path: str | Path) -> GoldSet:
    """Read a gold file: ``.jsonl`` (one question per line) or SQuAD v1.1 ``.json``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise GoldFormatError(f"gold file {p} does not exist") from exc
    except OSError as exc:
        raise GoldFormatError(f"cannot read gold file {p}: {exc.strerror}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GoldFormatError(f"{p} is not UTF-8 text") from exc
    stripped = text.lstrip()
    suffix = p.suffix.lower()
    # Only a file with neither suffix is sniffed: a one-line .jsonl may well mention "data".
    if suffix == ".json" or (
        suffix != ".jsonl" and stripped.startswith("{") and '"data"' in stripped[:2000] and "\n{" not in stripped
    ):
        return _load_squad(p, text, digest)
    return _load_jsonl(p, text, digest)


def _load_jsonl(p: Path, text: str, digest: str) -> GoldSet:
    questions: list[GoldQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFormatError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise GoldFormatError(f"{where}: expected a JSON object")
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise GoldFormatError(f"{where}: missing field 'question'")
        answers = row.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise GoldFormatError(f"{where}: 'answers' must be a list of strings")
        sources = row.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise GoldFormatError(f"{where}: 'sources' must be a list of document ids")
        answerable = row.get("answerable", bool(answers))
        if not isinstance(answerable, bool):
            raise GoldFormatError(f"{where}: 'answerable' must be true or false")
        if answerable and not answers:
            raise GoldFormatError(f"{where}: an answerable question needs at least one answer")
        qid = str(row.get("id", f"line{n}"))
        if qid in seen:
            raise GoldFormatError(f"{where}: duplicate id {qid!r}")
        seen.add(qid)
        questions.append(GoldQuestion(qid, question.strip(), tuple(answers), tuple(sources), answerable, where))
    if not questions:
        raise GoldFormatError(f"{p} holds no questions")
    return GoldSet(p.name, str(p), digest, tuple(questions), (), "jsonl")


def _load_squad(p: Path, text: str, digest: str) -> GoldSet:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GoldFormatError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise GoldFormatError(f"{p}: a SQuAD file needs a top-level 'data' list")
    docs: list[Document] = []
    questions: list[GoldQuestion] = []
    for ai, article in enumerate(data["data"]):
        title = str(article.get("title", "")).strip() if isinstance(article, dict) else ""
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise GoldFormatError(f"{p}: data[{ai}] has no 'paragraphs' list")
        for pi, para in enumerate(paragraphs):
            where = f"{p}: data[{ai}].paragraphs[{pi}]"
            context = para.get("context") if isinstance(para, dict) else None
            if not isinstance(context, str) or not context.strip():
                raise GoldFormatError(f"{where} has no 'context'")
            doc_id = f"squad-{ai:04d}-{pi:03d}"
            docs.append(
                Document(
                    doc_id=doc_id,
                    title=title or doc_id,
                    text=context.strip(),
                    path=str(p),
                    content_hash=hashlib.sha256(f"{title}\n{context}".encode()).hexdigest(),
                )
            )
            qas = para.get("qas") or []
            if not isinstance(qas, list):
                raise GoldFormatError(f"{where}: 'qas' must be a list of questions")
            for qi, qa in enumerate(qas):
                qwhere = f"{where}.qas[{qi}]"
                q = qa.get("question") if isinstance(qa, dict) else None
                if not isinstance(q, str) or not q.strip():
                    raise GoldFormatError(f"{qwhere} has no 'question'")
                answers = [a.get("text") for a in qa.get("answers", []) if isinstance(a, dict)]
                if not answers or not all(isinstance(a, str) for a in answers):
                    raise GoldFormatError(f"{qwhere} has no answer texts")
                # Crowd-written ARCD questions carry list dashes and stray spaces: " - من هو …؟ "
                clean_q = q.strip().lstrip("-–— ").strip()
                questions.append(
                    GoldQuestion(
                        str(qa.get("id", f"{doc_id}-{qi}")),
                        clean_q,
                        tuple(dict.fromkeys(map(str, answers))),
                        (doc_id,),
                        True,
                        qwhere,
                    )
                )
    if not questions:
        raise GoldFormatError(f"{p} holds no questions")
    return GoldSet(p.name, str(p), digest, tuple(questions), tuple(docs), "squad")
