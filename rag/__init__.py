"""rag: cited answers to Arabic questions over news articles.

    >>> from rag import answer
    >>> a = answer("كم عدد الجنود الأتراك الذين قتلوا في إدلب؟")
    >>> a.text, a.citations[0].title

Importing this package is cheap: models, FAISS and LangChain load on first use.
"""

from .config import Settings
from .errors import (
    ConfigError,
    GoldFormatError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IngestError,
    ModelUnavailableError,
    NoDocumentsError,
    RagError,
    StoreError,
)
from .pipeline import RAG, answer
from .types import Answer, Chunk, Citation, Document, Passage

__all__ = [
    "RAG",
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Document",
    "GoldFormatError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IngestError",
    "ModelUnavailableError",
    "NoDocumentsError",
    "Passage",
    "RagError",
    "Settings",
    "StoreError",
    "answer",
]
__version__ = "0.1.0"
