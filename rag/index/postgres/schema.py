"""The project's schema in PostgreSQL: created and versioned here, with pgvector checked first.

Every table lives in one PostgreSQL schema (``rag`` by default), so one database can hold several
indexes (and the tests a fresh one each). ``schema.sql`` beside this file is the whole layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError, IndexMismatchError, StoreError

if TYPE_CHECKING:
    import psycopg

# 1: the first layout; 2: term_df (document frequencies kept by the writers, not counted per query).
SCHEMA_VERSION = 2
# hnsw.iterative_scan (a LIMIT deeper than ef_search still returns every row) came in 0.8.0.
MIN_PGVECTOR = (0, 8, 0)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Settings that decide what the stored rows mean: a store opened with other values is refused.
FIXED_KEYS = ("embedding_model", "dim", "index_settings", "analyzer", "bm25")


@dataclass(frozen=True)
class HnswParams:
    """pgvector HNSW parameters: m and ef_construction at build time, ef_search per query (≥ the pool)."""

    m: int = 16
    ef_construction: int = 64
    ef_search: int = 100

    def __post_init__(self) -> None:
        if not 2 <= self.m <= 100:
            raise ConfigError(f"HNSW m must be between 2 and 100 (pgvector's range), not {self.m}")
        if not 4 <= self.ef_construction <= 1000 or self.ef_construction < 2 * self.m:
            raise ConfigError(
                f"HNSW ef_construction must be between 4 and 1000 and at least 2×m, not {self.ef_construction}"
            )
        if not 1 <= self.ef_search <= 1000:
            raise ConfigError(f"HNSW ef_search must be between 1 and 1000, not {self.ef_search}")


def check_schema_name(name: str) -> str:
    """A PostgreSQL schema name we can put in SQL unquoted: lower-case letters, digits, underscores."""
    if not _IDENT.match(name):
        raise ConfigError(f"the PostgreSQL schema name must be lower-case letters, digits and _, not {name!r}")
    return name


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def check_pgvector(conn: psycopg.Connection[Any]) -> None:
    """Raise a one-line StoreError when the server lacks pgvector or has one older than MIN_PGVECTOR."""
    row = conn.execute(
        "SELECT default_version, installed_version FROM pg_available_extensions WHERE name = 'vector'"
    ).fetchone()
    need = ".".join(map(str, MIN_PGVECTOR))
    if row is None:
        raise StoreError(
            f"the PostgreSQL server has no pgvector extension: install pgvector >= {need} on it "
            "(package postgresql-NN-pgvector, or build it from source)"
        )
    default, installed = row
    if installed is not None and _version(installed) < MIN_PGVECTOR:
        hint = "ALTER EXTENSION vector UPDATE" if _version(default) >= MIN_PGVECTOR else f"install pgvector >= {need}"
        raise StoreError(f"pgvector {installed} is installed in this database, rag needs >= {need}: {hint}")
    if installed is None and _version(default) < MIN_PGVECTOR:
        raise StoreError(f"the server's pgvector is {default}, rag needs >= {need}: install a newer pgvector")


def create_schema(
    conn: psycopg.Connection[Any], schema: str, dim: int, hnsw: HnswParams, meta: Mapping[str, str]
) -> dict[str, str]:
    """Create the extension, schema and tables if missing and record ``meta``; refuse other settings.

    Runs in one transaction under an advisory lock, so processes opening a new database at once
    create it once. Returns the stored meta (the first creator's values, checked against ours).
    """
    import psycopg

    check_schema_name(schema)
    if dim <= 0:
        raise ConfigError(f"the embedding dimension must be positive, not {dim}")
    check_pgvector(conn)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('rag-schema'))")
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                "pgvector is installed on the server but not in this database, and this user may not add it: "
                "ask an administrator to run CREATE EXTENSION vector"
            ) from exc
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"SET LOCAL search_path = {schema}, {extension_schema(conn)}")
        exists = conn.execute("SELECT to_regclass('rag_meta') IS NOT NULL").fetchone()
        stored: dict[str, str] = {}
        if exists and exists[0]:
            stored = dict(conn.execute("SELECT key, value FROM rag_meta").fetchall())
            version = int(stored.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the index in schema {schema} has schema version {version}; this rag knows {SCHEMA_VERSION}: "
                    "upgrade rag"
                )
        sql = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
        conn.execute(sql.format(dim=int(dim), m=int(hnsw.m), ef_construction=int(hnsw.ef_construction)).encode())
        if stored and int(stored.get("schema_version", "0")) < 2:
            # Version 1 counted document frequencies per query: count them once into term_df.
            conn.execute("INSERT INTO term_df (term, df) SELECT term, count(*) FROM postings GROUP BY term")
            conn.execute("UPDATE rag_meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            stored["schema_version"] = str(SCHEMA_VERSION)
        wanted = {
            "schema_version": str(SCHEMA_VERSION),
            "hnsw_m": str(hnsw.m),
            "hnsw_ef_construction": str(hnsw.ef_construction),
            **meta,
        }
        check_meta(stored, wanted, schema)
        for key, value in wanted.items():
            if key not in stored:
                conn.execute("INSERT INTO rag_meta (key, value) VALUES (%s, %s)", (key, value))
        return {**wanted, **stored}


def check_version(stored: Mapping[str, str], schema: str) -> None:
    """Refuse (one line) to read an index whose schema version is not this rag's."""
    version = int(stored.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the index in schema {schema} has schema version {version}; this rag knows {SCHEMA_VERSION}: upgrade rag"
        )
    if version < SCHEMA_VERSION:
        raise StoreError(
            f"the index in schema {schema} has schema version {version}, this rag reads {SCHEMA_VERSION}: "
            "run `rag index PATHS` once with this rag to upgrade it"
        )


def check_meta(stored: Mapping[str, str], wanted: Mapping[str, str], schema: str) -> None:
    """Refuse (one line) a store whose embedding model, dimension, chunking or analyzer differ."""
    for key in FIXED_KEYS:
        if key in stored and key in wanted and stored[key] != wanted[key]:
            raise IndexMismatchError(
                f"the index in PostgreSQL schema {schema} was built with {key} {_short(stored[key])}, "
                f"not {_short(wanted[key])}: rebuild it (`rag index --rebuild`) or use another RAG_PG_SCHEMA"
            )


def _short(value: str) -> str:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        return ", ".join(f"{k}={v}" for k, v in parsed.items())
    return str(parsed)


def extension_schema(conn: psycopg.Connection[Any]) -> str:
    """The schema pgvector's types and operators live in (``public`` unless the DBA chose another)."""
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
    ).fetchone()
    return check_schema_name(row[0]) if row else "public"
