"""Writes docs/reliability.md from the rows the reliability tests record (see conftest.record)."""

from __future__ import annotations

from pathlib import Path

KINDS = ["files", "questions", "index damage", "index folder", "concurrency", "crashes", "resources", "commands"]

HEADER = """# Reliability: bad inputs and faults, and what `rag` does

Every row below was written by the test named in its last column, from what the test observed
(error lines are quoted as printed; `$TMP` is the test's temporary folder). Regenerate with:

```bash
RAG_RELIABILITY_DOC=docs/reliability.md python -m pytest -q
```

Every failure a user can cause ends in one line `rag: error: …` and exit code 2, never a traceback;
nothing already indexed is lost. Rows marked **#7.N** are the eight situations of issue 7,
reproduced the same way.

"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def write_reliability_doc(target: Path, rows: list[dict[str, str]]) -> None:
    order = {k: n for n, k in enumerate(KINDS)}
    rows = sorted(rows, key=lambda r: (order.get(r["kind"], len(KINDS)), r["test"]))
    lines = [
        HEADER,
        f"{len(rows)} situations.\n",
        "| # | kind | situation | reproduction | observed | test |",
        "|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rows, 1):
        test = r["test"].split("::")[-1]
        cells = [str(n), r["kind"], _cell(r["situation"]), _cell(r["reproduction"]), _cell(r["observed"]), f"`{test}`"]
        lines.append("| " + " | ".join(cells) + " |")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
