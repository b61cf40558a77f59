"""The "Draw a digit" tab: a guarded Sketchpad with only a brush, that draws at once and is read live as the
stroke ends, a Clear button, and example drawings to start from."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from demo.limits import BRUSH, CANVAS
from demo.page import shown_image
from demo.request_guards import ResultFiles, check_variant, guard_sketchpad
from demo.sketches import EmptySketch, classify_sketch
from demo.ui_errors import user_errors
from demo.uploads import UploadGate
from toolkit.serving.export_loader import LoadedExport

# gradio's Sketchpad starts, and starts again after "Clear canvas", with no tool chosen: it shows "select the
# draw tool to start" and a stroke draws nothing. This page script chooses the brush whenever the canvas is
# in that state. It watches the page rather than waiting for an event, so it also works when the tab mounts
# the canvas only once shown, and it clicks the brush's own button, so the editor's state stays gradio's.
# The brush is the first tool of the toolbar (found by place, not by its translated label): the Sketchpad
# below has no upload source and no transforms, so gradio shows no image tool before it.
SELECT_BRUSH_JS = """
() => {
  const chooseBrush = () => {
    for (const pad of document.querySelectorAll("#sketch")) {
      const brush = pad.querySelector(".toolbar-wrap .half-container button");
      if (brush && !pad.querySelector("button.highlight")) brush.click();
    }
  };
  new MutationObserver(chooseBrush).observe(document.body, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["class"],
  });
  chooseBrush();
}
"""


PROMPT = "Draw one digit, 0 to 9, large: it is read as you draw."


def reading(pairs) -> str:
    """One sentence for the best of (label, probability) pairs: what the network reads, and how sure it is."""
    label, p = pairs[0]
    return f"The network reads **{label}** ({p:.0%} sure)."


def digit_tab(
    models: LoadedExport, gate: UploadGate, results: ResultFiles, classify: dict, examples: list[Path]
) -> None:
    """Builds the tab and wires its events (`classify`: the shared concurrency settings; `examples`: drawings)."""
    variants = models.digits.variants()

    def read_sketch(sketch, variant) -> tuple[dict[str, float], str, str]:
        result = classify_sketch(models, sketch, check_variant(variant, variants))
        return dict(result.top3), results.write(result.digit), reading(result.top3)

    @user_errors
    def on_sketch(sketch, variant) -> tuple[dict[str, float], str, str]:
        return read_sketch(sketch, variant)

    @user_errors
    def on_stroke(sketch, variant) -> tuple[dict[str, float] | None, str | None, str]:
        try:
            return read_sketch(sketch, variant)
        except EmptySketch:  # a cleared canvas while drawing: clear the answer, no error
            return None, None, PROMPT

    with gr.Tab("Draw a digit", id="digit", elem_id="tab-digit"):
        with gr.Row():
            with gr.Column():
                summary = gr.Markdown(PROMPT, elem_id="digit-summary")
                sketch = guard_sketchpad(
                    gr.Sketchpad(
                        label="Draw one digit, large",
                        type="numpy",
                        image_mode="RGBA",
                        canvas_size=CANVAS,
                        fixed_canvas=True,
                        format="png",
                        layers=False,
                        transforms=(),  # no crop: the canvas is the digit's frame (and no image tool, see above)
                        elem_id="sketch",
                        brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                        buttons=[],
                    ),
                    gate,
                )
                clear = gr.Button("Clear", elem_id="sketch-clear")
                variant = gr.Radio(
                    variants, value="fp32", label="ONNX model", visible=len(variants) > 1, elem_id="digit-variant"
                )
                # The API's endpoint (`classify_sketch`): the page itself reads the drawing as it changes.
                api_button = gr.Button("Read digit", visible=False, elem_id="digit-button")
                example_table = gr.Examples(
                    [[str(path)] for path in examples],
                    inputs=[sketch],
                    label="Example digits: click one, or draw over it",
                    elem_id="digit-examples",
                    api_visibility="private",
                )
            with gr.Column():
                label = gr.Label(num_top_classes=3, label="Top 3", elem_id="digit-label")
                seen = shown_image(
                    "The 28 x 28 image the model saw",
                    "digit-seen",
                    270,
                    "Your drawing as the 28 x 28 image the model saw",
                )
                gr.Markdown(
                    "Ink is read from the drawing's darkness, fitted into 20 x 20 and centred by centre of mass "
                    "in 28 x 28, as MNIST's digits were.",
                    elem_classes="convlens-note",
                )

    outputs = [label, seen, summary]
    # Sketches need gradio's preprocessing: the browser sends the canvas as blobs that only the
    # component can put together (guard_sketchpad checks them first).
    api_button.click(on_sketch, [sketch, variant], outputs, api_name="classify_sketch", **classify)
    # The page clears the canvas and the answer itself (no request); the change that follows reads nothing.
    # An empty gr.Label is {} in the page: null would break the component and, with it, the whole update.
    clear.click(None, None, [sketch, *outputs], js=f"() => [null, {{}}, null, {json.dumps(PROMPT)}]")
    sketch.change(
        on_stroke,
        [sketch, variant],
        outputs,
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
        **classify,
    )
    example_table.load_input_event.then(on_sketch, [sketch, variant], outputs, api_visibility="private", **classify)
