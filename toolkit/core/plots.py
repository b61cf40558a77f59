"""Training curves as figures (matplotlib, imported when drawing)."""

from __future__ import annotations

import os


def plot_curves(
    histories: dict[str, dict[str, list[float]]],
    path: str | os.PathLike,
    title: str,
    marks: dict[str, int] | None = None,
) -> None:
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
                    axis.plot(
                        range(1, len(values) + 1),
                        values,
                        style,
                        color=colour,
                        label=f"{name} {'validation' if prefix else 'train'}",
                    )
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
