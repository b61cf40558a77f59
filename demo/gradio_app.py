"""The Gradio app: the four tabs (demo.*_tab) composed into one page, prepared for a verified export and served.

Safe by default: binds 127.0.0.1, no share link unless asked, analytics off, bounded uploads;
it serves only a verified export and never imports TensorFlow to classify.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no outbound calls

import gradio as gr
from starlette.middleware import Middleware

from demo.digit_tab import SELECT_BRUSH_JS, digit_tab
from demo.example_digits import EXAMPLE_DIGITS_FOLDER, write_example_digits
from demo.gallery_render import BackgroundRender
from demo.learned_tab import learned_tab
from demo.limits import CLASSIFY_CONCURRENCY, MAX_UPLOAD_BYTES, QUEUE_MAX
from demo.models_report import run_figures
from demo.models_tab import models_tab
from demo.page import PAGE_CSS, PAGE_JS, combined_js
from demo.photo_tab import photo_tab
from demo.request_guards import (
    RequestBodyLimit,
    ResultFiles,
    before_serving,
    check_exposure,
    check_share_reachable,
    harden_running_app,
    parse_auth,
    public_opt_in,
    remove_when_done,
)
from demo.showcase import example_photos
from demo.teach_tab import teach_tab
from demo.uploads import UploadGate
from toolkit.cluster.serve_client import remote_export, serve_url
from toolkit.core.errors import ConvlensError
from toolkit.core.names import GALLERY_FOLDER, GALLERY_RENDER_LOG
from toolkit.core.paths import exported_dir, runs_dir
from toolkit.serving.export_loader import LoadedExport, load_served_export
from toolkit.teach.bundle import ServedTaught, load_taught

CSS = (
    """
