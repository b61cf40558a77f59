"""Export: Keras models to SavedModel, ONNX fp32 and int8 ONNX, with parity measured and a manifest.

Light on purpose: nothing is imported here. `manifest` and `onnx_runtime` need no TensorFlow (the
demo imports them); `conversions`, `parity`, `publish`, `specs`, `own_model`, `verify` and `export_commands` do.
"""
