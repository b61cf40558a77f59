"""Writing a training run: `runs/<experiment>/` with config, history, metrics and curves."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from toolkit.atomic_files import write_atomically
from toolkit.paths import runs_dir


def run_folder(experiment: str, out: str | os.PathLike | None = None) -> Path:
    """The folder of a run (`runs/<experiment>` unless `out` names another), created."""
    folder = Path(out) if out else runs_dir() / experiment
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()  # numpy scalars
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def write_json(path: str | os.PathLike, value) -> None:
    """Write JSON atomically (dataclasses and numpy values included)."""
    write_atomically(path, (json.dumps(_jsonable(value), indent=2) + "\n").encode())


def plot_curves(histories: dict[str, dict[str, list[float]]], path: str | os.PathLike, title: str,
                marks: dict[str, int] | None = None) -> None:
    """Accuracy and loss per epoch, train (solid) and validation (dashed), for one or more runs.

    `histories` maps a run's name to a Keras-style history (`accuracy`, `val_accuracy`, `loss`,
    `val_loss`); `marks` maps a label to an epoch to draw a vertical line at (e.g. fine-tuning start).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (acc_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index}"
        for axis, key in ((acc_axis, "accuracy"), (loss_axis, "loss")):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + key)
                if values:
                    axis.plot(range(1, len(values) + 1), values, style, color=colour,
                              label=f"{name} {'validation' if prefix else 'train'}")
    for label, epoch in (marks or {}).items():
        for axis in (acc_axis, loss_axis):
            axis.axvline(epoch + 0.5, color="grey", linestyle=":", label=label)
    for axis, key in ((acc_axis, "accuracy"), (loss_axis, "loss")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
    acc_axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