#digit-seen img, #photo-seen img { image-rendering: pixelated; width: 224px; height: 224px; object-fit: contain; }
.convlens-note { opacity: 0.8; }
"""
    + PAGE_CSS
)


def build_app(
    models: LoadedExport,
    runs: Path,
    examples: list[Path],
    results: ResultFiles,
    digit_examples: list[Path],
    background: BackgroundRender | None = None,
    taught: ServedTaught | None = None,
) -> gr.Blocks:
    """The four tabs, each wiring its own events; result images are written through `results`.

    `examples` are the export's example photos, `digit_examples` the example drawings: the only
    files besides uploads that a request may name. With `background` (a gallery render under way),
    the gallery tab refreshes as images land.
    """
    classify = dict(concurrency_id="classify", concurrency_limit=CLASSIFY_CONCURRENCY)
    # Gradio keeps every result file it serves; let it drop those older than an hour, hourly.
    with gr.Blocks(title="convlens", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gate = UploadGate(
            app.upload_file_set,
            lambda: [path for files in app.temp_file_sets for path in list(files)],
            [*examples, *digit_examples],
        )
        gr.Markdown("# convlens\nWhat transfer-learned networks see in your photos and drawings.")
        with gr.Tabs(overflow_behavior="wrap", elem_id="tabs"):
            photo_tab(models, examples, gate, results, classify)
            digit_tab(models, gate, results, classify, digit_examples)
            learned_tab(models.root, results, background)
            models_tab(models.manifest, runs)
            teach_tab(models, gate, taught)
    app.queue(max_size=QUEUE_MAX, default_concurrency_limit=CLASSIFY_CONCURRENCY)
    return app


def prepare(
    exported: Path | None = None,
    runs: Path | None = None,
    scratch: Path | None = None,
    background: BackgroundRender | None = None,
    taught_model: Path | None = None,
    serve_url: str | None = None,
) -> tuple[gr.Blocks, list[str]]:
    """The app for a verified export (refuses, with the file named, when it is missing or changed).

    Returns the app and what it may serve: the gallery folder (PNGs and their index only, and it fills
    while `background` renders), the run figures, the examples, the example drawings and the result
    images, one by one (never a whole export or run folder, which hold checkpoints). The example
    drawings are drawn into the scratch folder; a scratch folder the demo makes itself is removed when
    the process ends. `background` is started here, when the gallery needs it. With `serve_url`, the
    models answer through that Ray Serve deployment instead of in-process.
    """
    exported = Path(exported) if exported else exported_dir()
    runs = Path(runs) if runs else runs_dir()
    # with serve_url, every model runs in the `convlens serve` deployment at that URL, not in this process
    models = remote_export(serve_url, exported) if serve_url else load_served_export(exported)
    if scratch is None:
        scratch = Path(tempfile.mkdtemp(prefix="convlens-demo-"))
        atexit.register(remove_when_done(scratch))
    scratch = Path(scratch)
    examples = example_photos(exported)
    digit_examples = write_example_digits(scratch / EXAMPLE_DIGITS_FOLDER)
    results = ResultFiles(scratch / "results")
    if background is not None and background.start_if_needed():
        print(f"convlens demo: rendering the gallery in the background (log: {background.log})", flush=True)
    taught = ServedTaught(load_taught(taught_model, scratch / "taught")) if taught_model else None
    app = build_app(models, runs, examples, results, digit_examples, background, taught)
    served = [
        exported / GALLERY_FOLDER,
        *(path for path, _ in run_figures(runs)),
        *examples,
        *digit_examples,
        results.folder,
    ]
    return app, [str(path) for path in served]


def launch(
    app: gr.Blocks,
    allowed: list[str],
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth: tuple[str, str] | None = None,
    block: bool = False,
    public: bool = False,
) -> str:
    """Serve the app; returns its local URL (blocks until interrupted when `block`).

    Beyond this machine (a non-loopback host or a share link) only with a password, or `public` on purpose.
    """
    check_exposure(host, share, auth, public)
    if share:
        check_share_reachable()
    before_serving()
    try:
        _, url, _ = app.launch(
            server_name=host,
            server_port=port,
            share=share,
            auth=auth,
            max_file_size=MAX_UPLOAD_BYTES,
            allowed_paths=allowed,
            prevent_thread_lock=True,  # hardened below, then blocks when `block`
            enable_monitoring=False,
            show_error=False,
            quiet=not block,
            ssr_mode=False,
            footer_links=["api"],
            theme=gr.themes.Default(),
            css=CSS,
            js=combined_js(SELECT_BRUSH_JS, PAGE_JS),
            app_kwargs={"middleware": [Middleware(RequestBodyLimit)]},
        )
    except OSError as error:
        raise ConvlensError(
            f"cannot serve on {host}:{port or 'a free port'} ({error}): pass --port with a free "
            f"port, or stop what is using it."
        ) from None
    harden_running_app(app)
    if block:
        app.block_thread()
    return url


def main_from_cli(args) -> int:
    """`convlens demo`: check who may connect, verify the export, build the app, serve until interrupted."""
    auth = parse_auth(getattr(args, "auth", None))
    public = public_opt_in(getattr(args, "public", False))
    check_exposure(args.host, args.share, auth, public)  # before loading anything: a refusal comes at once
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a stopped demo still removes its scratch folder
    started = time.perf_counter()
    exported = Path(args.exported) if args.exported else exported_dir()
    background = None
    if not getattr(args, "no_gallery", False):
        background = BackgroundRender(exported, log=runs_dir() / GALLERY_RENDER_LOG)
        atexit.register(background.stop)  # also on SIGTERM (sys.exit above runs atexit)
    try:
        app, allowed = prepare(
            exported,
            background=background,
            serve_url=serve_url(getattr(args, "serve_url", None)),
            taught_model=getattr(args, "model", None),
        )
        print(
            f"convlens demo: export verified and models loaded in {time.perf_counter() - started:.1f} s; "
            f"serving on http://{args.host}:{args.port} (Ctrl+C to stop)",
            flush=True,
        )
        launch(app, allowed, host=args.host, port=args.port, share=args.share, auth=auth, block=True, public=public)
    finally:
        if background is not None:
            background.stop()
    return 0
