"""onnxruntime sessions as every part of convlens opens them (no TensorFlow here: the demo uses it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

BATCH = 64


def onnx_session(model: Path | bytes) -> ort.InferenceSession:
    """A CPU onnxruntime session (from a file, or its bytes) with all graph optimisations, quiet unless wrong."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: the demo runs several sessions (ImageNet, transfer, digits) in
    # turn on 2 cores, and spinning pools starve each other (a photo verdict: 101 ms spinning, 57 ms not).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_outputs(session: ort.InferenceSession, images: np.ndarray) -> np.ndarray:
    """First output of a session over batches of float32 images."""
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: images[i : i + BATCH].astype(np.float32)})[0] for i in range(0, len(images), BATCH)]
    )
