"""Dense vs keyword vs fused retrieval on ARCD and the seed set (how W_DENSE_FUSION was chosen).

    python benchmarks/fusion_study.py

Each question is embedded once; every variant then ranks the same index. A hit counts the
passage's article or any article that carries exactly the same passage text (`also_in`),
as `rag eval` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag import retrieve as R  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluate import prepare  # noqa: E402
from rag.gold import load_gold  # noqa: E402
from rag.pipeline import RAG  # noqa: E402

GOLD = [ROOT.parent / "shared" / "gold" / "seed_qa.jsonl", ROOT.parent / "shared" / "gold" / "arcd-train.json"]
VARIANTS: list[tuple[str, dict[str, object]]] = [
    ("dense", {"mode": "dense"}),
    ("keyword (BM25)", {"mode": "keyword"}),
    ("hybrid, RRF (k=60)", {"mode": "hybrid", "fusion": "rrf"}),
    *[
        (f"hybrid, min-max score fusion w={w}", {"mode": "hybrid", "fusion": "score", "weight": w})
        for w in (0.3, 0.4, 0.5, 0.6, 0.7)
    ],
]


def main() -> None:
    print("| set | retrieval | hit@1 | hit@3 | hit@5 | hit@10 | mrr@10 |")
    print("|---|---|---|---|---|---|---|")
    for path in GOLD:
        gold = load_gold(path)
        rag = RAG(prepare(gold, Settings.from_env(), None)[0])
        store, keywords = rag.store, rag.keywords
        questions = [q for q in gold.questions if q.answerable]
        vectors = [rag.embeddings.embed_query_vector(q.question) for q in questions]
        for label, kwargs in VARIANTS:
            ranks = []
            for q, v in zip(questions, vectors, strict=True):
                passages = R.retrieve(store, v, 10, question=q.question, keywords=keywords, **kwargs)  # type: ignore[arg-type]
                ranks.append(next((p.rank for p in passages if {p.chunk.doc_id, *p.also_in} & set(q.sources)), None))
            hit = [np.mean([r is not None and r <= k for r in ranks]) for k in (1, 3, 5, 10)]
            mrr = np.mean([1 / r if r else 0.0 for r in ranks])
            print(f"| {gold.name} | {label} | " + " | ".join(f"{h:.3f}" for h in hit) + f" | {mrr:.3f} |")


if __name__ == "__main__":
    main()
