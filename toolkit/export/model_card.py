"""`exported/<model>/README.md`: a model card in the Hugging Face format, written from the manifest entry.

YAML front matter (library, licence, tags, datasets, model-index with results and their split), then
what it is, labels, data and licence, metrics, parity, int8, preprocessing, limitations and how it was
made. Every figure comes from the manifest entry, so card and manifest cannot disagree. No TensorFlow here.
"""

from __future__ import annotations

import json

from toolkit.core.names import ONNX_INPUT_NAME

CAT_VS_DOG = "cat_vs_dog"  # metrics key of the ImageNet model's cat-vs-dog reading (toolkit.export.specs)

VARIANTS = (  # (manifest metric key, what the card calls it)
    ("tf_test_accuracy", "Keras (TensorFlow)"),
    ("onnx_fp32_test_accuracy", "ONNX fp32"),
    ("onnx_int8_test_accuracy", "ONNX int8"),
)


def _scalar(value: object) -> str:
    """A YAML scalar: JSON's strings, numbers, booleans and null are valid YAML."""
    return json.dumps(value)


def card_results(entry: dict) -> list[dict]:
    """The model-index metrics: test accuracy per variant, and the cat-vs-dog reading where it was measured."""
    metrics = entry.get("metrics") or {}
    results = [
        {"type": "accuracy", "name": f"{label} test accuracy", "value": metrics[key]}
        for key, label in VARIANTS
        if metrics.get(key) is not None
    ]
    cat_vs_dog = metrics.get(CAT_VS_DOG) or {}
    results += [
        {"type": "accuracy", "name": f"{label} cat-vs-dog accuracy from ImageNet class mass", "value": cat_vs_dog[key]}
        for key, label in (("tf", VARIANTS[0][1]), ("onnx_fp32", VARIANTS[1][1]), ("onnx_int8", VARIANTS[2][1]))
        if cat_vs_dog.get(key) is not None
    ]
    return results


def _cat_vs_dog_notes(metrics: dict) -> list[str]:
    cat_vs_dog = metrics.get(CAT_VS_DOG)
    if not cat_vs_dog:
        return []
    lines = [
        "",
        f"What is measured instead, on {cat_vs_dog.get('test_set', '?')}: {cat_vs_dog.get('what', '?')}.",
        "",
        "| variant | cat-vs-dog accuracy |",
        "|---|---|",
        *(
            f"| {label} | {_figure(cat_vs_dog.get(key))} |"
            for key, label in (("tf", VARIANTS[0][1]), ("onnx_fp32", VARIANTS[1][1]), ("onnx_int8", VARIANTS[2][1]))
        ),
    ]
    if metrics.get("int8_top1_agreement_with_fp32") is not None:
        lines += ["", f"int8 top-1 agreement with fp32: {_figure(metrics['int8_top1_agreement_with_fp32'])}."]
    if metrics.get("photo_top1"):
        lines += ["", "Top-1 on real photos:", ""]
    for photo, answers in (metrics.get("photo_top1") or {}).items():
        lines.append(f"- `{photo}`: " + "; ".join(f"{variant} {answer}" for variant, answer in answers.items()))
    return lines


def front_matter(name: str, entry: dict) -> str:
    """The YAML block between the two `---` lines."""
    about = entry.get("about") or {}
    metrics = entry.get("metrics") or {}
    tags = ["onnx", "image-classification", "convlens", "keras", "int8", *about.get("tags", [])]
    lines = [
        "library_name: onnx",
        f"license: {_scalar(about.get('license', 'other'))}",
        "pipeline_tag: image-classification",
        "tags:",
        *(f"- {_scalar(tag)}" for tag in dict.fromkeys(tags)),
    ]
    if about.get("datasets"):
        lines += ["datasets:", *(f"- {_scalar(d)}" for d in about["datasets"])]
    results = card_results(entry)
    if results:
        evaluation = about.get("evaluation_dataset") or {}
        lines += [
            "metrics:",
            "- accuracy",
            "model-index:",
            f"- name: {_scalar('convlens_' + name)}",
            "  results:",
            "  - task:",
            "      type: image-classification",
            "      name: Image Classification",
            "    dataset:",
            f"      name: {_scalar((metrics.get(CAT_VS_DOG) or metrics).get('test_set', '?'))}",
            f"      type: {_scalar(evaluation.get('type', 'custom'))}",
            f"      split: {_scalar(evaluation.get('split', 'test'))}",
            "    metrics:",
        ]
        for result in results:
            lines += [
                f"    - type: {_scalar(result['type'])}",
                f"      name: {_scalar(result['name'])}",
                f"      value: {_scalar(result['value'])}",
            ]
    return "\n".join(lines)


def _figure(value: object, digits: int = 4) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"
    return str(value)


def _labels(labels: list[str]) -> str:
    if len(labels) <= 12:
        return ", ".join(f"`{label}`" for label in labels)
    shown = ", ".join(f"{i} `{label}`" for i, label in enumerate(labels[:5]))
    return f"{len(labels)} classes: {shown}, ..., {len(labels) - 1} `{labels[-1]}` (the full list is in the manifest)"


