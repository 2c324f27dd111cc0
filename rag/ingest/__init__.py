"""Files → clean Documents: formats, boilerplate removal, metadata (title, date, source, author).

``readers`` decides which files are read and turns each format into text, ``boilerplate`` removes
site furniture line by line, ``metadata`` finds dates, bylines and sources.
"""

from .boilerplate import clean_article, clean_unicode
from .readers import SUPPORTED_SUFFIXES, LoadReport, Skipped, load_documents, read_articles

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadReport",
    "Skipped",
    "clean_article",
    "clean_unicode",
    "load_documents",
    "read_articles",
]
