"""The convlens demo: a Gradio app serving the exported ONNX models (no TensorFlow to classify).

`demo.classify` and `demo.showcase` hold the logic as plain functions; `demo.app` wires them to the UI.
"""
