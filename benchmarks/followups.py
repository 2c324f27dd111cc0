"""How many follow-up questions each mode answers, on the multi-turn gold set over the sample articles.

    python benchmarks/followups.py                      # extractive: follow-up alone vs with history
    python benchmarks/followups.py --llm gguf:/path.gguf # also the model's rewriting and answers

A follow-up counts as answered when the answer is not a refusal and contains one of its gold
answers (after Arabic normalisation), and its first citation is the gold article.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.arabic import normalize_arabic  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.pipeline import RAG  # noqa: E402

GOLD = ROOT / "data" / "gold" / "conversations.jsonl"


def correct(answer, turn) -> bool:  # type: ignore[no-untyped-def]
    if not answer.answered or not answer.citations:
        return False
    text = normalize_arabic(answer.text + " " + " ".join(c.quote for c in answer.citations))
    cited = {c.doc_id for c in answer.citations}
    return any(normalize_arabic(a) in text for a in turn["answers"]) and bool(cited & set(turn["sources"]))


def run(rag: RAG, conversations: list[dict], *, history: bool, use_llm: bool) -> tuple[int, int, int]:
    first_ok = follow_ok = follow_n = 0
    for conv in conversations:
        messages: list[dict[str, str]] = []
        for n, turn in enumerate(conv["turns"]):
            a = rag.answer(turn["question"], history=messages if history else None, use_llm=use_llm)
            ok = correct(a, turn)
            if n == 0:
                first_ok += ok
            else:
                follow_n += 1
                follow_ok += ok
            messages += [{"role": "user", "content": turn["question"]}, {"role": "assistant", "content": a.text}]
    return first_ok, follow_ok, follow_n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--llm", help="also measure this model (openai:…, ollama:…, gguf:…)")
    p.add_argument("--llm-base-url")
    args = p.parse_args()
    conversations = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    rag = RAG(Settings.from_env(llm=args.llm, llm_base_url=args.llm_base_url))
    rows = [
        ("extractive, follow-up asked alone", dict(history=False, use_llm=False)),
        ("extractive, with history (subject carried)", dict(history=True, use_llm=False)),
    ]
    if args.llm:
        rows.append((f"{args.llm}, with history (rewritten by the model)", dict(history=True, use_llm=True)))
    print(f"{len(conversations)} conversations, {sum(len(c['turns']) - 1 for c in conversations)} follow-ups\n")
    print("| mode | first questions answered | follow-ups answered |")
    print("|---|---|---|")
    for name, kw in rows:
        first, ok, n = run(rag, conversations, **kw)  # type: ignore[arg-type]
        print(f"| {name} | {first}/{len(conversations)} | {ok}/{n} |", flush=True)


if __name__ == "__main__":
    main()
