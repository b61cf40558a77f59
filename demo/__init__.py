"""The convlens demo: a Gradio app serving the exported ONNX models (no TensorFlow to classify).

Logic, plain functions without a UI: `demo.classify` (models, photos), `demo.sketches` (drawn digits),
`demo.showcase` (examples, gallery, live render, models report). Limits: `demo.limits`. Safety:
`demo.uploads`, `demo.serving`. UI: one module per tab (`photo_tab`, `digit_tab`, `learned_tab`,
`models_tab`), composed by `demo.app`.
"""
