import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_documents
from rag.errors import ConfigError
from rag.tokens import get_encoding, token_counter
from rag.types import Document

ARTICLE = (Path(__file__).resolve().parents[1] / "data" / "articles" / "003_186e581e48ef242c.txt").read_text("utf-8")


def test_tiktoken_vocabulary_comes_from_the_bundled_file() -> None:
    enc = get_encoding("cl100k_base")
    assert enc.encode("hello world") == [15339, 1917]  # the official cl100k ids
    assert enc.decode(enc.encode("قصفت قوات الأسد")) == "قصفت قوات الأسد"
    assert get_encoding("o200k_base").n_vocab > 199_000


def test_unknown_tokenizer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        get_encoding("r2d2")


def test_chunks_respect_budget_and_map_back_to_the_text() -> None:
    doc = Document("a.txt", "t", ARTICLE)
    count = token_counter()
    chunks = chunk_documents([doc], chunk_tokens=120, chunk_overlap=24)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert count(c.text) <= 120
    # Consecutive chunks overlap or touch: no sentence of the article is lost between them.
    for a, b in itertools.pairwise(chunks):
        assert b.start <= a.end or doc.text[a.end : b.start].strip() == ""
    assert chunks[0].start == 0 and chunks[-1].end == len(doc.text.rstrip())
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_chunks_break_at_sentence_ends_when_they_can() -> None:
    doc = Document("a.txt", "t", ARTICLE)
    for c in chunk_documents([doc], chunk_tokens=200, chunk_overlap=0)[:-1]:
        assert c.text[-1] in '.؟!،؛"”' or doc.text[c.end : c.end + 1] == "\n"


def test_chunk_ids_are_stable() -> None:
    doc = Document("a.txt", "t", ARTICLE)
    one = [c.chunk_id for c in chunk_documents([doc], chunk_tokens=150, chunk_overlap=20)]
    two = [c.chunk_id for c in chunk_documents([doc], chunk_tokens=150, chunk_overlap=20)]
    assert one == two and len(set(one)) == len(one)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["قال", "الرئيس", "إن", "تركيا", "روسيا", "،", ".", "؟", "\n", "\n\n", "3.6", "مليون"]),
        min_size=1,
        max_size=300,
    )
)
def test_offsets_always_map_back(words: list[str]) -> None:
    text = " ".join(words).strip()
    if not text:
        return
    doc = Document("p", "t", text)
    for c in chunk_documents([doc], chunk_tokens=30, chunk_overlap=6):
        assert text[c.start : c.end] == c.text
