"""The chat window: an Arabic, right-to-left Gradio app over the same `RAG` object and chain as the
Python API and the CLI. UI only: every answer, upload and evaluation is the library's.

    python app.py [--host 127.0.0.1] [--port 7860]        (or: rag serve)

Nothing leaves the machine: analytics off, no share link, fonts served from static/, bound to
127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import argparse
import html
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag import RAG, Answer, RagError, Settings
from rag.render import format_date, to_dict

ROOT = Path(__file__).resolve().parent
STATIC = ROOT / "static"
SEED_GOLD = ROOT / "data" / "gold" / "seed_qa.jsonl"
EXAMPLES = [
    "كم عدد الجنود الأتراك الذين قتلوا في إدلب؟",
    "من هو رئيس الأركان الروسي الذي أجرى محادثات في أنقرة؟",
    "أين التقى لافروف بنظيره التركي؟",
    "كم عدد اللاجئين السوريين الذين تستضيفهم تركيا؟",
]
MODES = {"مقتطفات من المقالات": False, "نموذج لغوي": True}
RETRIEVALS = {"هجين (موصى به)": "hybrid", "دلالي": "dense", "كلمات مفتاحية": "keyword"}

gr.set_static_paths(paths=[STATIC])

CSS = """
@font-face { font-family: "Noto Naskh Arabic"; font-weight: 400; font-display: swap;
  src: url("/gradio_api/file=static/fonts/noto-naskh-arabic-arabic-400-normal.woff2") format("woff2"); }
@font-face { font-family: "Noto Naskh Arabic"; font-weight: 700; font-display: swap;
  src: url("/gradio_api/file=static/fonts/noto-naskh-arabic-arabic-700-normal.woff2") format("woff2"); }
.gradio-container, .gradio-container * { font-family: "Noto Naskh Arabic", "Noto Sans Arabic", sans-serif; }
.gradio-container { direction: rtl; }
.gradio-container [dir="ltr"] { direction: rtl; }
.gradio-container table { direction: rtl; }
.sources .source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px;
  margin: 8px 0; line-height: 1.9; }
