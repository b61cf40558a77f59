"""The sweep's statistics: paired differences (transfer - scratch, same seed) with t intervals, a sign test,
one sentence per regime no stronger than its interval, the markdown table and the plot.

Each interval is the two-sided t interval of the mean paired difference over the seeds, on the fixed test set.
Beside it stands the Bonferroni-adjusted interval for the family it is read with (every cell of one table):
the same centre, the t quantile at 1 - (1 - confidence) / (2 x intervals)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.experiments.digits import VALIDATION_POOL

CONFIDENCE = 0.95
METHODS = ("transfer", "scratch")


def arm_name(augmented: bool) -> str:
    return "augmented" if augmented else "plain"


def selection_key(augmented: bool, samples: int, method: str) -> str:
    """How results.json names the learning rate chosen for one arm, n and method."""
    return f"{arm_name(augmented)}/{samples}/{method}"


def paired_interval(differences, confidence: float = CONFIDENCE, intervals: int = 1) -> dict:
    """Mean of paired differences with its two-sided t interval, the Bonferroni-adjusted one for a family of
    `intervals` intervals, the count of positive differences and a sign test."""
    from scipy import stats

    values = np.asarray(differences, float)
    count = len(values)
    mean = float(values.mean())
    if count < 2:
        raise ConvlensError(f"a confidence interval needs at least 2 seeds, not {count}.")
    spread = float(values.std(ddof=1))
    standard_error = spread / math.sqrt(count)
    half = float(stats.t.ppf((1 + confidence) / 2, count - 1)) * standard_error
    adjusted_half = float(stats.t.ppf(1 - (1 - confidence) / (2 * intervals), count - 1)) * standard_error
    wins, losses = int((values > 0).sum()), int((values < 0).sum())
    sign_p = float(stats.binomtest(wins, wins + losses).pvalue) if wins + losses else 1.0
    return {
        "mean": mean,
        "low": mean - half,
        "high": mean + half,
        "bonferroni_low": mean - adjusted_half,
        "bonferroni_high": mean + adjusted_half,
        "intervals": intervals,
        "std": spread,
        "seeds": count,
        "transfer_wins": wins,
        "scratch_wins": losses,
        "sign_test_p": sign_p,
        "confidence": confidence,
    }


def _by_seed(runs: list[dict], method: str, augmented: bool, samples: int) -> dict[int, float]:
    """One method's test accuracy per seed in one arm and n."""
    return {
        run["seed"]: run["test_accuracy"]
        for run in runs
        if (run["method"], run["augmented"], run["samples"]) == (method, augmented, samples)
    }


def _paired(first: dict[int, float], second: dict[int, float]) -> tuple[list[int], list[float]]:
    """The seeds both have, and first - second for each of them: the pairing every interval here uses."""
    seeds = sorted(set(first) & set(second))
    return seeds, [first[seed] - second[seed] for seed in seeds]


def summarise(runs: list[dict], learning_rates: dict[str, float]) -> list[dict]:
    """One row per arm and n: each method's mean and std over seeds, and the paired difference's interval."""
    cells = [
        (augmented, n)
        for augmented in sorted({run["augmented"] for run in runs}, reverse=True)
        for n in sorted({run["samples"] for run in runs})
    ]
    rows = []
    for augmented, n in cells:
        by_method = {method: _by_seed(runs, method, augmented, n) for method in METHODS}
        seeds, differences = _paired(by_method["transfer"], by_method["scratch"])
        row: dict = {
            "augmented": augmented,
            "samples": n,
            "difference": paired_interval(differences, intervals=len(cells)),
        }
        for method in METHODS:
            values = np.array([by_method[method][seed] for seed in seeds])
            row[method] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)),
                "learning_rate": learning_rates.get(selection_key(augmented, n, method)),
            }
        row["conclusion"] = conclusion(row)
        rows.append(row)
    return rows


def _points(value: float) -> str:
    return f"{100 * value:+.2f}"


def conclusion(row: dict) -> str:
    """One sentence, as strong as the interval allows: a winner only when the interval excludes zero."""
    d = row["difference"]
    where = f"With {row['samples']} digits ({'augmented' if row['augmented'] else 'no augmentation'})"
    interval = f"{_points(d['mean'])} points, {d['confidence']:.0%} CI {_points(d['low'])} to {_points(d['high'])}"
    if d["low"] > 0:
        return f"{where}, transfer is better: {interval}; transfer won {d['transfer_wins']} of {d['seeds']} seeds."
    if d["high"] < 0:
        return f"{where}, scratch is better: {interval}; scratch won {d['scratch_wins']} of {d['seeds']} seeds."
    bound = max(abs(d["low"]), abs(d["high"]))
    return (
        f"{where}, no difference is shown: {interval} ({d['transfer_wins']} of {d['seeds']} seeds favour "
        f"transfer); the interval rules out differences beyond {100 * bound:.2f} points."
    )


