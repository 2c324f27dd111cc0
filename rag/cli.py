"""`rag index | list | remove | repair | ask | eval | bench`: the library raises typed errors, this module reports them.

Every failure a user can cause ends in one line on stderr (``rag: error: …``) and exit code 2;
an interrupted command exits 130; a closed output pipe (``rag ask … | head -1``) is not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .config import MAX_TOP_K, Settings
from .errors import RagError


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        index_dir=getattr(args, "index_dir", None),
        retrieval=getattr(args, "retrieval", None),
        llm=getattr(args, "llm", None),
        llm_base_url=getattr(args, "llm_base_url", None),
        llm_timeout=getattr(args, "llm_timeout", None),
    )


def _err(message: str) -> None:
    print(f"rag: {message}", file=sys.stderr)


def cmd_index(args: argparse.Namespace) -> int:
    from .pipeline import RAG

    rag = RAG(_settings(args))
    result = rag.index(args.paths or None, sync=args.sync, rebuild=args.rebuild, wait=not args.no_wait)
    b = result.build
    print(
        f"indexed {b.n_documents} articles, {b.n_chunks} chunks in {rag.settings.index_location}: "
        f"added {len(b.added)}, changed {len(b.changed)}, removed {len(b.removed)}"
        + (f", kept {len(b.kept)} whose files failed to load" if b.kept else "")
        + f"; {b.embedded_chunks} chunks embedded in {b.seconds:.1f}s"
    )
    for s in result.notices:
        _err(f"note: {s.path}: {s.reason}")
    for d in b.duplicates:
        _err(f"not indexed: {d.path}: the same article as {d.same_as!r}, which is indexed already")
    if result.skipped:
        _err(f"skipped {len(result.skipped)}:")
        for s in result.skipped:
            _err(f"  {s.path}: {s.reason}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from .pipeline import RAG

    rag = RAG(_settings(args))
    b = rag.remove(args.ids, wait=not args.no_wait)
    print(f"removed {len(b.removed)} ({', '.join(b.removed)}); the index now holds {b.n_documents} articles")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .pipeline import RAG

    rows = RAG(_settings(args), auto_index=False).list_articles()
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        print("\t".join([r.doc_id, r.title, r.date or "-", r.source or "-", f"{r.chunks} chunks"]))
    print(f"{len(rows)} articles", file=sys.stderr)
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from .pipeline import RAG

    print(RAG(_settings(args), auto_index=False).repair(wait=not args.no_wait))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .pipeline import RAG
    from .render import to_dict, to_text

    rag = RAG(_settings(args))
    rag.check_question(args.question, args.k)  # before any model or index is loaded
    if rag.settings.llm != "none":
        from .llm import check_llm_settings

        check_llm_settings(rag.settings)
    if args.stream and not args.json:
        shown, result = "", None
        for result in rag.stream(args.question, k=args.k):
            if result.partial and result.text.startswith(shown):
                print(result.text[len(shown) :], end="", flush=True)
                shown = result.text
        assert result is not None
        full = to_text(result)
        if not shown:
            print(full)
        elif result.text == shown:
            print(full[len(result.text) :])
        else:  # the checked answer differs from what streamed (an invalid citation removed, a fallback)
            print("\n\n" + full)
        return 0
    result = rag.answer(args.question, k=args.k)
    if args.json:
        print(json.dumps(to_dict(result), ensure_ascii=False, indent=2))
    else:
        print(to_text(result))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import runpy

    from .config import PROJECT_ROOT

    app = PROJECT_ROOT / "app.py"
    if not app.is_file():
        raise RagError(f"the chat window (app.py) is not in {PROJECT_ROOT}: run `rag serve` from a checkout of rag")
    module = runpy.run_path(str(app), run_name="rag_app")
    module["main"](["--host", args.host, "--port", str(args.port)])
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_table, write_json, write_report

    settings = _settings(args)
    if args.k is not None:
        if not 1 <= args.k <= MAX_TOP_K:
            raise RagError(f"-k must be between 1 and {MAX_TOP_K}, not {args.k}")
        settings = settings.with_(top_k=args.k)
    if settings.llm != "none":
        from .llm import check_llm_settings

        check_llm_settings(settings)
    if args.limit is not None and args.limit < 1:
        raise RagError(f"--limit must be at least 1, not {args.limit}")
    metrics, results = evaluate(
        args.gold,
        settings,
        corpus=args.corpus or None,
        progress=not args.no_progress,
        limit=args.limit,
        seed=args.seed,
    )
    print(format_table(metrics))
    if args.json:
        write_json(metrics, args.json)
        print(f"metrics written to {args.json}")
    if args.report:
        write_report(metrics, results, args.report)
        print(f"report written to {args.report}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.scale:
        from .bench_scale import parse_sizes, run_scale

        sizes = parse_sizes(args.scale)
        say = lambda m: print(f"bench: {m}", file=sys.stderr, flush=True)  # noqa: E731
        rows = run_scale(_settings(args), sizes, say=say, keep=Path(args.keep) if args.keep else None)
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    from .bench import run_bench

    print(json.dumps(run_bench(_settings(args), quick=args.quick), ensure_ascii=False, indent=2))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        print(f"rag: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    from . import __version__

    p = _Parser(prog="rag", description="Cited answers to Arabic questions over news articles.")
    p.add_argument("--version", action="version", version=f"rag {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def index_dir(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--index-dir", type=Path, help="where the index lives (default: index/)")

    def llm_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--llm",
            help="answer with a language model: openai:MODEL, ollama:MODEL or gguf:PATH (default: extractive)",
        )
        sp.add_argument("--llm-base-url", help="an OpenAI-compatible (or Ollama) server, e.g. http://127.0.0.1:8080/v1")
        sp.add_argument("--llm-timeout", type=float, help="seconds to wait for the model (default 60)")

    def no_wait(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--no-wait", action="store_true", help="exit at once if another process is updating the index")

    pi = sub.add_parser("index", help="add new and changed articles to the index (nothing else is removed)")
    pi.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the sample articles)")
    index_dir(pi)
    pi.add_argument("--sync", action="store_true", help="make the index hold exactly these articles")
    pi.add_argument("--rebuild", action="store_true", help="re-embed every article (after a model/chunking change)")
    no_wait(pi)
    pi.set_defaults(func=cmd_index)

    pl = sub.add_parser("list", help="show the indexed articles: id, title, date, source, chunks")
    index_dir(pl)
    pl.add_argument("--json", action="store_true", help="print JSON")
    pl.set_defaults(func=cmd_list)

    pr = sub.add_parser("remove", help="remove articles from the index by id (see `rag list`)")
    pr.add_argument("ids", nargs="+", help="article ids")
    index_dir(pr)
    no_wait(pr)
    pr.set_defaults(func=cmd_remove)

    prep = sub.add_parser("repair", help="check the index; fall back to the newest intact version if it is damaged")
    index_dir(prep)
    no_wait(prep)
    prep.set_defaults(func=cmd_repair)

    pa = sub.add_parser("ask", help="answer a question with citations")
    pa.add_argument("question")
    pa.add_argument("-k", type=int, default=None, help=f"passages to retrieve (default 5, at most {MAX_TOP_K})")
    pa.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    pa.add_argument("--retrieval", choices=["dense", "keyword", "hybrid"], help="retrieval mode (default hybrid)")
    llm_options(pa)
    pa.add_argument("--stream", action="store_true", help="print the model's answer as it is written")
    index_dir(pa)
    pa.set_defaults(func=cmd_ask)

    pe = sub.add_parser("eval", help="measure retrieval and answers against a gold question set")
    pe.add_argument("gold", type=Path, help="gold file: .jsonl (our format) or SQuAD v1.1 .json")
    pe.add_argument(
        "--corpus", type=Path, nargs="+", help="articles the JSONL questions are about (default: data/articles)"
    )
    pe.add_argument("--json", type=Path, help="write the metrics as JSON here")
    pe.add_argument("--report", type=Path, help="write a markdown report (with a PNG plot) here")
    pe.add_argument("-k", type=int, default=None, help="passages given to the answerer (default 5)")
    pe.add_argument("--retrieval", choices=["dense", "keyword", "hybrid"], help="retrieval mode")
    index_dir(pe)
    pe.add_argument("--no-progress", action="store_true", help="no progress bar")
    llm_options(pe)
    pe.add_argument("--limit", type=int, help="evaluate a random sample of this many questions")
    pe.add_argument("--seed", type=int, default=0, help="the sample's random seed (default 0)")
    pe.set_defaults(func=cmd_eval)

    ps = sub.add_parser("serve", help="open the chat window (the same as `python app.py`)")
    ps.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    ps.add_argument("--port", type=int, default=7860)
    ps.set_defaults(func=cmd_serve)

    pb = sub.add_parser("bench", help="measure indexing throughput, answer latency, cold start and memory")
    pb.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    pb.add_argument(
        "--scale",
        metavar="SIZES",
        help="instead: the cost curve at these index sizes, e.g. 10k,100k,1M (writes benchmarks/scale.md and .png)",
    )
    pb.add_argument("--keep", metavar="DIR", help="with --scale: build in DIR and keep the indexes")
    index_dir(pb)
    pb.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage mistake already reported on one line
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader of our output went away (`rag ask … | head -1`): not an error. Point stdout
        # at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk or permission problem: say which file, without a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"rag: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except MemoryError:
        print("rag: error: out of memory (try fewer or smaller files at a time)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
