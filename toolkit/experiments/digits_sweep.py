"""The practical's open question, answered with paired statistics: transfer against scratch for several
numbers of digits, seeds and augmentation arms (`convlens train sweep`, into `--out`, `runs/sweep/` by default).

Three stages, each a set of independent units that run in `workers` processes (one thread each):
1. the letters model, retrained for every seed (and the selection seed);
2. learning-rate selection: per n, arm and method, every candidate trained with the selection seed and
   judged on the validation pool;
3. the paired runs: per seed, n and arm, transfer and scratch on the same digits, the same letters model
   and the same augmented batches, each with its chosen learning rate, scored once on the test digits.
Each unit's result is a JSON file under `<out>/units/`, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.core import names
from toolkit.core.errors import ConvlensError
from toolkit.core.json_files import write_json
from toolkit.experiments.common import Log
from toolkit.experiments.digits_config import SweepConfig
from toolkit.experiments.sweep_statistics import (
    METHODS,
    arm_name,
    augmentation_against_transfer,
    augmentation_table,
    plot_sweep,
    selection_key,
    selection_table,
    summarise,
    sweep_table,
)

if TYPE_CHECKING:
    import keras

UNITS = "units"
CONFIG = "sweep_config.json"
COMMITS = "code_versions.json"  # in units/: every code version that computed some of its units
STAGE_SECONDS = "stage_seconds.json"  # in units/: each stage's compute time, across resumed runs


@dataclass(frozen=True)
class Unit:
    """One independent piece of a stage: `work(config, key, folder)` gives the JSON kept as `<folder>/<name>.json`."""

    work: Callable[[SweepConfig, Any, Path], dict]
    name: str
    config: SweepConfig
    key: Any
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / f"{self.name}.json"


def run_sweep(config: SweepConfig, folder: Path, workers: int = 1, log: Log = print) -> list[dict]:
    """All three stages, then results.json, results.md and sweep.png in `folder`; returns the summary rows."""
    if len(set(config.seeds)) < 2:
        raise ConvlensError("a sweep needs at least 2 seeds for its confidence intervals.")
    if True in config.augmentation and config.few.augmentation is None:
        raise ConvlensError("the augmented arm needs `few.augmentation`: it is the augmentation that arm uses.")
    started = time.perf_counter()
    units = _prepare(config, Path(folder), log)
    seeds = (config.selection_seed, *config.seeds)
    letters = _run_stage(
        "letters", [Unit(_letters_unit, _letters_name(seed), config, seed, units) for seed in seeds], workers, log
    )
    selection = [
        Unit(
            _selection_unit,
            f"select-{arm_name(augmented)}-{n}-{method}-{rate:g}",
            config,
            (augmented, n, method, rate),
            units,
        )
        for augmented in config.augmentation
        for n in config.sizes
        for method in METHODS
        for rate in config.learning_rates
    ]
    candidates = _run_stage("learning-rate selection", selection, workers, log)
    chosen = choose_learning_rates(candidates)
    paired = [
        Unit(_paired_unit, f"paired-{seed}-{arm_name(augmented)}-{n}", config, (seed, augmented, n, chosen), units)
        for seed in config.seeds
        for augmented in config.augmentation
        for n in config.sizes
    ]
    runs = [run for pair in _run_stage("paired runs", paired, workers, log) for run in pair["runs"]]
    summary = summarise(runs, chosen)
    augmentation = augmentation_against_transfer(runs)
    write_json(
        folder / names.RESULTS_FILE,
        {
            "config": config,
            "seconds_this_run": round(time.perf_counter() - started, 1),
            "stage_seconds": _read(units / STAGE_SECONDS, {}),
            "workers": workers,
            "code_versions": _read(units / COMMITS, []),
            "letters": letters,
            "learning_rates": chosen,
            "learning_rate_candidates": candidates,
            "runs": runs,
            "summary": summary,
            "augmented_scratch_minus_plain_transfer": augmentation,
        },
    )
    (folder / names.RESULTS_MARKDOWN).write_text(
        "\n".join([sweep_table(summary), augmentation_table(augmentation), selection_table(candidates, chosen)])
    )
    plot_sweep(summary, folder / names.SWEEP_PLOT)
    return summary


def choose_learning_rates(selection: list[dict]) -> dict[str, float]:
    """The candidate with the best validation accuracy per arm, n and method (the smaller rate on a tie)."""
    best: dict[str, dict] = {}
    for run in sorted(selection, key=lambda run: run["learning_rate"]):
        key = selection_key(run["augmented"], run["samples"], run["method"])
        if key not in best or run["val_accuracy"] > best[key]["val_accuracy"]:
            best[key] = run
    return {key: run["learning_rate"] for key, run in best.items()}


# ------------------------------------------------------------------------------------ stages


def _prepare(config: SweepConfig, folder: Path, log: Log) -> Path:
    """`<folder>/units/`, emptied if it holds a sweep of a different configuration; a `units/` folder that no
    sweep recorded is refused, never removed."""
    units = folder / UNITS
    wanted = json.loads(json.dumps(dataclasses.asdict(config)))
    recorded = folder / CONFIG
    if units.exists() and not recorded.exists():
        raise ConvlensError(f"{units} exists but no sweep recorded it ({recorded} is missing): choose another --out.")
    if units.exists() and json.loads(recorded.read_text()) != wanted:
        log(f"sweep: {units} holds a different configuration's runs; starting afresh")
        shutil.rmtree(units)
    units.mkdir(parents=True, exist_ok=True)
    write_json(recorded, wanted)
    return units


def code_version() -> str:
    """The git commit of the toolkit (with `+changes` when the tree differs from it), else the package version."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "toolkit"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, changed = "", ""
    if not commit:  # not a git checkout
        from toolkit import __version__

        return f"convlens {__version__}"
    return f"{commit}+changes" if changed else commit


