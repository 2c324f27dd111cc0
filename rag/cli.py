"""`rag index | ask | eval | bench`: the library raises typed errors, this module reports them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import Settings
from .errors import RagError


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        index_dir=getattr(args, "index_dir", None),
        retrieval=getattr(args, "retrieval", None),
    )


def cmd_index(args: argparse.Namespace) -> int:
    from .pipeline import RAG

    rag = RAG(_settings(args))
    report, skipped = rag.index(args.paths or None, rebuild=args.rebuild)
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    print(
        f"indexed {report.n_documents} articles, {report.n_chunks} chunks in {rag.settings.index_dir} "
        f"({report.embedded_chunks} chunks embedded; added {len(report.added)}, changed {len(report.changed)}, "
        f"removed {len(report.removed)}, kept {len(report.kept)}) in {report.seconds:.1f}s"
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .pipeline import RAG
    from .render import to_dict, to_text

    rag = RAG(_settings(args))
    result = rag.answer(args.question, k=args.k)
    if args.json:
        print(json.dumps(to_dict(result), ensure_ascii=False, indent=2))
    else:
        print(to_text(result))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_table, write_json, write_report

    settings = _settings(args)
    if args.k:
        settings = settings.with_(top_k=args.k)
    metrics, results = evaluate(args.gold, settings, corpus=args.corpus or None, progress=not args.no_progress)
    print(format_table(metrics))
    if args.json:
        write_json(metrics, args.json)
        print(f"metrics written to {args.json}")
    if args.report:
        write_report(metrics, results, args.report)
        print(f"report written to {args.report}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    print(json.dumps(run_bench(_settings(args), quick=args.quick), ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="rag", description="Cited answers to Arabic questions over news articles.")
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("index", help="build or update the index from files and folders")
    pi.add_argument("paths", nargs="*", type=Path, help="files or folders (default: data/articles)")
    pi.add_argument("--index-dir", type=Path, help="where the index lives (default: index/)")
    pi.add_argument("--rebuild", action="store_true", help="re-embed everything, ignoring the existing index")
    pi.set_defaults(func=cmd_index)

    pa = sub.add_parser("ask", help="answer a question with citations")
    pa.add_argument("question")
    pa.add_argument("-k", type=int, default=None, help="passages to retrieve (default 5)")
    pa.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    pa.add_argument("--retrieval", choices=["dense", "keyword", "hybrid"], help="retrieval mode (default hybrid)")
    pa.add_argument("--index-dir", type=Path)
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
    pe.add_argument("--index-dir", type=Path)
    pe.add_argument("--no-progress", action="store_true", help="no progress bar")
    pe.set_defaults(func=cmd_eval)

    pb = sub.add_parser("bench", help="measure indexing throughput, answer latency, cold start and memory")
    pb.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    pb.add_argument("--index-dir", type=Path)
    pb.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk or permission problem: say which file, without a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"rag: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
