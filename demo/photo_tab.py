"""The "Cat or dog?" tab: a photo in; the verdict in one sentence, the map of why, and in a collapsed details
panel what each network said and how the photo was prepared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from demo.page import shown_image
from demo.request_guards import ResultFiles, check_variant
from demo.ui_errors import user_errors
from demo.uploads import UploadGate
from toolkit.serving.export_loader import LoadedExport
from toolkit.serving.photo_pipeline import classify_photo, judge_photo
from toolkit.serving.verdict import SURE

INSTRUCTION = "**Drop a pet photo**: convlens says cat, dog or neither, and shows what the network looked at."

VERDICT_NOTE = (
    "**How the answer is made.** The ImageNet network (1000 classes) says whether the photo shows a cat or a dog at "
    "all, looking at the whole photo and at closer crops of it; if not, the answer is *neither*, with what it looks "
    "like instead. Otherwise its cat-or-dog odds and the cats-vs-dogs model's are added. The thresholds were chosen "
    "on photos kept apart from the test photos; the Models tab shows how often the answer is right."
)

PERCENT_NOTE = (
    f"**What the percentage means.** It is how much of the app's belief goes to its answer, not a measured "
    f"accuracy: under {SURE:.0%} the answer says *probably*."
)

MAP_LEGEND = """<div class="convlens-legend" id="photo-map-legend">
<span>toward cat</span>
<span class="convlens-scale" role="img" aria-label="colour scale: blue toward cat, clear no effect, orange toward dog">
</span><span>toward dog</span>
</div>
<p class="convlens-note">Each of the 3 x 3 squares of the grid was greyed out in turn: <b>orange</b> where hiding
it moved the cats-vs-dogs model toward dog, <b>blue</b> toward cat, no tint where it changed nothing (the
strongest square is full colour). A black-and-white frame marks where the ImageNet network found the pet.</p>"""

EMPTY = (None, None, "", None, None, "")  # label, seen, summary, imagenet, map, details
# The same, as the page holds them: an empty gr.Label is {} there (null breaks the component, and the update).
EMPTY_ON_PAGE: tuple[dict | str | None, ...] = ({}, None, "", {}, None, "")


def file_of(payload) -> tuple[object, str | None]:
    """(path, original name) of a file reference as gradio passes it with preprocess=False."""
    if isinstance(payload, dict):
        name = payload.get("orig_name")
        return payload.get("path"), str(name)[:120] if isinstance(name, str) and name else None
    return payload, None


def photo_note(preprocessing: dict) -> str:
    """What the model does to a photo before it sees it, from the manifest's preprocessing record."""
    steps = " then ".join(
        f"{width} x {height} ({method})" for height, width, method in preprocessing.get("resize_steps", [])
    )
    crop = "cropped to its centre square, then " if preprocessing.get("crop") == "center_square" else ""
    note = f"As in training, a photo is {crop}resized to {steps} (the manifest records these steps)."
    if [32, 32, "box"] in [list(step) for step in preprocessing.get("resize_steps", [])]:
        note += " The model learned from 32 x 32 CIFAR-10 cats and dogs, so it sees photos at that resolution."
    return note


def with_grid(image: np.ndarray, grid: int) -> np.ndarray:
    """The map with the borders of its grid x grid regions drawn in thin, half-white lines."""
    picture = np.asarray(image, np.uint8).copy()
    height, width = picture.shape[:2]
    for k in range(1, grid):
        row, column = round(k * height / grid), round(k * width / grid)
        picture[row, :, :3] = picture[row, :, :3] // 2 + 127
        picture[:, column, :3] = picture[:, column, :3] // 2 + 127
    return picture


def example_caption(path: Path) -> str:
    """An example photo's caption: the Description the export wrote into the PNG, else its file name."""
    try:
        with Image.open(path) as picture:
            caption = picture.info.get("Description")
    except OSError:
        caption = None
    return str(caption) if caption else Path(path).stem.lstrip("0123456789_").replace("_", " ")


def details_text(transfer_label: str, transfer_p: float, variant: str, preprocessing: dict) -> str:
    """The collapsed details: the cats-vs-dogs model's own opinion, what a percentage means, the preprocessing."""
    return "\n\n".join(
        [
            f"**The cats-vs-dogs model alone** says {transfer_label} ({transfer_p:.0%}; {variant} ONNX model). It "
            "knows only cats and dogs and sees the photo as the small image below, so the verdict above also "
            "weighs what the ImageNet network sees.",
            PERCENT_NOTE,
            photo_note(preprocessing),
            VERDICT_NOTE,
        ]
    )


