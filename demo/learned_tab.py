"""The "What the networks learned" tab: the gradient-ascent gallery, and an ImageNet class rendered live."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gradio as gr

from demo.gallery_render import BackgroundRender
from demo.limits import GALLERY_REFRESH_SECONDS, RENDER_MAX_STEPS, RENDER_MAX_WAITING, RENDER_METHODS, RENDER_SIZES
from demo.page import IMAGE_BUTTONS, shown_image
from demo.request_guards import ResultFiles
from demo.showcase import (
    Gallery,
    RenderQueue,
    gallery_progress_note,
    imagenet_class_choices,
    kind_name,
    kind_sentence,
    load_gallery,
    render_class,
    render_summary,
)
from demo.ui_errors import user_errors


def learned_tab(exported: Path, results: ResultFiles, background: BackgroundRender | None = None) -> None:
    """Builds the tab and wires its events: the gallery's filter, details and refresh, and the render button."""
    with gr.Tab("What the networks learned", id="learned", elem_id="tab-learned"):
        gallery_panel(exported, background)
        live_render_panel(exported, results)


def gallery_panel(exported: Path, background: BackgroundRender | None = None) -> None:
    """The images `convlens visualize` rendered, filtered by kind; a click shows one's details.

    While a background render is unfinished, a timer re-reads the gallery index every few seconds
    (progress in the note, new images in the view) and stops once it is complete or the render ended.
    """
    shown = {"gallery": load_gallery(exported)}  # the last read, which the filter and a click refer to

    def rendering() -> bool:
        return background is not None and background.running()

    def gallery_value(kind) -> list[tuple[str, str]]:
        return [(str(item.path), item.title) for item in shown["gallery"].of_kind(kind)]

    def on_select(kind, event: gr.SelectData) -> str:
        items = shown["gallery"].of_kind(kind)
        return items[event.index].details if 0 <= event.index < len(items) else ""

    def on_tick(kind) -> tuple:
        gallery = shown["gallery"] = load_gallery(exported)
        kinds = ["all", *gallery.kinds()]
        return (
            gallery_progress_note(gallery, rendering()),
            gr.Radio(kind_choices(kinds), value=kind if kind in kinds else "all", visible=len(kinds) > 2),
            gr.Gallery(gallery_value(kind if kind in kinds else "all"), visible=bool(gallery.items)),
            gr.Timer(active=_unfinished(gallery) and rendering()),
        )

    gallery = shown["gallery"]
    note = gr.Markdown(gallery_progress_note(gallery, rendering()), elem_id="gallery-note")
    kinds = ["all", *gallery.kinds()]
    kind = gr.Radio(kind_choices(kinds), value="all", label="Show", visible=len(kinds) > 2)
    kind_note = gr.Markdown(elem_id="gallery-kind")
    view = gr.Gallery(
        gallery_value("all"),
        label="Gradient-ascent gallery",
        columns=4,
        height="auto",
        object_fit="contain",
        elem_id="gallery",
        visible=bool(gallery.items),
        buttons=IMAGE_BUTTONS,
    )
    details = gr.Markdown(elem_id="gallery-details")
    timer = gr.Timer(GALLERY_REFRESH_SECONDS, active=background is not None and _unfinished(gallery))
    kind.change(gallery_value, kind, view, api_visibility="private")
    kind.change(kind_sentence, kind, kind_note, api_visibility="private", show_progress="hidden")
    view.select(on_select, kind, details, api_visibility="private")
    timer.tick(on_tick, kind, [note, kind, view, timer], api_visibility="private", show_progress="hidden")


def kind_choices(kinds: list[str]) -> list[tuple[str, str]]:
    """The filter's choices: each kind's plain name, shown, and the kind itself, passed."""
    return [("All", "all") if kind == "all" else (kind_name(kind), kind) for kind in kinds]


def _unfinished(gallery: Gallery) -> bool:
    return not gallery.complete or not gallery.items


def live_render_panel(exported: Path, results: ResultFiles) -> None:
    """Gradient ascent on an ImageNet class, one render at a time (the only path that loads TensorFlow)."""
    queue = RenderQueue()

    @user_errors
    def on_render(class_name, method, steps, size, seed, progress=gr.Progress()) -> tuple[str, str]:  # noqa: B008  # gradio finds its progress tracker by this default
        first = "toolkit.ascent" not in sys.modules  # the first render loads TensorFlow
        progress(0, desc="loading TensorFlow (first render only)" if first else "waiting for the renderer")

        def report(done, total=None, *_, **__) -> None:
            if total:
                progress((int(done), int(total)), desc="rendering", unit="steps")
            else:
                progress(float(done), desc="rendering")

        started = time.perf_counter()
        image, info = render_class(class_name, method, steps, size, seed, progress=report, queue=queue)
        return results.write(image), render_summary(info, time.perf_counter() - started, loaded_tensorflow=first)

    gr.Markdown(
        "### Render a class live\nPick one of ImageNet's 1000 classes: the network changes an image, step by step, "
        "until it is as sure as it can be of that class. The first render loads TensorFlow (a few seconds)."
    )
    with gr.Row():
        with gr.Column():
            class_name = gr.Dropdown(
                imagenet_class_choices(exported),
                value="Siamese cat, Siamese",
                allow_custom_value=True,
                filterable=True,
                label="ImageNet class (type to search, or an index 0-999)",
                elem_id="render-class",
            )
            method = gr.Radio(
                list(RENDER_METHODS),
                value="robust",
                label="Method",
                info="robust: smoother images that still work when moved; naive: pixels changed directly",
            )
            steps = gr.Slider(10, RENDER_MAX_STEPS, value=100, step=10, label="Steps")
            size = gr.Radio(list(RENDER_SIZES), value=128, label="Size (pixels)")
            seed = gr.Number(0, precision=0, label="Seed")
            button = gr.Button("Render", variant="primary", elem_id="render-button")
        with gr.Column():
            image = shown_image("Rendered", "render-image", 512, "The image rendered for the chosen class")
            info = gr.Markdown(elem_id="render-info")
    # One render at a time (RenderQueue); gradio admits a few more so a full queue is told so, quickly.
    button.click(
        on_render,
        [class_name, method, steps, size, seed],
        [image, info],
        api_name="render_class",
        concurrency_id="render",
        concurrency_limit=RENDER_MAX_WAITING + 2,
    )
