"""What both experiments do the same way: seeded, deterministic training, a model saved so a crash never
leaves half a file, and the output sink (`log=`, default print) every training function takes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from toolkit.core.names import LOGS_FOLDER, TRAINING_LOG_CSV

Log = Callable[[str], None]


def seed_training(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and switch on TensorFlow's op determinism, so one seed gives one result.

    Without op determinism, equal seeds agree only as long as no op picks a nondeterministic kernel or
    summation order; with it such ops either run deterministically or raise. It stays on for the process.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def save_model_atomically(model, path: Path) -> None:
    """Save a Keras model beside `path`, then rename it into place: `path` is the old file or the whole new one."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)


_RUN_LOGS: ContextVar[Path | None] = ContextVar("run_logs", default=None)


@contextmanager
def run_logs(run: Path) -> Iterator[None]:
    """Within this block, every `phase_logs(...)` writes under `<run>/logs/`."""
    token = _RUN_LOGS.set(Path(run))
    try:
        yield
    finally:
        _RUN_LOGS.reset(token)


def phase_logs(phase: str) -> list:
    """Keras' CSVLogger and TensorBoard callbacks for one training phase, writing under `<run>/logs/<phase>`
    (none outside `run_logs`). Open them with `tensorboard --logdir runs/<experiment>/logs`, or read the CSV.
    """
    run = _RUN_LOGS.get()
    if run is None:
        return []
    import keras

    folder = run / LOGS_FOLDER / phase
    folder.mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.CSVLogger(str(folder / TRAINING_LOG_CSV)),
        keras.callbacks.TensorBoard(log_dir=str(folder), histogram_freq=0, write_graph=False),
    ]
