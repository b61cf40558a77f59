"""The Gradio app: a thin `gr.Blocks` layout wiring demo.classify and demo.showcase to components.

Safe by default: binds 127.0.0.1, no share link unless asked, analytics off, bounded uploads;
it serves only a verified export and never imports TensorFlow to classify.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no outbound calls

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from demo.classify import (BadInput, EmptySketch, Models, classify_photo, classify_sketch, load_models)  # noqa: E402
from demo.showcase import (RENDER_MAX_STEPS, RENDER_MAX_WAITING, RENDER_METHODS, RENDER_SIZES,  # noqa: E402
                           RenderQueue, example_photos, load_gallery, models_report, render_class,
                           render_summary, run_figures)
from demo.serving import (MAX_UPLOAD_BYTES, RequestBodyLimit, ResultFiles, check_exposure, check_share_reachable,  # noqa: E402
                          check_variant, guard_sketchpad, parse_auth, remove_when_done)
from demo.uploads import UploadGate  # noqa: E402
from toolkit.core.errors import ConvlensError  # noqa: E402
from toolkit.core.paths import exported_dir, runs_dir  # noqa: E402

QUEUE_MAX = 64  # events waiting in all; beyond this gradio answers "queue is full"
CLASSIFY_CONCURRENCY = 4
CANVAS = (400, 400)
BRUSH = 28  # pixels on the 400 px canvas: about MNIST's stroke once scaled to 20 px
CSS = """
#digit-seen img, #photo-seen img { image-rendering: pixelated; width: 224px; height: 224px; object-fit: contain; }
.convlens-note { opacity: 0.8; }
"""
log = logging.getLogger("convlens.demo")


def user_errors(function):
    """Turn a ConvlensError into gr.Error (its message, no traceback); anything else into a short gr.Error."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except ConvlensError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:
            log.exception("unexpected error in %s", function.__name__)
            raise gr.Error(f"Unexpected problem ({type(error).__name__}: {error}). It was logged on the server; "
                           f"the next request will work.", print_exception=False) from None

    return wrapper


def _file_of(payload) -> tuple[object, str | None]:
    """(path, original name) of a file reference as gradio passes it with preprocess=False."""
    if isinstance(payload, dict):
        name = payload.get("orig_name")
        return payload.get("path"), str(name)[:120] if isinstance(name, str) and name else None
    return payload, None


def _percent_table(pairs) -> str:
    return "\n".join(f"- {label}: {p:.1%}" for label, p in pairs)


