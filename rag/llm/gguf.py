"""`--llm gguf:PATH`: a local GGUF model served on a free loopback port by the xllamacpp wheel
(llama.cpp's OpenAI-compatible server, prebuilt), in a child process started on first use.

The child runs ``python -m rag.llm.gguf PATH`` and prints its address; it lives until its stdin
closes, which happens when this process exits for any reason (even kill -9), so a server is never
left behind. A crash inside llama.cpp takes down the child, not the caller.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModelUnavailableError

# Context of the served model, in its own tokens: the sources (llm_context_tokens of cl100k, which
# is roughly as many tokens of a multilingual model's vocabulary), the prompt and the answer fit.
N_CTX = 16384
START_TIMEOUT_S = 120.0


@dataclass
class Server:
    """A running GGUF server."""

    path: str
    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the server (closing its stdin; killing it if it does not exit at once)."""
        if self.process.poll() is None:
            try:
                if self.process.stdin:
                    self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


_servers: dict[tuple[str, int], Server] = {}
_lock = threading.Lock()


def check_gguf(path: str) -> Path:
    """The model file, if it exists and is a GGUF file; else a ConfigError saying which."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"gguf model {p}: no such file")
    with open(p, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"gguf model {p}: not a GGUF file (it does not start with the GGUF signature)")
    return p.resolve()


def serve(path: str, threads: int = 2) -> Server:
    """The server for ``path`` (started on first use, reused afterwards, stopped at exit)."""
    model = check_gguf(path)
    key = (str(model), threads)
    with _lock:
        server = _servers.get(key)
        if server is not None and server.process.poll() is None:
            return server
        server = _start(model, threads)
        _servers[key] = server
        return server


def _start(model: Path, threads: int) -> Server:
    try:
        import xllamacpp  # noqa: F401  (checked here, imported by the child)
    except ImportError as exc:
        raise ConfigError("--llm gguf:… needs xllamacpp: install the LLM extra: pip install -e '.[llm]'") from exc
    log = Path(tempfile.mkstemp(prefix="rag-gguf-", suffix=".log")[1])
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")  # do not spin on a shared 2-core machine
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.llm.gguf", str(model), str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    line = b""
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            break
    try:
        address = json.loads(line)["address"]
    except (ValueError, KeyError, TypeError):
        proc.kill()
        proc.wait()
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ModelUnavailableError(f"the gguf model {model} could not be served: {tail[0][:200]}") from None
    server = Server(str(model), address, proc, log)
    atexit.register(server.stop)
    return server


def stop_all() -> None:
    """Stop every server this process started."""
    with _lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()


def _main(argv: list[str]) -> None:  # pragma: no cover - runs in the child process
    import urllib.request

    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = argv[0]
    params.n_ctx = N_CTX
    params.n_parallel = 1
    params.cpuparams.n_threads = int(argv[1])
    params.cpuparams_batch.n_threads = int(argv[1])
    params.port = 0  # a free port, on 127.0.0.1 (the default host)
    params.use_jinja = True  # the model's own chat template
    server = xlc.Server(params)
    address = server.listening_address
    urllib.request.urlopen(address + "/health", timeout=30).read()
    print(json.dumps({"address": address}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    os._exit(0)  # llama.cpp's destructors can block on shutdown: nothing is left to flush


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1:])