def _preprocessing(preprocessing: dict) -> str:
    if preprocessing.get("kind") == "photo":
        steps = " then ".join(f"{h}x{w} ({method})" for h, w, method in preprocessing.get("resize_steps", []))
        crop = "the largest centred square, " if preprocessing.get("crop") == "center_square" else ""
        return f"A photo as 8-bit RGB: {crop}resized to {steps}; pixel values 0..255 go into the model as float32."
    if preprocessing.get("kind") == "mnist_like":
        return (
            "MNIST style: one white digit on black, fitted into 20x20 and centred by its centre of mass in 28x28; "
            "pixel values 0..255 as float32."
        )
    return "As recorded below."


def model_card(name: str, entry: dict, versions: dict | None = None, created: str | None = None) -> str:
    """The Markdown model card (with YAML front matter) of one manifest entry."""
    about = entry.get("about") or {}
    metrics, parity = entry.get("metrics") or {}, entry.get("parity") or {}
    quantization, files = entry.get("quantization") or {}, entry.get("files") or {}
    shape = (entry.get("input") or {}).get("shape") or [None, "?"]
    output = entry.get("output") or {}
    lines = [
        "---",
        front_matter(name, entry),
        "---",
        "",
        f"# convlens {name}",
        "",
        f"{about.get('description', f'The {name} model exported by convlens')}.",
        "",
        "## Files and contract",
        "",
        "| file | what | bytes |",
        "|---|---|---|",
        *(
            f"| `{(files.get(kind) or {}).get('path', '?').split('/', 1)[-1]}` | {what} | "
            f"{(files.get(kind) or {}).get('bytes', '?')} |"
            for kind, what in (
                ("onnx", "ONNX fp32, opset 17"),
                ("onnx_int8", "ONNX int8 (static QDQ)"),
                ("saved_model", "TensorFlow SavedModel (`serve` endpoint)"),
            )
            if kind in files
        ),
        "",
        f"Input `{ONNX_INPUT_NAME}`: float32, NHWC, shape `[batch, {', '.join(str(d) for d in shape[1:])}]`, "
        "pixel values 0..255; the normalisation is inside the model. "
        f"Output `{output.get('name', '?')}` ({output.get('activation', '?')}). Task: {entry['task']}.",
        "",
        "## Labels",
        "",
        (
            f"Binary: the output is p(`{entry['labels'][1]}`); below 0.5 the answer is `{entry['labels'][0]}`."
            if entry["task"] == "binary"
            else f"One probability per label, in this order: {_labels(entry['labels'])}."
        ),
        "",
        "## Data and licence",
        "",
        about.get("data", "Not recorded."),
        "",
        f"Licence of these model files: {about.get('license', 'not recorded')}.",
        "",
        "## Metrics",
        "",
        f"Measured on: {metrics.get('test_set', '?')} ({metrics.get('n_test', '?')} images).",
        "",
        "| variant | test accuracy |",
        "|---|---|",
        *(f"| {label} | {_figure(metrics.get(key))} |" for key, label in VARIANTS),
    ]
    lines += _cat_vs_dog_notes(metrics)
    lines += [
        "",
        "## Parity",
        "",
        f"Keras against ONNX fp32 on {parity.get('n_images', '?')} real images: max abs difference "
        f"{_figure(parity.get('tf_vs_onnx_fp32_max_abs_diff'))} (limit {_figure(parity.get('tolerance'))}), "
        f"decisions identical: {parity.get('decisions_identical')}. Keras against the SavedModel: "
        f"{_figure(parity.get('tf_vs_saved_model_max_abs_diff'))}; against ONNX int8: "
        f"{_figure(parity.get('tf_vs_onnx_int8_max_abs_diff'))}.",
        "",
        "## int8",
        "",
        f"{quantization.get('method', '?')}, calibrated on {quantization.get('calibration_images', '?')} images. "
        f"Decided on the {quantization.get('decided_on', '?')}: "
        f"{'recommended' if quantization.get('recommended') else 'not recommended'} "
        f"(rule: {quantization.get('rule', '?')}). "
        f"On the test images, reported only: accuracy change against Keras "
        f"{_figure(quantization.get('accuracy_delta'))}; decisions agreeing with "
        f"fp32: {_figure(quantization.get('decision_agreement_with_fp32'))}; size "
        f"{_figure(quantization.get('size_ratio'), 2)}x fp32.",
        "",
        "## Preprocessing",
        "",
        _preprocessing(entry.get("preprocessing") or {}),
        "",
        f"```json\n{json.dumps(entry.get('preprocessing'))}\n```",
        "",
        "## Limitations",
        "",
        *(f"- {item}" for item in about.get("limitations") or ["None recorded."]),
        "",
        "## How it was made",
        "",
        f"`{about.get('command', 'convlens export')}`, from `{entry.get('source', '?')}`"
        + (f", on {created}" if created else "")
        + f"; export took {entry.get('export_seconds', '?')} s."
        + (f" Libraries: {', '.join(f'{k} {v}' for k, v in versions.items())}." if versions else ""),
        "Every figure here is copied from `manifest.json`, which also holds each file's sha256; "
        "`convlens verify` checks them.",
        "",
    ]
    return "\n".join(lines)
