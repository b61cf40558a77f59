"""FLOPs of an ONNX graph and the machine's measured float32 peak, for bench's GFLOP/s columns.

FLOPs are 2 x multiply-adds of Conv, MatMul and Gemm nodes, per image (the batch dimension set to 1);
other ops are not counted. A graph rewritten by `toolkit.export.optimize` counts its Toeplitz MatMuls,
zeros included (for the digits CNN 1.17x the convolutions' own count).
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def _shapes(model) -> dict:
    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in fixed.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    inferred = onnx.shape_inference.infer_shapes(fixed, data_prop=True)
    shapes = {tensor.name: list(tensor.dims) for tensor in fixed.graph.initializer}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return shapes


def graph_flops(model) -> int:
    """2 x multiply-adds of the Conv, MatMul and Gemm nodes for one image (ONNX ModelProto or path)."""
    import onnx

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    shapes = _shapes(model)
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "MatMul", "Gemm"):
            continue
        out = shapes.get(node.output[0])
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        if not out or not a or not b or None in out or None in a or None in b:
            raise ValueError(f"{node.op_type} {node.name}: shapes unknown, FLOPs not counted")
        if node.op_type == "Conv":
            per_output = int(np.prod(b[1:]))  # C/group x kernel
        elif node.op_type == "MatMul":
            per_output = a[-1]
        else:
            trans_a = next((x.i for x in node.attribute if x.name == "transA"), 0)
            per_output = a[0] if trans_a else a[1]
        total += 2 * int(np.prod(out)) * int(per_output)
    return total


def measured_peak_gflops(size: int = 1024, trials: int = 15) -> float:
    """The machine's float32 GEMM rate in onnxruntime (MLAS, all cores), GFLOP/s, median of trials."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "peak",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size]) for n in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal((size, size)).astype(np.float32) for n in ("a", "b")}
    session.run(None, feeds)
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9