.sources .source.flash { outline: 3px solid var(--color-accent); }
.sources .src-head { font-weight: 700; margin-bottom: 4px; }
.sources .src-meta { color: var(--body-text-color-subdued); font-size: 0.9em; }
.sources mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.refusal { color: var(--body-text-color-subdued); }
"""

HEAD = """
<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest('a[href^="#src-"]');
  if (!link) return;
  event.preventDefault();
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (target) {
    target.scrollIntoView({behavior: "smooth", block: "center"});
    target.classList.add("flash");
    setTimeout(() => target.classList.remove("flash"), 1500);
  }
}, true);
</script>
"""


class ChatApp:
    """The loaded pipeline and the handlers behind the page (one per process)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.rag = RAG(settings or Settings.from_env(), notify=None)
        self._index_lock = threading.Lock()
        self.uploads = self.rag.settings.index_dir.with_name(self.rag.settings.index_dir.name + "-uploads")

    # ---- chat -----------------------------------------------------------------------------------
    def ask(self, question: str, k: int = 5, retrieval: str = "hybrid", use_llm: bool = False) -> dict[str, Any]:
        """Answer one question (the API endpoint): the same dict as `rag ask --json`."""
        try:
            return to_dict(self.rag.answer(question, k=int(k), retrieval=retrieval, use_llm=bool(use_llm)))
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def chat(
        self, message: str, history: list[dict[str, Any]], k: float, retrieval: str, mode: str
    ) -> Iterator[tuple[list[dict[str, Any]], str, str]]:
        """Stream the answer into the conversation; the sources panel follows the last answer."""
        question = (message or "").strip()
        past = [
            {"role": m["role"], "content": _plain(m.get("content"))}
            for m in history
            if m.get("role") in ("user", "assistant")
        ]
        history = [*history, {"role": "user", "content": question}, {"role": "assistant", "content": "…"}]
        try:
            for answer in self.rag.stream(
                question,
                k=int(k),
                history=past,
                use_llm=MODES.get(mode, False),  # the mode the reader picked, not the default
                retrieval=RETRIEVALS.get(retrieval, "hybrid"),
            ):
                history[-1] = {"role": "assistant", "content": answer_markdown(answer)}
                yield history, sources_html(answer) if not answer.partial else "", ""
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    # ---- articles -----------------------------------------------------------------------------
    def articles(self, query: str = "") -> list[list[Any]]:
        """Rows of the articles table, filtered by a word of the id, title or site."""
        try:
            rows = self.rag.list_articles()
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        q = (query or "").strip().lower()
        return [
            [a.doc_id, a.title, format_date(a.date) or "", a.source or "", a.chunks]
            for a in rows
            if not q or q in f"{a.doc_id} {a.title} {a.source or ''}".lower()
        ]

    def upload(
        self,
        files: list[Any] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio injects the page's progress bar here)
    ) -> tuple[str, list[list[Any]]]:
        """Index uploaded files (added or updated; nothing else changes) and report each file's fate."""
        if not files:
            raise gr.Error("اختر ملفا واحدا على الأقل (.txt أو .md أو .html أو .jsonl)", print_exception=False)
        self.uploads.mkdir(parents=True, exist_ok=True)
        paths = []
        for f in files:
            src = Path(f if isinstance(f, str) else f.name)
            dest = self.uploads / src.name
            shutil.copyfile(src, dest)  # a stable place: uploading the same name again updates it
            paths.append(dest)

        def factory(total: int):  # type: ignore[no-untyped-def]
            done = [0]
            progress((0, total), desc="تضمين المقاطع", unit="مقطع")

            def update(n: int) -> None:
                done[0] += n
                progress((done[0], total), desc="تضمين المقاطع", unit="مقطع")

            return update

        with self._index_lock:
            previous = self.rag.progress
            self.rag.progress = factory
            try:
                result = self.rag.index(paths, wait=False)  # busy: say so at once, never hang the page
            except RagError as exc:
                for p in paths:  # nothing was indexed from them: do not keep them
                    p.unlink(missing_ok=True)
                raise gr.Error(str(exc), print_exception=False) from None
            finally:
                self.rag.progress = previous
        b = result.build
        lines = [f"✅ أضيف {len(b.added)} وحدّث {len(b.changed)}؛ في الفهرس الآن {b.n_documents} مقالا."]
        lines += [f"- ⚠️ `{Path(s.path).name}`: {s.reason}" for s in result.skipped]
        lines += [f"- ℹ️ `{Path(s.path).name}`: {s.reason}" for s in result.notices]
        lines += [f"- ℹ️ `{Path(d.path).name}`: نفس المقال `{d.same_as}` المفهرس من قبل" for d in b.duplicates]
        return "\n".join(lines), self.articles()

    def remove(self, ids: list[str] | None) -> tuple[str, list[list[Any]]]:
        """Remove articles by id."""
        if not ids:
            raise gr.Error("اختر مقالا واحدا على الأقل لحذفه", print_exception=False)
        with self._index_lock:
            try:
                b = self.rag.remove(ids, wait=False)
            except RagError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
        return f"🗑️ حُذف {len(b.removed)}؛ في الفهرس الآن {b.n_documents} مقالا.", self.articles()

    # ---- evaluation ------------------------------------------------------------------------------
    def evaluate(
        self,
        which: str,
        gold_file: Any,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008  (follows evaluate()'s tqdm bar)
    ) -> tuple[list[list[Any]], Any, list[list[Any]]]:
        """Run a gold set: the metrics table, the hit@k plot and the failed questions."""
        from rag.evaluate import evaluate, failures, hit_curve

        path = (
            SEED_GOLD
            if which == "seed" or gold_file is None
            else Path(gold_file if isinstance(gold_file, str) else gold_file.name)
        )
        try:
            metrics, results = evaluate(path, self.rag.settings, progress=True)
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        r, a = metrics["retrieval"], metrics["answer"]
        table = [
            ["الأسئلة (القابلة للإجابة)", f"{metrics['n_questions']} ({metrics['n_answerable']})"],
            *[[f"hit@{k}", f"{r[f'hit@{k}']:.3f}"] for k in (1, 3, 5, 10)],
            ["mrr@10", f"{r['mrr@10']:.3f}"],
            ["EM / F1 / contains", f"{a['em']:.3f} / {a['f1']:.3f} / {a['contains']:.3f}"],
            ["citations supported", f"{metrics['citations']['supported']:.3f}"],
            ["unanswerable refused", "n/a" if metrics["refusal"]["unanswerable_refused"] is None
             else f"{metrics['refusal']['unanswerable_refused']:.3f}"],
            ["answerable refused", f"{metrics['refusal']['answerable_refused']:.3f}"],
        ]  # fmt: skip
        curve = hit_curve(results)
        fig = _hit_plot(curve, metrics["dataset"])
        failed = [
            [
                x.qid,
                x.question,
                " | ".join(x.answers),
                _plain(x.answer)[:300],
                ", ".join(d for d, _, _ in x.retrieved[:3]),
            ]
            for x in failures(results)
        ]
        return table, fig, failed


def _hit_plot(curve: dict[int, float], name: str):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(list(curve), list(curve.values()), marker="o")
    ax.set(xlabel="k", ylabel="hit@k", title=name, ylim=(0, 1.02), xticks=list(curve))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


_MARKER = re.compile(r"\[(\d+)\]")


def answer_markdown(a: Answer) -> str:
    """The answer as chat markdown: citation numbers link to their source; a refusal looks different."""
    if not a.answered:
        text = f'<span class="refusal">🚫 <em>{html.escape(a.text)}</em></span>'
    else:
        text = _MARKER.sub(lambda m: f"[[{m.group(1)}]](#src-{m.group(1)})", html.escape(a.text, quote=False))
        if a.short_answer:
            # The answer itself first, then the quoted sentence it comes from.
            text = f"**{html.escape(a.short_answer, quote=False)}**\n\n> {text}"
        if a.unsupported:
            text += "\n\n⚠️ _بعض جمل الإجابة لا تسندها المصادر المذكورة_"
    if a.partial:
        text += " ▌"
    for note in a.notes:
        text += f"\n\n<small>ℹ️ {html.escape(note)}</small>"
    return text


def sources_html(a: Answer) -> str:
    """One block per citation: title, date and site, and the passage with the quoted sentence marked."""
    if not a.citations:
        return ""
    blocks = []
    for c in a.citations:
        meta = " — ".join(x for x in (format_date(c.date), c.source) if x)
        passage = c.passage
        at = passage.find(c.quote) if c.quote else -1
        if at >= 0:
            body = (
                html.escape(passage[:at])
                + f"<mark>{html.escape(c.quote)}</mark>"
                + html.escape(passage[at + len(c.quote) :])
            )
        else:
            body = html.escape(passage)
        body = body.replace("\n", "<br>")
        blocks.append(
            f'<div class="source" id="src-{c.number}" dir="rtl">'
            f'<div class="src-head">[{c.number}] {html.escape(c.title)}</div>'
            + (f'<div class="src-meta">{html.escape(meta)}</div>' if meta else "")
            + f"<p>{body}</p></div>"
        )
    return '<div class="sources" dir="rtl"><h3>المصادر</h3>' + "".join(blocks) + "</div>"


def _plain(content: Any) -> str:
    text = content if isinstance(content, str) else str(content or "")
    text = re.sub(r"<[^>]+>", "", text)
    return _MARKER.sub(r"[\1]", re.sub(r"\[\[(\d+)\]\]\(#src-\d+\)", r"[\1]", text)).replace("▌", "").strip()


def build(app: ChatApp) -> gr.Blocks:
    """The page: Chat, Articles and Evaluate tabs."""
    llm = app.rag.settings.llm
    with gr.Blocks(title="rag — أسئلة عن الأخبار") as demo:
        gr.Markdown("# اسأل أرشيف الأخبار\nإجابات قصيرة من المقالات، مع أرقام تحيل إلى الفقرة التي جاءت منها.")
        with gr.Tab("المحادثة"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="المحادثة", rtl=True, height=460, elem_id="chat")
                    box = gr.Textbox(
                        label="سؤالك", placeholder="اكتب سؤالا عن المقالات…", rtl=True, lines=1, elem_id="question"
                    )
                    with gr.Row():
                        send = gr.Button("اسأل", variant="primary", elem_id="send")
                        clear = gr.Button("محادثة جديدة")
                    gr.Examples(EXAMPLES, inputs=box, label="أمثلة")
                with gr.Column(scale=2):
                    sources = gr.HTML(elem_id="sources")
            with gr.Accordion("الإعدادات", open=False):
                k = gr.Slider(1, 10, value=5, step=1, label="عدد الفقرات المسترجعة")
                retrieval = gr.Radio(list(RETRIEVALS), value="هجين (موصى به)", label="طريقة الاسترجاع")
                mode = gr.Radio(
                    list(MODES),
                    value="نموذج لغوي" if llm != "none" else "مقتطفات من المقالات",
                    label="طريقة الإجابة",
                    interactive=llm != "none",
                    info=f"النموذج المضبوط: {llm}" if llm != "none"
                    else "لا يوجد نموذج لغوي مضبوط (شغّل التطبيق مع RAG_LLM لتفعيله)",
                )  # fmt: skip
            inputs = [box, chatbot, k, retrieval, mode]
            outputs = [chatbot, sources, box]
            for trigger in (box.submit, send.click):
                trigger(app.chat, inputs, outputs, api_visibility="private", concurrency_limit=8, concurrency_id="chat")
            clear.click(lambda: ([], "", ""), None, outputs, api_visibility="private")
        with gr.Tab("المقالات"):
            search = gr.Textbox(label="بحث في المقالات", rtl=True)
            table = gr.Dataframe(
                headers=["المعرف", "العنوان", "التاريخ", "الموقع", "المقاطع"], interactive=False, wrap=True
            )
            with gr.Row():
                files = gr.File(
                    label="أضف مقالات", file_count="multiple", file_types=[".txt", ".md", ".html", ".htm", ".jsonl"]
                )
                with gr.Column():
                    index_btn = gr.Button("فهرسة الملفات", variant="primary")
                    report = gr.Markdown()
            with gr.Row():
                to_remove = gr.Dropdown(label="حذف مقالات", multiselect=True, allow_custom_value=True)
                remove_btn = gr.Button("حذف", variant="stop")
            search.change(app.articles, search, table, api_visibility="private")
            index_btn.click(
                app.upload, files, [report, table], api_name="upload", concurrency_limit=1, concurrency_id="index"
            )
            remove_btn.click(
                app.remove, to_remove, [report, table], api_name="remove", concurrency_limit=1, concurrency_id="index"
            )
            table.change(_id_choices, table, to_remove, api_visibility="private")
        with gr.Tab("التقييم"):
            which = gr.Radio(
                [("مجموعة الأسئلة المرفقة (seed)", "seed"), ("ملف أرفعه", "upload")],
                value="seed",
                label="مجموعة الأسئلة",
            )
            gold = gr.File(label="ملف JSONL أو SQuAD JSON", file_types=[".jsonl", ".json"])
            run = gr.Button("شغّل التقييم", variant="primary")
            metrics = gr.Dataframe(headers=["المقياس", "القيمة"], interactive=False)
            plot = gr.Plot(label="hit@k")
            failed = gr.Dataframe(
                headers=["id", "السؤال", "الإجابة الذهبية", "الإجابة", "المقالات المسترجعة"],
                interactive=False,
                wrap=True,
            )
            run.click(app.evaluate, [which, gold], [metrics, plot, failed], api_name="evaluate", concurrency_limit=1)
        demo.load(app.articles, None, table, api_visibility="private")
        gr.api(app.ask, api_name="ask")
    return demo


def _id_choices(rows: Any) -> Any:
    """The remove list follows the articles table."""
    return gr.Dropdown(choices=[r[0] for r in _rows(rows)])


def _rows(value: Any) -> list[list[Any]]:
    if hasattr(value, "values"):
        return value.values.tolist()  # a pandas DataFrame
    return list(value or [])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="The rag chat window")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = p.parse_args(argv)
    try:
        app = ChatApp()
        _ = app.rag.store  # load (or, for the default folder, build) the index once, before the first visitor
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    demo = build(app)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=False,
        theme=gr.themes.Default(font=["Noto Naskh Arabic", "sans-serif"], font_mono=["monospace"]),
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        show_error=False,
    )


if __name__ == "__main__":
    main()