def photo_tab(
    models: LoadedExport, examples: list[Path], gate: UploadGate, results: ResultFiles, classify: dict
) -> None:
    """Builds the tab and wires its events (`classify`: the shared concurrency settings)."""
    variants = models.catsdogs.variants()
    preprocessing = models.catsdogs.preprocessing

    @user_errors
    def on_photo(payload, variant) -> tuple:
        if payload is None:
            return EMPTY
        variant = check_variant(variant, variants)
        path, name = file_of(payload)
        if models.imagenet is None:  # an export from before the ImageNet model: the transfer model alone
            result = classify_photo(models, gate.check(path), variant, name=name)
            for note in result.notes:
                gr.Warning(note)
            summary = f"**{result.label}**, probability {result.probability:.1%} ({variant} ONNX model)."
            details = "\n\n".join([PERCENT_NOTE, photo_note(preprocessing)])
            return result.probabilities, results.write(result.model_input), summary, None, None, details
        judged = judge_photo(models, gate.check(path), variant, name=name)
        for note in judged.notes:
            gr.Warning(note)
        transfer = judged.transfer
        return (
            judged.verdict.probabilities,
            results.write(transfer.model_input),
            judged.summary,  # the verdict's own sentence: nothing on screen may contradict it
            dict(judged.top5),
            results.write(with_grid(judged.map_image, judged.occlusion.shape[0])),
            details_text(transfer.label, transfer.probability, variant, preprocessing),
        )

    def on_example(event: gr.SelectData) -> str | None:
        return str(examples[event.index]) if 0 <= event.index < len(examples) else None

    with gr.Tab("Cat or dog?", id="photo", elem_id="tab-photo"):
        gr.Markdown(INSTRUCTION, elem_id="photo-instruction")
        with gr.Row():
            with gr.Column():
                photo = gr.Image(
                    label="Your photo: upload, take one with the camera, or paste",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "webcam", "clipboard"],
                    elem_id="photo-input",
                    buttons=["fullscreen"],
                    alt_text="The photo you chose",
                    height=320,
                )
                variant = gr.Radio(
                    variants, value="fp32", label="ONNX model", visible=len(variants) > 1, elem_id="photo-variant"
                )
            with gr.Column():
                summary = gr.Markdown(elem_id="photo-summary")
                label = gr.Label(num_top_classes=3, label="Cat, dog or neither", elem_id="photo-label")
                why = shown_image(
                    "Why: what moved the answer",
                    "photo-map",
                    260,
                    "Your photo tinted orange where it pushed the answer toward dog and blue toward cat",
                )
                gr.HTML(MAP_LEGEND)
                with gr.Accordion("Details: what each network said, and how the photo was prepared", open=False):
                    details = gr.Markdown(elem_id="photo-details")
                    imagenet = gr.Label(
                        num_top_classes=5,
                        label="What the ImageNet network sees (top 5)",
                        elem_id="photo-imagenet",
                        visible=models.imagenet is not None,
                    )
                    seen = shown_image(
                        "What the cats-vs-dogs model saw",
                        "photo-seen",
                        224,
                        "The small image the cats-vs-dogs model saw",
                    )
        if examples:
            example_view = gr.Gallery(
                [(str(path), example_caption(path)) for path in examples],
                label="Or try an example photo (click one)",
                columns=4,
                height="auto",
                object_fit="cover",
                allow_preview=False,
                buttons=[],
                elem_id="example-photos",
            )

    outputs = [label, seen, summary, imagenet, why, details]
    clear_answer: dict[str, Any] = dict(fn=None, inputs=None, outputs=outputs, js=f"() => {json.dumps(EMPTY_ON_PAGE)}")
    classify_photo_event: dict[str, Any] = dict(
        fn=on_photo, inputs=[photo, variant], outputs=outputs, show_progress="minimal", preprocess=False, **classify
    )
    # One request per photo: a new photo classifies at once. A refused photo's error leaves gradio showing the
    # outputs it had, so the page clears them itself once the request has failed (in the page: no second request,
    # no second toast). `upload`, not `change`: replacing a photo changes the value twice (empty, then the new
    # one). Photos reach on_photo as the uploaded file, unopened (preprocess=False), so that every bad file gets
    # the serving layer's message (toolkit.serving.photo_input) rather than gradio's.
    photo.upload(**classify_photo_event, api_name="classify_photo").failure(**clear_answer)
    photo.clear(**clear_answer)
    variant.change(**classify_photo_event, api_visibility="private").failure(**clear_answer)
    if examples:
        example_view.select(on_example, None, photo, api_visibility="private").then(
            **classify_photo_event, api_visibility="private"
        ).failure(**clear_answer)
