"""The serving layer: everything between an export folder and an answer, without TensorFlow.

`contract` is the export's manifest as typed records; `export_loader` verifies an export once and opens
its onnxruntime sessions; `photo_input` decodes a stranger's image within bounds; `verdict` and
`photo_pipeline` turn a photo into cat, dog or neither; `digit_reader` reads a drawn digit. The Gradio
demo, the evaluation, the bench and a Ray replica all call these same functions.
"""
