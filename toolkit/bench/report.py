"""`convlens bench`: every section run, and the results written to `runs/bench/results.json` and `results.md`
(the table README shows)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from toolkit.bench.ascent import bench_ascent
from toolkit.bench.demo_latency import CLIENTS, bench_demo
from toolkit.bench.model_speed import bench_inference, bench_training
from toolkit.bench.teach_speed import bench_teach
from toolkit.core.errors import ConvlensError
from toolkit.core.json_files import write_json
from toolkit.core.names import BENCH, RESULTS_FILE, RESULTS_MARKDOWN
from toolkit.core.paths import exported_dir
from toolkit.experiments.runs import run_folder

SECTIONS = ("inference", "demo", "ascent", "training", "teach")


def rate(row: dict, label: str) -> str:
    """'GFLOP/s (share of peak)' for one path of a bench row, or n/a."""
    if f"{label} GFLOP/s" not in row:
        return "n/a"
    return f"{row[f'{label} GFLOP/s']:.0f} ({row[f'{label} share of peak']:.0%})"


def markdown_table(results: dict) -> str:
    """The results as the markdown tables README shows."""
    lines = [
        f"Measured {results['created'][:16]} on {results['machine']} by `convlens bench` (medians of "
        f"{results['trials']} trials).",
        "",
    ]
    inference = results.get("inference", {})
    if inference:
        lines += [
            "| model | batch | onnxruntime fp32 ms | onnxruntime int8 ms | TF tf.function ms | TF eager ms | "
            "fp32 speed-up vs tf.function | int8 speed-up vs tf.function | fp32 GFLOP/s (share of peak) | "
            "tf.function GFLOP/s (share of peak) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, rows in inference.items():
            for batch, row in rows.items():

                def cell(key: str, fmt: str = "{:.2f}", row: dict = row) -> str:
                    return fmt.format(row[key]) if key in row else "n/a"

                lines.append(
                    f"| {name} | {batch.split()[-1]} | {cell('onnxruntime fp32')} | "
                    f"{cell('onnxruntime int8')} | {cell('TF tf.function')} | {cell('TF eager')} | "
                    f"{cell('onnxruntime fp32 speed-up over TF tf.function', '{:.1f}x')} | "
                    f"{cell('onnxruntime int8 speed-up over TF tf.function', '{:.1f}x')} | "
                    f"{rate(row, 'onnxruntime fp32')} | {rate(row, 'TF tf.function')} |"
                )
        peaks = [row["peak GFLOP/s"] for rows in inference.values() for row in rows.values() if "peak GFLOP/s" in row]
        if peaks:
            lines += [
                "",
                f"GFLOP/s count the fp32 ONNX graph's Conv/MatMul/Gemm FLOPs (2 x multiply-adds) for every path; "
                f"the peak is this machine's float32 GEMM in onnxruntime (1024^3 MatMul, median): {peaks[0]:.0f} "
                f"GFLOP/s.",
            ]
        lines.append("")
    demo = results.get("demo", {})
    if demo:
        lines += [
            "| demo, fp32 | gradio_client p50 ms | p95 ms | requests/s | HTTP API (as the browser) p50 ms | "
            "p95 ms | requests/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, row in demo.get("latency", {}).items():
            lines.append(
                f"| {key} | "
                + " | ".join(
                    f"{row[kind]['p50_ms']:.0f} | {row[kind]['p95_ms']:.0f} | {row[kind]['throughput_per_s']:.1f}"
                    for kind in CLIENTS
                )
                + " |"
            )
        floor = demo.get("do-nothing gradio app p50_ms")
        if floor:
            lines.append(
                f"| a do-nothing gradio app, same inputs and outputs, concurrency 1 (gradio's and the "
                f"client's own cost) | {floor['gradio_client']:.0f} | | | {floor['HTTP API']:.0f} | | |"
            )
        lines += [
            "",
            "gradio_client waits for each message of the event stream by polling with a 50 ms sleep, "
            "which the do-nothing row shows; the HTTP API columns make the same calls as the page does "
            "(upload, join the queue, read the event stream, download the result's image).",
        ]
        pipelines = demo.get("photo_pipelines") or {}
        if pipelines:
            lines += ["", "| photo verdict in-process (`judge_photo`, same run) | p50 ms | p95 ms |", "|---|---|---|"]
            lines += [f"| {key} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} |" for key, row in pipelines.items()]
        lines += [
            "",
            f"Demo cold start (process start to first answer): {demo['cold_start_s']:.1f} s; resident "
            f"memory {demo['rss_mb_without_tensorflow']:.0f} MB without TensorFlow"
            + (
                f", {demo['rss_mb_after_render_loaded_tensorflow']:.0f} MB after a live render loaded it."
                if "rss_mb_after_render_loaded_tensorflow" in demo
                else "."
            ),
            "",
        ]
    for section, title in (
        ("ascent", "Gradient ascent"),
        ("training", "Training throughput (cats vs dogs)"),
        ("teach", "Teaching 2 classes x 20 real photos, features included (target 10 s)"),
    ):
        if results.get(section):
            lines += [f"| {title} | value |", "|---|---|"]
            lines += [
                f"| {key} | {value:.2f} |" if isinstance(value, float) else f"| {key} | {value} |"
                for key, value in results[section].items()
            ]
            lines.append("")
    return "\n".join(lines)


def run_bench(sections: list[str] | None = None, trials: int = 30, exported: Path | None = None, log=print) -> dict:
    """Run the chosen sections and write runs/bench/results.json and results.md."""
    exported = Path(exported or exported_dir())
    chosen = list(sections or SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise ConvlensError(f"unknown bench section(s) {sorted(unknown)}; known: {list(SECTIONS)}")
    results = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "trials": trials,
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}",
    }
    # The demo runs in its own process; measure it, and teaching (onnxruntime only), before TensorFlow is imported.
    order = [s for s in ("demo", "teach", "inference", "ascent", "training") if s in chosen]
    runners = {
        "inference": lambda: bench_inference(exported, trials, log),
        "demo": lambda: bench_demo(exported, trials, log),
        "ascent": lambda: bench_ascent(trials, log),
        "training": lambda: bench_training(trials, log),
        "teach": lambda: bench_teach(exported, trials, log),
    }
    for section in order:
        log(f"[bench] {section} ...")
        results[section] = runners[section]()
    folder = run_folder(BENCH)
    write_json(folder / RESULTS_FILE, results)
    (folder / RESULTS_MARKDOWN).write_text(markdown_table(results) + "\n")
    log(f"Results in {folder / RESULTS_FILE} and {folder / 'results.md'}")
    return results


def bench_from_cli(args) -> int:
    print(markdown_table(run_bench(args.only, args.trials)))
    return 0
