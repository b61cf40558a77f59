"""The "Models" tab: the manifest as people read it, latency figures, and the training curves under runs/,
each in a panel of its own (the first open)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demo.models_report import models_sections, run_figures
from demo.page import IMAGE_BUTTONS
from toolkit.serving.contract import Manifest


def models_tab(manifest: Manifest, runs: Path) -> None:
    """Builds the tab (it has no events)."""
    with gr.Tab("Models", id="models", elem_id="tab-models"):
        with gr.Column(elem_id="models-report", elem_classes="convlens-models"):
            for number, (title, text) in enumerate(models_sections(manifest, runs)):
                with gr.Accordion(title, open=number == 0):
                    gr.Markdown(text)
            figures = run_figures(runs)
            with gr.Accordion("Training curves and the sweep", open=False):
                if figures:
                    gr.Gallery(
                        [(str(path), caption) for path, caption in figures],
                        columns=3,
                        height="auto",
                        object_fit="contain",
                        label="Training curves",
                        elem_id="run-figures",
                        buttons=IMAGE_BUTTONS,
                    )
                else:
                    gr.Markdown("None for this export yet.")
