"""The "Cat or dog?" tab: a photo in, the cats-vs-dogs model's answer and the image it saw out."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demo.request_guards import ResultFiles, check_variant, result_image
from demo.ui_errors import user_errors
from demo.uploads import UploadGate
from toolkit.serving.export_loader import LoadedExport
from toolkit.serving.photo_pipeline import classify_photo, judge_photo

VERDICT_NOTE = (
    "Three answers. The ImageNet network (1000 classes, 224 px) says whether the photo shows a domestic cat or a "
    "dog at all: too little of its belief on cats and dogs, and the answer is *neither*, with what it looks like "
    "instead. Otherwise its cat-or-dog odds and the cats-vs-dogs model's are added. The map greys out 9 regions "
    "one at a time and shows how each moved the cats-vs-dogs model's answer. The thresholds were chosen on dev "
    "photos (`convlens eval photos`); the Models tab shows the figures."
)


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


def photo_tab(
    models: LoadedExport, examples: list[Path], gate: UploadGate, results: ResultFiles, classify: dict
) -> None:
    """Builds the tab and wires its events (`classify`: the shared concurrency settings)."""
    variants = models.catsdogs.variants()

    @user_errors
    def on_photo(payload, variant) -> tuple:
        if payload is None:
            return None, None, "", None, None
        variant = check_variant(variant, variants)
        path, name = file_of(payload)
        if models.imagenet is None:  # an export from before the ImageNet model: the transfer model alone
            result = classify_photo(models, gate.check(path), variant, name=name)
            for note in result.notes:
                gr.Warning(note)
            summary = f"**{result.label}**, probability {result.probability:.1%} ({variant} ONNX model)."
            return result.probabilities, results.write(result.model_input), summary, None, None
        judged = judge_photo(models, gate.check(path), variant, name=name)
        for note in judged.notes:
            gr.Warning(note)
        transfer = judged.transfer
        summary = (
            f"{judged.summary} The cats-vs-dogs model alone says {transfer.label} ({transfer.probability:.0%}; "
            f"{variant} ONNX model; the small image is exactly what it saw)."
        )
        return (
            judged.verdict.probabilities,
            results.write(transfer.model_input),
            summary,
            dict(judged.top5),
            results.write(judged.map_image),
        )

    with gr.Tab("Cat or dog?", id="photo"):
        with gr.Row():
            with gr.Column():
                photo = gr.Image(
                    label="Photo: upload, paste or pick an example",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "clipboard"],
                    elem_id="photo-input",
                )
                variant = gr.Radio(
                    variants, value="fp32", label="ONNX model", visible=len(variants) > 1, elem_id="photo-variant"
                )
                button = gr.Button("Classify", variant="primary", elem_id="photo-button")
                if examples:
                    gr.Examples([[str(path)] for path in examples], inputs=[photo], label="Example photos")
            with gr.Column():
                label = gr.Label(num_top_classes=3, label="Cat, dog or neither", elem_id="photo-label")
                summary = gr.Markdown(elem_id="photo-summary")
                imagenet = gr.Label(
                    num_top_classes=5,
                    label="What the ImageNet network sees (top 5)",
                    elem_id="photo-imagenet",
                    visible=models.imagenet is not None,
                )
                with gr.Row():
                    why = result_image("Why: orange pushed toward dog, blue toward cat", "photo-map", 224)
                    seen = result_image("What the cats-vs-dogs model saw", "photo-seen", 224)
        gr.Markdown(photo_note(models.catsdogs.preprocessing), elem_classes="convlens-note")
        gr.Markdown(VERDICT_NOTE, elem_classes="convlens-note")

    outputs = [label, seen, summary, imagenet, why]
    # Photos reach on_photo as the uploaded file, unopened (preprocess=False), so that every bad file gets
    # the serving layer's message (toolkit.serving.photo_input) rather than gradio's.
    button.click(on_photo, [photo, variant], outputs, api_name="classify_photo", preprocess=False, **classify)
    photo.change(
        on_photo,
        [photo, variant],
        outputs,
        api_visibility="private",
        show_progress="minimal",
        preprocess=False,
        **classify,
    )
