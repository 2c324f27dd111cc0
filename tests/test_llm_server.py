"""LLM answers against a REAL OpenAI-compatible server on 127.0.0.1: llama.cpp (the xllamacpp wheel)
serving a tiny random-weight GGUF the test writes itself. Asserts the plumbing, not the prose."""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rag.config import Settings
from rag.pipeline import RAG

from .tiny_gguf import write_tiny_gguf

pytest.importorskip("xllamacpp", reason="the llm extra is not installed")
pytestmark = pytest.mark.slow

QUESTION = "كم عدد الجنود الأتراك الذين قتلوا في إدلب؟"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture
def server(tiny_model: Path):  # type: ignore[no-untyped-def]
    from rag.llm import gguf

    srv = gguf.serve(str(tiny_model), threads=1)
    yield srv
    gguf.stop_all()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as r:
        return int(r.status)


def test_gguf_mode_starts_a_loopback_server_on_first_use_and_stops_it(sample_index: Path, tiny_model: Path) -> None:
    from rag.llm import gguf

    rag = RAG(Settings.from_env(llm=f"gguf:{tiny_model}", llm_threads=1, llm_max_tokens=24))
    assert not gguf._servers  # nothing runs before the first question
    a = rag.answer(QUESTION)
    assert a.model == f"gguf:{tiny_model}" and a.answered
    (server,) = gguf._servers.values()
    assert server.address.startswith("http://127.0.0.1:")
    assert _get(server.address + "/v1/models") == 200
    # The model's noise is either checked into an llm answer or replaced by the extractive one.
    assert (a.mode == "llm" and "llm" in a.timings_ms) or any("garbled" in n for n in a.notes)
    assert rag.answer(QUESTION).model == a.model and len(gguf._servers) == 1  # reused, not restarted
    gguf.stop_all()
    assert server.process.poll() is not None
    with pytest.raises(urllib.error.URLError):
        _get(server.address + "/health")


def test_openai_mode_streams_tokens_over_http(sample_index: Path, server) -> None:  # type: ignore[no-untyped-def]
    rag = RAG(Settings.from_env(llm="openai:tiny", llm_base_url=server.address + "/v1", llm_max_tokens=32))
    pieces = list(rag.stream(QUESTION))
    partial = [p for p in pieces if p.partial]
    assert len(partial) >= 2, "tokens arrive one by one"
    assert all(b.text.startswith(a.text) for a, b in itertools.pairwise(partial))
    final = pieces[-1]
    assert not final.partial and final.answered


def test_a_timeout_falls_back_within_the_limit(sample_index: Path, server) -> None:  # type: ignore[no-untyped-def]
    import time

    rag = RAG(Settings.from_env(llm="openai:tiny", llm_base_url=server.address + "/v1", llm_timeout=0.01))
    rag.answer(QUESTION, use_llm=False)  # load the index and model first: only the model call is timed
    t0 = time.perf_counter()
    a = rag.answer(QUESTION)
    assert time.perf_counter() - t0 < 5
    assert a.mode == "extractive" and "6 جنود أتراك" in a.text
    assert any("was unavailable" in n and "Timeout" in n for n in a.notes), a.notes


def test_the_server_stopped_mid_session_falls_back(sample_index: Path, tiny_model: Path) -> None:
    from rag.llm import gguf

    srv = gguf.serve(str(tiny_model), threads=1)
    rag = RAG(Settings.from_env(llm="openai:tiny", llm_base_url=srv.address + "/v1", llm_max_tokens=16))
    first = rag.answer(QUESTION)
    assert not any("was unavailable" in n for n in first.notes if "garbled" not in n)
    gguf.stop_all()
    a = rag.answer(QUESTION)
    assert a.mode == "extractive" and a.answered and "6 جنود أتراك" in a.text
    assert any("was unavailable" in n and "Connection" in n for n in a.notes), a.notes
