"""The practical's open question: transfer against scratch for several numbers of digits and seeds (`runs/sweep/`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from toolkit.core import names
from toolkit.core.json_files import write_json
from toolkit.experiments.common import Log
from toolkit.experiments.digits import SweepConfig, mnist_few_and_validation, run_few


def run_sweep(config: SweepConfig, letters_model, folder: Path, log: Log = print) -> list[dict]:
    """Transfer vs scratch for every n and seed: results.json, results.md and sweep.png."""
    runs = []
    for n in config.sizes:
        for seed in config.seeds:
            few = dataclasses.replace(config.few, samples=n, seed=seed)
            data = mnist_few_and_validation(n, seed)
            for method in ("transfer", "scratch"):
                _, _, metrics = run_few(method, letters_model, few, verbose=0, data=data, validate=False)
                runs.append({"method": method, "samples": n, "seed": seed, **metrics})
                log(
                    f"sweep: n={n:5d} seed={seed} {method:8s} test accuracy {metrics['test_accuracy']:.4f} "
                    f"({metrics['seconds']:.0f} s)"
                )
    summary = summarise(runs)
    write_json(folder / names.RESULTS_FILE, {"config": config, "runs": runs, "summary": summary})
    (folder / "results.md").write_text(sweep_table(summary))
    plot_sweep(summary, folder / "sweep.png")
    return summary


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and standard deviation (over seeds) of test accuracy per method and n."""
    rows = []
    for n in sorted({run["samples"] for run in runs}):
        row = {"samples": n}
        for method in ("transfer", "scratch"):
            values = np.array([run["test_accuracy"] for run in runs if run["samples"] == n and run["method"] == method])
            row[method] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "runs": len(values),
            }
        row["transfer_minus_scratch"] = row["transfer"]["mean"] - row["scratch"]["mean"]
        rows.append(row)
    return rows


def sweep_table(summary: list[dict]) -> str:
    """The sweep as a markdown table (mean ± sample std over seeds)."""
    lines = ["| n digits | transfer (frozen letter convs) | scratch | transfer - scratch |", "|---:|---:|---:|---:|"]
    for row in summary:
        t, s = row["transfer"], row["scratch"]
        lines.append(
            f"| {row['samples']} | {t['mean']:.4f} ± {t['std']:.4f} | {s['mean']:.4f} ± {s['std']:.4f} "
            f"| {row['transfer_minus_scratch']:+.4f} |"
        )
    return "\n".join(lines) + "\n"


def plot_sweep(summary: list[dict], path: Path) -> None:
    """Test accuracy against n (log scale), mean with std error bars, for both methods."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["samples"] for row in summary]
    figure, axis = plt.subplots(figsize=(6, 4))
    for method, label in (("transfer", "transfer (frozen letter convs)"), ("scratch", "from scratch")):
        axis.errorbar(
            sizes,
            [row[method]["mean"] for row in summary],
            yerr=[row[method]["std"] for row in summary],
            marker="o",
            capsize=4,
            label=label,
        )
    axis.set_xscale("log")
    axis.set_xticks(sizes, [str(n) for n in sizes])
    axis.set_xlabel("MNIST training digits (n)")
    axis.set_ylabel("test accuracy (10,000 digits)")
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(f"Transfer vs scratch, mean ± std over {summary[0]['transfer']['runs']} seeds")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
