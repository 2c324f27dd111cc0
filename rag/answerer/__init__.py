"""Answering: the extractive answerer (quotes, refusal), and answers written by a language model
from numbered sources (llm.py) with their citations checked (citations.py).

Only the extractive part is imported here: the language-model parts load with --llm.
"""

from .extractive import (
    NOT_FOUND,
    REFUSAL_THRESHOLD,
    DenseScale,
    Evidence,
    answer_type,
    extract_answer,
    refusal_score,
    score_units,
)

__all__ = [
    "NOT_FOUND",
    "REFUSAL_THRESHOLD",
    "DenseScale",
    "Evidence",
    "answer_type",
    "extract_answer",
    "refusal_score",
    "score_units",
]
