"""The "Models" tab: the manifest as people read it, latency figures, and the training curves under runs/."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demo.models_report import models_report, run_figures
from toolkit.serving.contract import Manifest


def models_tab(manifest: Manifest, runs: Path) -> None:
    """Builds the tab (it has no events)."""
    with gr.Tab("Models", id="models"):
        gr.Markdown(models_report(manifest, runs), elem_id="models-report")
        figures = run_figures(runs)
        gr.Markdown(
            "## Training curves and the sweep"
            + ("" if figures else "\n\nNone yet: they appear here after `convlens train catsdogs|digits|sweep`.")
        )
        if figures:
            gr.Gallery(
                [(str(path), caption) for path, caption in figures],
                columns=3,
                height="auto",
                object_fit="contain",
                label="runs/",
                elem_id="run-figures",
            )
