"""The convlens demo: a Gradio app serving the exported ONNX models (no TensorFlow to classify).

What it serves comes from the TensorFlow-free serving layer (`toolkit.serving`: the export, the photo
verdict, the digit reader). Here: `demo.sketches` (a Sketchpad value made a digit), `demo.showcase`
(examples, gallery, live render, models report). Limits: `demo.limits`. Safety: `demo.uploads`,
`demo.request_guards`. UI: one module per tab (`photo_tab`, `digit_tab`, `learned_tab`, `models_tab`),
composed by `demo.gradio_app`.
"""
