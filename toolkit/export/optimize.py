"""ONNX graph rewrites that make onnxruntime faster on convlens' models, applied after tf2onnx.

Convolutions whose kernel is nearly as wide as the image (the digits CNN: 24x24 on 28x28, 12x12 on 14x14)
are slow in onnxruntime's MLAS: its NCHWc kernels pad 10 channels to a block of 16 (AVX-512) and skip
little work, and its im2col path runs a GEMM with M = 10 output channels. `rows_as_matmul` rewrites such
a Conv as one well-shaped MatMul: each output row is a window of `kh` padded input rows (a Gather),
multiplied by a row-Toeplitz matrix of shape (kh*W*C, Wo*Co) that holds the kernel shifted along the
width (zeros where the kernel falls outside it). It costs W/kw times the convolution's multiply-adds,
so it is applied only where the kernel spans most of the width, and the matrix must stay small.
It works in NHWC between Transposes that onnxruntime's transpose optimizer cancels, so a 2x2 MaxPool
between two rewritten Convs becomes two ReduceMax in NHWC too, and a Rescaling (Mul by 1/255) before
the first one is folded into its matrix. `optimized_onnx` applies it and checks that the outputs agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

MAX_WIDTH_RATIO = 1.5  # image width / kernel width: the Toeplitz matrix's multiply-adds over the Conv's
MAX_MATRIX_BYTES = 4 << 20  # per rewritten Conv
ROWS_MATMUL = "/rows_matmul"  # suffix of the MatMul that replaces a Conv (int8 keeps the first one in float)


def _attribute(node, name: str, default: Any) -> Any:  # an ONNX attribute: ints, floats, a tensor
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def row_toeplitz(weight: np.ndarray, width: int, pad_left: int, stride: int, out_width: int) -> np.ndarray:
    """The (kh*W*C, Wo*Co) matrix with T[(ky, x, c), (xo, co)] = weight[co, c, ky, x - xo*stride + pad_left].

    Rows and columns are in NHWC order: a window of kh input rows, flattened, times T is one output row.
    """
    co, c, kh, kw = weight.shape
    matrix = np.zeros((kh, width, c, out_width, co), np.float32)
    for xo in range(out_width):
        for kx in range(kw):
            x = xo * stride - pad_left + kx
            if 0 <= x < width:
                matrix[:, x, :, xo, :] = weight[:, :, :, kx].transpose(2, 1, 0)
    return matrix.reshape(kh * width * c, out_width * co)


def _eligible(node, shapes: dict, initializers: dict) -> dict | None:
    """The Conv's geometry when it can and should become a row-Toeplitz MatMul, else None."""
    if node.op_type != "Conv" or node.input[1] not in initializers:
        return None
    if len(node.input) > 2 and node.input[2] and node.input[2] not in initializers:
        return None
    weight = initializers[node.input[1]]
    shape = shapes.get(node.input[0])
    if weight.ndim != 4 or shape is None or len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        return None
    if _attribute(node, "group", 1) != 1 or list(_attribute(node, "dilations", [1, 1])) != [1, 1]:
        return None
    if _attribute(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return None
    co, c, kh, kw = weight.shape
    _, _, height, width = shape
    top, left, bottom, right = _attribute(node, "pads", [0, 0, 0, 0])
    stride_h, stride_w = _attribute(node, "strides", [1, 1])
    out_h = (height + top + bottom - kh) // stride_h + 1
    out_w = (width + left + right - kw) // stride_w + 1
    if width / kw > MAX_WIDTH_RATIO or kh * c * width * co * out_w * 4 > MAX_MATRIX_BYTES:
        return None
    bias = initializers[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(co, np.float32)
    return {
        "weight": weight,
        "bias": bias,
        "c": c,
        "co": co,
        "kh": kh,
        "width": width,
        "pads": (top, left, bottom),
        "strides": (stride_h, stride_w),
        "out": (out_h, out_w),
    }


def _replacement(node, geometry: dict) -> tuple[list, list]:
    """Nodes and initializers computing the Conv's NCHW output from its NCHW input, by rows."""
    from onnx import helper, numpy_helper

    name = node.name or node.output[0]
    c, co, kh, width = geometry["c"], geometry["co"], geometry["kh"], geometry["width"]
    top, left, bottom = geometry["pads"]
    stride_h, stride_w = geometry["strides"]
    out_h, out_w = geometry["out"]
    rows = np.arange(out_h)[:, None] * stride_h + np.arange(kh)[None, :]
    constants = {
        "pads": np.array([0, top, 0, 0, 0, bottom, 0, 0], np.int64),  # NHWC: rows only
        "rows": rows.astype(np.int64),
        "patches": np.array([0, out_h, kh * width * c], np.int64),
        "toeplitz": row_toeplitz(geometry["weight"], width, left, stride_w, out_w),
        "bias": np.tile(geometry["bias"].astype(np.float32), out_w),
        "output": np.array([0, out_h, out_w, co], np.int64),
    }
    initializers = [numpy_helper.from_array(value, f"{name}/{key}") for key, value in constants.items()]
    t = f"{name}/"
    nodes = [
        helper.make_node("Transpose", [node.input[0]], [t + "nhwc"], name=t + "to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Pad", [t + "nhwc", t + "pads"], [t + "padded"], name=t + "pad_rows"),
        helper.make_node("Gather", [t + "padded", t + "rows"], [t + "windows"], name=t + "windows", axis=1),
        helper.make_node("Reshape", [t + "windows", t + "patches"], [t + "flat"], name=t + "flatten"),
        helper.make_node("MatMul", [t + "flat", t + "toeplitz"], [t + "product"], name=name + ROWS_MATMUL),
        helper.make_node("Add", [t + "product", t + "bias"], [t + "biased"], name=t + "bias_add"),
        helper.make_node("Reshape", [t + "biased", t + "output"], [t + "nhwc_out"], name=t + "unflatten"),
        helper.make_node("Transpose", [t + "nhwc_out"], [node.output[0]], name=t + "to_nchw", perm=[0, 3, 1, 2]),
    ]
    return nodes, initializers


def _pool_replacement(node, shape: list) -> tuple[list, list] | None:
    """A MaxPool whose windows tile the image (kernel = strides, no padding) as a ReduceMax in NHWC.

    Next to a rewritten Conv this leaves Transpose pairs that onnxruntime's transpose optimizer cancels.
    """
    from onnx import helper, numpy_helper

    kernel = list(_attribute(node, "kernel_shape", []))
    if len(kernel) != 2 or list(_attribute(node, "strides", [1, 1])) != kernel or len(node.output) != 1:
        return None
    if any(_attribute(node, "pads", [0, 0, 0, 0])) or _attribute(node, "ceil_mode", 0):
        return None
    if list(_attribute(node, "dilations", [1, 1])) != [1, 1] or _attribute(node, "storage_order", 0):
        return None
    if _attribute(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        return None
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        return None
    (kh, kw), (_, c, height, width) = kernel, shape
    if height % kh or width % kw:
        return None
    t = f"{node.name or node.output[0]}/"
    shapes = {
        "rows": [-1, kh, width * c],  # (B*H/kh, kh, W*C): max over the kernel's rows
        "columns": [-1, kw, c],  # (B*H/kh*W/kw, kw, C): then over its columns
        "pooled_shape": [-1, height // kh, width // kw, c],
    }
    constants = [numpy_helper.from_array(np.array(v, np.int64), t + key) for key, v in shapes.items()]
    nodes = [
        helper.make_node("Transpose", [node.input[0]], [t + "nhwc"], name=t + "to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", [t + "nhwc", t + "rows"], [t + "by_rows"], name=t + "by_rows"),
        helper.make_node("ReduceMax", [t + "by_rows"], [t + "row_max"], name=t + "row_max", axes=[1], keepdims=0),
        helper.make_node("Reshape", [t + "row_max", t + "columns"], [t + "by_columns"], name=t + "by_columns"),
        helper.make_node("ReduceMax", [t + "by_columns"], [t + "max"], name=t + "column_max", axes=[1], keepdims=0),
        helper.make_node("Reshape", [t + "max", t + "pooled_shape"], [t + "pooled"], name=t + "pooled"),
        helper.make_node("Transpose", [t + "pooled"], [node.output[0]], name=t + "to_nchw", perm=[0, 3, 1, 2]),
    ]
    return nodes, constants


def _fold_input_scale(graph, matmul) -> float:
    """Fold a Rescaling (Mul by a scalar, Add of zero) before a rewritten Conv into its Toeplitz matrix.

    Walks back from the MatMul through ops linear in their data that keep zero at zero (Reshape,
    Transpose, zero Pad, Gather) whose outputs have one consumer. Besides saving the Mul, this avoids
    onnxruntime's slow path for a scalar broadcast over a last dimension of 1 (NHWC grey images:
    242 us for 32x28x28x1 floats, against 7 us for 32x784).
    """
    from onnx import numpy_helper

    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    consumers: dict = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    outputs = {output.name for output in graph.output}

    def scalar(name: str) -> float | None:
        if name not in initializers:
            return None
        value = numpy_helper.to_array(initializers[name])
        return float(value) if value.size == 1 else None

    scale, current, removed = 1.0, matmul.input[0], []
    while current in producers and consumers.get(current) == 1 and current not in outputs:
        node = producers[current]
        if node.op_type in ("Reshape", "Transpose", "Gather") or (
            node.op_type == "Pad" and len(node.input) < 3 and _attribute(node, "mode", b"constant") in (b"constant",)
        ):
            current = node.input[0]
            continue
        values = [scalar(name) for name in node.input]
        if node.op_type == "Mul" and values[1] is not None:
            scale *= values[1]
        elif node.op_type == "Add" and values[1] == 0.0:
            pass
        else:
            break
        removed.append(node)
        current = node.input[0]
    if not removed:
        return 1.0
    # rewire: whatever consumed the first removed node's output now reads the last one's input
    first, last = removed[0], removed[-1]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == first.output[0]:
                node.input[i] = last.input[0]
    for node in removed:
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for tensor in [tensor for tensor in graph.initializer if tensor.name not in used]:
        graph.initializer.remove(tensor)
    toeplitz = initializers[matmul.input[1]]
    toeplitz.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(toeplitz) * np.float32(scale), toeplitz.name))
    return scale


def rows_as_matmul(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of the ONNX model with every eligible Conv rewritten as a row-Toeplitz MatMul, and their names."""
    import onnx
    from onnx import numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for info in [*inferred.graph.value_info, *inferred.graph.input]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    graph = rewritten.graph
    nodes, added, replaced = [], [], []
    for node in graph.node:
        pool = _pool_replacement(node, shapes.get(node.input[0], [])) if node.op_type == "MaxPool" else None
        if pool is not None:
            nodes += pool[0]
            added += pool[1]
            continue
        geometry = _eligible(node, shapes, initializers)
        if geometry is None:
            nodes.append(node)
            continue
        new_nodes, new_initializers = _replacement(node, geometry)
        nodes += new_nodes
        added += new_initializers
        replaced.append(node.name)
    if not replaced:
        return rewritten, []
    still_used = {name for node in nodes for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in still_used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend([*kept, *added])
    first = next(node for node in graph.node if node.name.endswith(ROWS_MATMUL))
    _fold_input_scale(graph, first)
    onnx.checker.check_model(rewritten)
    return rewritten, replaced


def optimized_onnx(model: onnx.ModelProto, sample: np.ndarray, tolerance: float = 1e-6) -> tuple[onnx.ModelProto, dict]:
    """`rows_as_matmul` applied when it changes something and onnxruntime's outputs agree on `sample`.

    Returns the model to save and a record of what was done (for the manifest).
    """
    from toolkit.serving.onnx_sessions import onnx_session

    rewritten, replaced = rows_as_matmul(model)
    if not replaced:
        return model, {"rewritten_convs": []}
    name = model.graph.input[0].name
    before = onnx_session(model.SerializeToString()).run(None, {name: sample})[0]
    after = onnx_session(rewritten.SerializeToString()).run(None, {name: sample})[0]
    difference = float(np.abs(before - after).max())
    if not difference <= tolerance:
        return model, {"rewritten_convs": [], "rejected_max_abs_diff": difference}
    return rewritten, {"rewritten_convs": replaced, "max_abs_diff": difference}