def _read(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default


def _run_stage(stage: str, units: list[Unit], workers: int, log: Log) -> list[dict]:
    """Run the units not done yet (in `workers` processes when more than one), then every unit's result."""
    started = time.perf_counter()
    todo = [unit for unit in units if not _done(unit)]
    log(f"sweep: {stage}: {len(units) - len(todo)} of {len(units)} units already done")
    if workers > 1 and len(todo) > 1:
        context = get_context("spawn")  # TensorFlow in a forked child of a process that used it can hang
        pool = ProcessPoolExecutor(min(workers, len(todo)), mp_context=context, initializer=_one_thread)
        try:
            for result in pool.map(_call, todo):
                log(result)
        finally:
            pool.shutdown(cancel_futures=True)  # a failed unit stops the stage instead of waiting for the rest
    else:
        for unit in todo:
            log(_call(unit))
    seconds = time.perf_counter() - started
    log(f"sweep: {stage} done in {seconds:.0f} s")
    if todo:  # the time spent computing, summed over the runs that resumed this sweep, and the code that did it
        folder = todo[0].folder
        spent = _read(folder / STAGE_SECONDS, {})
        write_json(folder / STAGE_SECONDS, {**spent, stage: round(spent.get(stage, 0.0) + seconds, 1)})
        known, now = _read(folder / COMMITS, []), code_version()
        write_json(folder / COMMITS, known if now in known else [*known, now])
    return [json.loads(unit.path.read_text()) for unit in units]


def _done(unit: Unit) -> bool:
    """Whether the unit's result is there; a paired unit's only when made with the learning rates chosen now."""
    if not unit.path.exists():
        return False
    if unit.work is not _paired_unit:
        return True
    _, augmented, n, chosen = unit.key
    stored = json.loads(unit.path.read_text())["runs"]
    return all(run["learning_rate"] == chosen[selection_key(augmented, n, run["method"])] for run in stored)


def _one_thread() -> None:
    """A worker's TensorFlow uses one thread: on small batches, processes scale better than threads."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _call(unit: Unit) -> str:
    started = time.perf_counter()
    result = unit.work(unit.config, unit.key, unit.folder)
    write_json(unit.path, result)
    return f"sweep: {unit.name} done in {time.perf_counter() - started:.0f} s: {_describe(result)}"


def _letters_name(seed: int) -> str:
    """The letters unit's name: its JSON file and the folder of its model."""
    return f"letters-{seed}"


def _describe(result: dict) -> str:
    if "runs" in result:
        return ", ".join(f"{run['method']} {run['test_accuracy']:.4f}" for run in result["runs"])
    return f"validation accuracy {result['val_accuracy']:.4f}"


# ------------------------------------------------------------------------------------ units


def _letters_unit(config: SweepConfig, seed: int, units: Path) -> dict:
    """The letters model with this seed, saved as `<units>/letters-<seed>/letters.keras`."""
    from toolkit.experiments.digits import train_letters

    folder = _letters_folder(units, seed)
    folder.mkdir(exist_ok=True)
    letters = dataclasses.replace(config.letters, seed=seed)
    metrics = train_letters(letters, folder, verbose=0, log=lambda _: None, figures=False)
    return {"seed": seed, **metrics}


def _letters_model(units: Path, seed: int) -> keras.Model:
    from toolkit.core.model_files import load_keras_model

    return load_keras_model(_letters_folder(units, seed) / names.LETTERS_MODEL, compile=True)


def _letters_folder(units: Path, seed: int) -> Path:
    return units / _letters_name(seed)


def _train_one(
    config: SweepConfig, method: str, rate: float, augmented: bool, seed: int, data: tuple, units: Path
) -> keras.Model:
    """One method on one sample of digits: the trained model."""
    from toolkit.experiments.common import seed_training
    from toolkit.experiments.digits import small_cnn, train_few, transfer_cnn

    few = dataclasses.replace(
        config.few,
        samples=len(data[0]),
        seed=seed,
        learning_rate=rate,
        augmentation=config.few.augmentation if augmented else None,
    )
    seed_training(seed)
    model = transfer_cnn(_letters_model(units, seed)) if method == "transfer" else small_cnn(10)
    train_few(model, data[0], few, verbose=0, phase=method)
    return model


def _selection_unit(config: SweepConfig, key: tuple, units: Path) -> dict:
    from toolkit.experiments.digits import accuracy, mnist_few_and_validation

    augmented, n, method, rate = key
    seed = config.selection_seed
    data = mnist_few_and_validation(n, seed)
    model = _train_one(config, method, rate, augmented, seed, data, units)
    return {
        "augmented": augmented,
        "samples": n,
        "method": method,
        "learning_rate": rate,
        "seed": seed,
        "val_accuracy": accuracy(model, data[1]),
    }


def _paired_unit(config: SweepConfig, key: tuple, units: Path) -> dict:
    """Transfer and scratch on the same digits, letters model and augmented batches: the test figure of each."""
    from toolkit.experiments.digits import accuracy, mnist_few_and_validation

    seed, augmented, n, chosen = key
    data = mnist_few_and_validation(n, seed)
    runs = []
    for method in METHODS:
        rate = chosen[selection_key(augmented, n, method)]
        started = time.perf_counter()
        model = _train_one(config, method, rate, augmented, seed, data, units)
        runs.append(
            {
                "method": method,
                "samples": n,
                "seed": seed,
                "augmented": augmented,
                "learning_rate": rate,
                "val_accuracy": accuracy(model, data[1]),
                "test_accuracy": accuracy(model, data[2]),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    return {"runs": runs}
