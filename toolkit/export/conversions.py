"""Turning a Keras model into the exported formats (SavedModel, ONNX fp32, int8 ONNX) and running them back.

`toolkit.export` decides what is exported and proves it faithful; this module only converts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.serving.onnx_sessions import BATCH

OPSET = 17


def tf_outputs(model, images: np.ndarray) -> np.ndarray:
    """The Keras model's outputs in inference mode, batched through one tf.function."""
    import tensorflow as tf

    run = tf.function(lambda x: model(x, training=False))
    return np.concatenate(
        [np.asarray(run(tf.constant(images[i : i + BATCH], tf.float32))) for i in range(0, len(images), BATCH)]
    )


def convert_to_onnx(
    model, input_shape: tuple[int, ...], path: Path, output_name: str | None = None, optimize: bool = True
) -> dict:
    """ONNX fp32, opset 17, one input `image` (float32 NHWC, dynamic batch), its output renamed to `output_name`;
    returns what `optimize` did.

    With `optimize`, convolutions whose kernel spans most of the image become row-Toeplitz MatMuls
    (`toolkit.export.optimize`): the digits CNN runs about 2.5x faster at batch 32 in onnxruntime.
    """
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec((None, *input_shape), tf.float32, name="image")]
    try:
        function = tf.function(lambda image: model(image, training=False), input_signature=signature)
        onnx_model, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET)
    except Exception as error:  # tf2onnx raises many types; the user needs one plain sentence
        raise ConvlensError(
            f"the model could not be converted to ONNX (opset {OPSET}): {error}. It may use "
            f"ops that ONNX cannot express (e.g. augmentation layers: export an inference "
            f"model without them)."
        ) from error
    unsupported = sorted(
        {
            node.op_type
            for node in onnx_model.graph.node
            if node.domain not in ("", "ai.onnx") and not node.domain.startswith("com.microsoft")
        }
    )
    if unsupported:
        raise ConvlensError(
            f"the model uses ops ONNX cannot express ({', '.join(unsupported)}); tf2onnx left "
            f"them as custom ops that onnxruntime cannot run."
        )
    record: dict = {"rewritten_convs": []}
    if optimize:
        from toolkit.export.optimize import optimized_onnx

        sample = np.random.default_rng(0).uniform(0, 255, (4, *input_shape)).astype(np.float32)
        onnx_model, record = optimized_onnx(onnx_model, sample)
    if output_name:
        rename_output(onnx_model, output_name)
    path.write_bytes(onnx_model.SerializeToString())
    return record


def rename_output(onnx_model, output_name: str) -> None:
    """Rename the graph's one output (tf2onnx calls it `Identity:0`) wherever a node produces or reads it."""
    (output,) = onnx_model.graph.output
    old = output.name
    for node in onnx_model.graph.node:
        node.output[:] = [output_name if name == old else name for name in node.output]
        node.input[:] = [output_name if name == old else name for name in node.input]
    output.name = output_name


def image_metadata(channels: int) -> dict[str, str]:
    """The ONNX-standard image metadata keys for float pixels 0..255: RGB photos, or gray digits."""
    return {
        "Image.BitmapPixelFormat": "Rgb8" if channels == 3 else "Gray8",
        "Image.ColorSpaceGamma": "SRGB" if channels == 3 else "Linear",
        "Image.NominalPixelRange": "NominalRange_0_255",
    }


def annotate_onnx(
    path: Path,
    name: str,
    task: str,
    labels: list[str],
    preprocessing: dict,
    *,
    variant: str = "fp32",
    summary: str = "",
    description: str = "",
    model_version: int = 1,
) -> None:
    """Make the file describe itself: graph name, doc strings, model_version and metadata (ours and Image.*).

    The producer fields tf2onnx wrote are kept.
    """
    import onnx

    model = onnx.load(str(path))
    channels = model.graph.input[0].type.tensor_type.shape.dim[-1].dim_value
    values = {
        "convlens.name": name,
        "convlens.task": task,
        "convlens.variant": variant,
        "convlens.labels": json.dumps(labels),
        "convlens.preprocessing": json.dumps(preprocessing),
        "convlens.input": "float32 NHWC pixels 0..255, named image, dynamic batch",
        **image_metadata(channels),
    }
    del model.metadata_props[:]
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.graph.name = f"convlens_{name}" + ("_int8" if variant == "int8" else "")
    model.graph.doc_string = summary
    model.doc_string = description
    model.model_version = int(model_version)
    onnx.save(model, str(path))


class _Calibration:
    """onnxruntime's CalibrationDataReader over a few hundred training images."""

    def __init__(self, input_name: str, images: np.ndarray) -> None:
        self.batches = iter([{input_name: images[i : i + 16].astype(np.float32)} for i in range(0, len(images), 16)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def first_conv(onnx_path: Path) -> list[str]:
    """The name of the graph's first Conv node, or of the MatMul that replaced it (`toolkit.export.optimize`),
    if any (nodes are stored in topological order)."""
    import onnx

    from toolkit.export.optimize import ROWS_MATMUL

    return [
        node.name
        for node in onnx.load(str(onnx_path)).graph.node
        if node.op_type == "Conv" or (node.op_type == "MatMul" and node.name.endswith(ROWS_MATMUL))
    ][:1]


CHUNKED_CALIBRATION_PIXELS = 128 * 128 * 3  # above this per image, calibration ranges are taken in chunks


def _calibration_memory_options(calibration_x: np.ndarray) -> dict:
    """Chunked calibration for large inputs only: 300 MobileNet activations at 224 px held at once take about 13 GB.

    Chunks are not bit-identical to one pass (digits int8: 0.9991 against 0.9995 agreement with fp32),
    so the 128-px and 28-px models keep the single pass their figures were measured with.
    """
    if calibration_x[0].size > CHUNKED_CALIBRATION_PIXELS:
        return {"CalibMaxIntermediateOutputs": 4}  # batches of 16 images
    return {}


def quantize_int8(
    fp32_path: Path, int8_path: Path, calibration_x: np.ndarray, first_layer_in_float: bool = True
) -> list[str]:
    """Static QDQ quantization: U8 activations, S8 per-channel weights, after quant_pre_process; returns the
    names of the nodes left in float.

    `first_layer_in_float` keeps the first convolution (or the MatMul that replaced it) in float: it sees
    the raw image. Whether that pays is measured per model on validation images (`toolkit.export.model_export`).
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    CalibrationDataReader.register(_Calibration)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        in_float = first_conv(prepared) if first_layer_in_float else []
        quantize_static(
            str(prepared),
            str(int8_path),
            _Calibration("image", calibration_x),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=in_float,
            extra_options=_calibration_memory_options(calibration_x),
        )
    return in_float


def saved_model_outputs(folder: Path, images: np.ndarray) -> np.ndarray:
    """Outputs of the exported SavedModel's `serve` endpoint, reloaded from disk."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(folder))
    result = loaded.serve(tf.constant(images.astype(np.float32)))
    if isinstance(result, dict):
        result = next(iter(result.values()))
    return np.asarray(result)


def export_saved_model(model, folder: Path) -> None:
    """`model.export` for Keras 3; tf.saved_model.save with a `serve` signature for tf_keras models."""
    import tensorflow as tf

    if hasattr(model, "export") and type(model).__module__.startswith("keras"):
        model.export(str(folder), verbose=False)
        return
    signature = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="image")
    serve = tf.function(lambda image: model(image, training=False), input_signature=[signature])
    module = tf.Module()
    module.model = model  # tracks the variables the function captures
    module.serve = serve
    tf.saved_model.save(module, str(folder), signatures={"serving_default": serve})
