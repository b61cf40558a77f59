"""`convlens bench`: its demo section measures both clients against a real server, and the ascent timings
are consistent with what they time. Nothing here asserts a speed: bench measures, tests check behaviour."""

import json

import pytest

from toolkit.bench import report as bench


def test_the_demo_section_measures_both_clients_and_reports_them(small_export, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVLENS_RUNS", str(tmp_path / "runs"))
    results = bench.run_bench(["demo"], trials=3, exported=small_export, log=lambda *_: None)
    demo = results["demo"]
    assert set(demo["latency"]) == {f"{label}, concurrency {c}" for label in ("photo", "sketch") for c in (1, 8)}
    for row in demo["latency"].values():
        assert set(row) == set(bench.CLIENTS)
        for figures in row.values():
            assert 0 < figures["p50_ms"] <= figures["p95_ms"] and figures["throughput_per_s"] > 0
    assert set(demo["do-nothing gradio app p50_ms"]) == set(bench.CLIENTS)
    assert demo["cold_start_s"] > 0 and demo["rss_mb_without_tensorflow"] > 0
    assert "render_error" not in demo and demo["rss_mb_after_render_loaded_tensorflow"] > 0
    written = json.loads((tmp_path / "runs" / "bench" / "results.json").read_text())
    assert written["demo"]["latency"] == demo["latency"]
    table = (tmp_path / "runs" / "bench" / "results.md").read_text()
    photo = demo["latency"]["photo, concurrency 1"]
    assert (
        f"| photo, concurrency 1 | {photo['gradio_client']['p50_ms']:.0f} |" in table
        and f"| {photo['HTTP API']['p50_ms']:.0f} |" in table
    )


def test_unknown_sections_are_refused():
    from toolkit.core.errors import ConvlensError

    with pytest.raises(ConvlensError, match="unknown bench section"):
        bench.run_bench(["nothing"])


def test_the_filter_grid_timing_is_consistent(real_home):
    from toolkit.ascent.render_timing import time_filter_grid

    grid = time_filter_grid("conv_pw_1_relu", filters=4, steps=2, size=64, one_at_a_time=2)
    assert grid["batched_seconds"] > grid["batched_trace_seconds"] > 0
    assert grid["speedup"] == pytest.approx(grid["one_at_a_time_seconds"] / grid["batched_seconds"], rel=0.01)
    assert grid["one_at_a_time_seconds"] > grid["one_at_a_time_seconds_without_tracing"] > 0
    assert grid["ceiling_without_tracing"] == pytest.approx(
        grid["gradient_ms_per_image_alone"] / grid["gradient_ms_per_image_batched"], rel=0.01
    )


def test_the_flop_counter_counts_conv_matmul_and_gemm_per_image():
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from toolkit.bench.flops import graph_flops

    weights = {
        "w": np.zeros((4, 3, 3, 3), np.float32),  # Conv 3 -> 4 channels, 3x3, 8x8 "same": 8*8*4 * 3*3*3 MACs
        "m": np.zeros((256, 5), np.float32),  # MatMul 256 -> 5
        "g": np.zeros((5, 2), np.float32),  # Gemm 5 -> 2
        "shape": np.array([-1, 256], np.int64),
    }
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("Reshape", ["r", "shape"], ["f"]),
            helper.make_node("MatMul", ["f", "m"], ["h"]),
            helper.make_node("Gemm", ["h", "g"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert graph_flops(model) == 2 * (8 * 8 * 4 * 27 + 256 * 5 + 5 * 2)
