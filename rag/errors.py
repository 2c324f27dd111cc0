"""Typed errors. The library raises these; only the CLI and the UI turn them into messages."""

from __future__ import annotations


class RagError(Exception):
    """Base class: the message tells the user what to do."""


class ConfigError(RagError):
    """A setting has a value we cannot use."""


class IngestError(RagError):
    """An input file cannot be read or has no usable article in it."""


class NoDocumentsError(IngestError):
    """Nothing indexable was found in the given paths."""


class ModelUnavailableError(RagError):
    """The embedding model cannot be loaded offline."""


class StoreError(RagError):
    """Base for problems with the persisted index."""


class IndexMissingError(StoreError):
    """No index exists where one was expected."""


class IndexMismatchError(StoreError):
    """The index was built with different settings than the ones in use."""


class IndexCorruptError(StoreError):
    """The index files are unreadable, damaged or inconsistent."""


class IndexBusyError(StoreError):
    """Another process is writing the index and we were told not to wait."""


class QuestionError(RagError):
    """The question (or a retrieval parameter given with it) cannot be used as it is."""


class GoldFormatError(RagError):
    """A gold question file is malformed."""