def sweep_table(summary: list[dict]) -> str:
    """The sweep as markdown: accuracies (mean ± std over seeds), the paired difference, its interval and the
    Bonferroni-adjusted one over the table's cells, then the conclusions."""
    lines = [
        f"| arm | n digits | transfer (lr) | scratch (lr) | transfer - scratch, points | {CONFIDENCE:.0%} CI | "
        f"{_bonferroni_header(summary)} | seeds transfer won | sign test p |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        t, s, d = row["transfer"], row["scratch"], row["difference"]
        lines.append(
            f"| {arm_name(row['augmented'])} | {row['samples']} "
            f"| {t['mean']:.4f} ± {t['std']:.4f} ({t['learning_rate']:g}) "
            f"| {s['mean']:.4f} ± {s['std']:.4f} ({s['learning_rate']:g}) "
            f"| {_points(d['mean'])} | {_intervals(d)} "
            f"| {d['transfer_wins']} of {d['seeds']} | {d['sign_test_p']:.3g} |"
        )
    return "\n".join([*lines, "", *(f"- {row['conclusion']}" for row in summary)]) + "\n"


def augmentation_against_transfer(runs: list[dict]) -> list[dict]:
    """Per n, scratch with augmentation minus transfer without it, paired by seed: which helps more."""
    pairs = {
        n: _paired(_by_seed(runs, "scratch", True, n), _by_seed(runs, "transfer", False, n))[1]
        for n in sorted({run["samples"] for run in runs})
    }
    pairs = {n: differences for n, differences in pairs.items() if len(differences) > 1}
    rows = []
    for n, differences in pairs.items():
        difference = paired_interval(differences, intervals=len(pairs))
        # paired_interval counts positive differences as transfer's wins; here they are augmentation's
        difference["augmented_scratch_wins"] = difference.pop("transfer_wins")
        difference["plain_transfer_wins"] = difference.pop("scratch_wins")
        rows.append({"samples": n, "difference": difference})
    return rows


def _intervals(d: dict) -> str:
    """The plain interval and the Bonferroni-adjusted one, as two table cells."""
    plain = f"{_points(d['low'])} to {_points(d['high'])}"
    return f"{plain} | {_points(d['bonferroni_low'])} to {_points(d['bonferroni_high'])}"


def _bonferroni_header(rows: list[dict]) -> str:
    intervals = rows[0]["difference"]["intervals"] if rows else 1
    return f"{CONFIDENCE:.0%} CI, Bonferroni-adjusted for {intervals} intervals"


def augmentation_table(rows: list[dict]) -> str:
    """Markdown: scratch with augmentation minus transfer without, in points, with its 95% interval and the
    Bonferroni-adjusted one."""
    lines = [
        "Scratch with augmentation minus transfer without it (paired by seed), points:",
        "",
        f"| n digits | difference | {CONFIDENCE:.0%} CI | {_bonferroni_header(rows)} | "
        "seeds scratch with augmentation won |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        d = row["difference"]
        lines.append(
            f"| {row['samples']} | {_points(d['mean'])} | {_intervals(d)} "
            f"| {d['augmented_scratch_wins']} of {d['seeds']} |"
        )
    return "\n".join(lines) + "\n"


def selection_table(candidates: list[dict], chosen: dict[str, float]) -> str:
    """Markdown: every candidate learning rate's validation accuracy per arm, n and method, the chosen one in bold."""
    rates = sorted({run["learning_rate"] for run in candidates})
    lines = [
        f"Learning rates, chosen on the {VALIDATION_POOL:,} validation digits with the selection seed "
        "(validation accuracy):",
        "",
        "| arm | n digits | method | " + " | ".join(f"{rate:g}" for rate in rates) + " |",
        "|---|---:|---|" + "---:|" * len(rates),
    ]
    keys = sorted(
        {(run["augmented"], run["samples"], run["method"]) for run in candidates},
        key=lambda k: (not k[0], k[1], k[2] != "transfer"),
    )
    for augmented, samples, method in keys:
        found = {
            run["learning_rate"]: run["val_accuracy"]
            for run in candidates
            if (run["augmented"], run["samples"], run["method"]) == (augmented, samples, method)
        }
        best = chosen.get(selection_key(augmented, samples, method))
        cells = [(f"**{found[r]:.4f}**" if r == best else f"{found[r]:.4f}") if r in found else "" for r in rates]
        lines.append(f"| {arm_name(augmented)} | {samples} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_sweep(summary: list[dict], path: Path) -> None:
    """Left: test accuracy against n per method and arm. Right: transfer - scratch with its 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    arms = sorted({row["augmented"] for row in summary}, reverse=True)
    for offset, augmented in zip((0.97, 1.03), arms):
        rows = [row for row in summary if row["augmented"] == augmented]
        sizes = np.array([row["samples"] for row in rows])
        arm = arm_name(augmented)
        for method, style in (("transfer", "-o"), ("scratch", "--s")):
            left.errorbar(
                sizes,
                [row[method]["mean"] for row in rows],
                yerr=[row[method]["std"] for row in rows],
                fmt=style,
                capsize=3,
                label=f"{method}, {arm}",
            )
        means = np.array([row["difference"]["mean"] for row in rows]) * 100
        lows = np.array([row["difference"]["low"] for row in rows]) * 100
        highs = np.array([row["difference"]["high"] for row in rows]) * 100
        right.errorbar(sizes * offset, means, yerr=[means - lows, highs - means], fmt="o", capsize=4, label=arm)
    right.axhline(0, color="black", linewidth=0.8)
    seeds = summary[0]["difference"]["seeds"] if summary else 0
    all_sizes = sorted({row["samples"] for row in summary})
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xticks(all_sizes, [str(n) for n in all_sizes])
        axis.minorticks_off()
        axis.set_xlabel("MNIST training digits (n)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    left.set_ylabel("test accuracy (MNIST test digits)")
    left.set_title(f"Mean ± std over {seeds} seeds")
    right.set_ylabel("transfer - scratch, points")
    right.set_title(f"Paired difference, {CONFIDENCE:.0%} t interval over {seeds} seeds")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