def build_app(models: Models, runs: Path, examples: list[Path], results: ResultFiles) -> gr.Blocks:
    """The four tabs, wired to plain functions; result images are written through `results`."""
    render_queue = RenderQueue()
    gallery = load_gallery(models.root)
    photo_variants = models.catsdogs.variants()
    digit_variants = models.digits.variants()

    @user_errors
    def on_photo(payload, variant):
        if payload is None:
            return None, None, ""
        variant = check_variant(variant, photo_variants)
        path, name = _file_of(payload)
        result = classify_photo(models, gate.check(path), variant, name=name)
        for note in result.notes:
            gr.Warning(note)
        summary = (f"**{result.label}**, probability {result.probability:.1%} "
                   f"({variant} ONNX model; the image on the right is exactly what it saw).")
        return result.probabilities, results.write(result.model_input), summary

    def read_sketch(sketch, variant):
        result = classify_sketch(models, sketch, check_variant(variant, digit_variants))
        return dict(result.top3), results.write(result.digit), _percent_table(result.top3)

    @user_errors
    def on_sketch(sketch, variant):
        return read_sketch(sketch, variant)

    @user_errors
    def on_stroke(sketch, variant):
        try:
            return read_sketch(sketch, variant)
        except EmptySketch:  # a cleared canvas while drawing: clear the answer, no error
            return None, None, ""

    def gallery_value(kind):
        return [(str(item.path), item.title) for item in gallery.of_kind(kind)]

    def on_gallery_select(kind, event: gr.SelectData):
        items = gallery.of_kind(kind)
        return items[event.index].details if 0 <= event.index < len(items) else ""

    @user_errors
    def on_render(class_name, method, steps, size, seed, progress=gr.Progress()):
        progress(0, desc="waiting for the renderer")

        def report(done, total=None, *_, **__):
            if total:
                progress((int(done), int(total)), desc="rendering", unit="steps")
            else:
                progress(float(done), desc="rendering")

        started = time.perf_counter()
        image, info = render_class(class_name, method, steps, size, seed, progress=report, queue=render_queue)
        return results.write(image), render_summary(info, time.perf_counter() - started)

    # Gradio keeps every result file it serves; let it drop those older than an hour, hourly.
    with gr.Blocks(title="convlens", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gate = UploadGate(app.upload_file_set, lambda: [path for files in app.temp_file_sets for path in list(files)],
                          examples)
        gr.Markdown("# convlens\nTransfer-learned networks, served by onnxruntime from a verified export.")
        with gr.Tab("Cat or dog?", id="photo"):
            with gr.Row():
                with gr.Column():
                    photo = gr.Image(label="Photo: upload, paste or pick an example", type="filepath",
                                     image_mode=None, sources=["upload", "clipboard"], elem_id="photo-input")
                    photo_variant = gr.Radio(photo_variants, value="fp32", label="ONNX model",
                                             visible=len(photo_variants) > 1, elem_id="photo-variant")
                    photo_button = gr.Button("Classify", variant="primary", elem_id="photo-button")
                    if examples:
                        gr.Examples([[str(path)] for path in examples], inputs=[photo], label="Example photos")
                with gr.Column():
                    photo_label = gr.Label(num_top_classes=2, label="Cat or dog", elem_id="photo-label")
                    photo_summary = gr.Markdown(elem_id="photo-summary")
                    photo_seen = gr.Image(label="What the model saw", interactive=False, height=270, format="png",
                                          elem_id="photo-seen")
            gr.Markdown(_photo_note(models.catsdogs.spec["preprocessing"]), elem_classes="convlens-note")
        with gr.Tab("Draw a digit", id="digit"):
            with gr.Row():
                with gr.Column():
                    sketch = guard_sketchpad(gr.Sketchpad(
                        label="Draw one digit, large", type="numpy", image_mode="RGBA", canvas_size=CANVAS,
                        fixed_canvas=True, format="png", layers=False, elem_id="sketch",
                        brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed")), gate)
                    digit_variant = gr.Radio(digit_variants, value="fp32", label="ONNX model",
                                             visible=len(digit_variants) > 1, elem_id="digit-variant")
                    digit_button = gr.Button("Read digit", variant="primary", elem_id="digit-button")
                with gr.Column():
                    digit_label = gr.Label(num_top_classes=3, label="Top 3", elem_id="digit-label")
                    digit_summary = gr.Markdown(elem_id="digit-summary")
                    digit_seen = gr.Image(label="The 28 x 28 image the model saw", interactive=False, height=270, format="png",
                                          elem_id="digit-seen")
            gr.Markdown("Ink is read from the drawing's darkness, fitted into 20 x 20 and centred by centre of mass "
                        "in 28 x 28, as MNIST's digits were.", elem_classes="convlens-note")
        with gr.Tab("What the networks learned", id="learned"):
            gr.Markdown(gallery.note, elem_id="gallery-note")
            kinds = ["all", *gallery.kinds()]
            gallery_kind = gr.Radio(kinds, value="all", label="Show", visible=len(kinds) > 2)
            gallery_view = gr.Gallery(gallery_value("all"), label="Gradient-ascent gallery", columns=4,
                                      height="auto", object_fit="contain", elem_id="gallery",
                                      visible=bool(gallery.items))
            gallery_details = gr.Markdown(elem_id="gallery-details")
            gr.Markdown("### Render a class live\nGradient ascent on the ImageNet MobileNet. This panel loads "
                        "TensorFlow on first use (a few seconds) and renders one image at a time.")
            with gr.Row():
                with gr.Column():
                    render_class_name = gr.Dropdown(_class_choices(), value="Siamese cat, Siamese",
                                                    allow_custom_value=True, filterable=True,
                                                    label="ImageNet class (type to search, or an index 0-999)",
                                                    elem_id="render-class")
                    render_method = gr.Radio(list(RENDER_METHODS), value="robust", label="Method")
                    render_steps = gr.Slider(10, RENDER_MAX_STEPS, value=100, step=10, label="Steps")
                    render_size = gr.Radio(list(RENDER_SIZES), value=128, label="Size (pixels)")
                    render_seed = gr.Number(0, precision=0, label="Seed")
                    render_button = gr.Button("Render", variant="primary", elem_id="render-button")
                with gr.Column():
                    render_image = gr.Image(label="Rendered", interactive=False, format="png", elem_id="render-image")
                    render_info = gr.Markdown(elem_id="render-info")
        with gr.Tab("Models", id="models"):
            gr.Markdown(models_report(models.manifest, runs), elem_id="models-report")
            figures = run_figures(runs)
            gr.Markdown("## Training curves and the sweep" + ("" if figures else
                        "\n\nNone yet: they appear here after `convlens train catsdogs|digits|sweep`."))
            if figures:
                gr.Gallery([(str(path), caption) for path, caption in figures], columns=3, height="auto",
                           object_fit="contain", label="runs/", elem_id="run-figures")

        photo_outputs = [photo_label, photo_seen, photo_summary]
        classify = dict(concurrency_id="classify", concurrency_limit=CLASSIFY_CONCURRENCY)
        # Photos reach on_photo as the uploaded file, unopened (preprocess=False), so that every bad file gets
        # demo.classify's message rather than gradio's. Sketches need gradio's preprocessing: the browser
        # sends the canvas as blobs that only the component can put together.
        photo_button.click(on_photo, [photo, photo_variant], photo_outputs, api_name="classify_photo",
                           preprocess=False, **classify)
        photo.change(on_photo, [photo, photo_variant], photo_outputs, api_visibility="private",
                     show_progress="minimal", preprocess=False, **classify)
        digit_outputs = [digit_label, digit_seen, digit_summary]
        digit_button.click(on_sketch, [sketch, digit_variant], digit_outputs, api_name="classify_sketch", **classify)
        sketch.change(on_stroke, [sketch, digit_variant], digit_outputs, api_visibility="private",
                     trigger_mode="always_last", show_progress="hidden", **classify)
        gallery_kind.change(gallery_value, gallery_kind, gallery_view, api_visibility="private")
        gallery_view.select(on_gallery_select, gallery_kind, gallery_details, api_visibility="private")
        # One render at a time (RenderQueue); gradio admits a few more so a full queue is told so, quickly.
        render_button.click(on_render, [render_class_name, render_method, render_steps, render_size, render_seed],
                            [render_image, render_info], api_name="render_class", concurrency_id="render",
                            concurrency_limit=RENDER_MAX_WAITING + 2)
    app.queue(max_size=QUEUE_MAX, default_concurrency_limit=CLASSIFY_CONCURRENCY)
    return app


def _photo_note(preprocessing: dict) -> str:
    steps = " then ".join(f"{width} x {height} ({method})" for height, width, method in
                          preprocessing.get("resize_steps", []))
    crop = "cropped to its centre square, then " if preprocessing.get("crop") == "center_square" else ""
    note = f"As in training, a photo is {crop}resized to {steps} (the manifest records these steps)."
    if [32, 32, "box"] in [list(step) for step in preprocessing.get("resize_steps", [])]:
        note += " The model learned from 32 x 32 CIFAR-10 cats and dogs, so it sees photos at that resolution."
    return note


def _class_choices() -> list[str]:
    try:
        from toolkit.data.datasets import imagenet_class_names  # numpy only; needs the asset cache
        return list(imagenet_class_names())
    except (ConvlensError, OSError):
        return []  # typing a name or index still works; the render says what is missing


def prepare(exported: Path | None = None, runs: Path | None = None,
            scratch: Path | None = None) -> tuple[gr.Blocks, list[str]]:
    """The app for a verified export (refuses, with the file named, when it is missing or changed).

    Returns the app and the files it may serve: the gallery's and run figures' images, the
    examples and the result images, one by one (never a whole export or run folder, which hold
    checkpoints). A scratch folder the demo makes itself is removed when the process ends.
    """
    exported = Path(exported) if exported else exported_dir()
    runs = Path(runs) if runs else runs_dir()
    models = load_models(exported)
    if scratch is None:
        scratch = Path(tempfile.mkdtemp(prefix="convlens-demo-"))
        atexit.register(remove_when_done(scratch))
    scratch = Path(scratch)
    examples = example_photos(exported, scratch / "examples")
    results = ResultFiles(scratch / "results")
    app = build_app(models, runs, examples, results)
    served = [*(item.path for item in load_gallery(exported).items), *(path for path, _ in run_figures(runs)),
              *examples, results.folder]
    return app, [str(path) for path in served]


def launch(app: gr.Blocks, allowed: list[str], host: str = "127.0.0.1", port: int | None = None,
           share: bool = False, auth: tuple[str, str] | None = None, block: bool = False) -> str:
    """Serve the app; returns its local URL (blocks until interrupted when `block`).

    Beyond this machine (a non-loopback host or a share link) only with a password.
    """
    check_exposure(host, share, auth)
    if share:
        check_share_reachable()
    try:
        _, url, _ = app.launch(server_name=host, server_port=port, share=share, auth=auth, max_file_size=MAX_UPLOAD_BYTES,
                               allowed_paths=allowed, prevent_thread_lock=not block, show_error=False,
                               quiet=not block, ssr_mode=False, footer_links=["api"],
                               theme=gr.themes.Default(), css=CSS,
                               app_kwargs={"middleware": [Middleware(RequestBodyLimit)]})
    except OSError as error:
        raise ConvlensError(f"cannot serve on {host}:{port or 'a free port'} ({error}): pass --port with a free "
                            f"port, or stop what is using it.") from None
    return url


def main_from_cli(args) -> int:
    """`convlens demo`: check who may connect, verify the export, build the app, serve until interrupted."""
    auth = parse_auth(getattr(args, "auth", None))
    check_exposure(args.host, args.share, auth)  # before loading anything: a refusal comes at once
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a stopped demo still removes its scratch folder
    started = time.perf_counter()
    app, allowed = prepare(Path(args.exported) if args.exported else None)
    print(f"convlens demo: export verified and models loaded in {time.perf_counter() - started:.1f} s; "
          f"serving on http://{args.host}:{args.port} (Ctrl+C to stop)", flush=True)
    launch(app, allowed, host=args.host, port=args.port, share=args.share, auth=auth, block=True)
    return 0
