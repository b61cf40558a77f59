"""`convlens train letters|digits|sweep`: the command line's options turned into a config, then the run."""

from __future__ import annotations

from toolkit.core import names
from toolkit.core.errors import ConvlensError
from toolkit.experiments.common import Log, run_logs
from toolkit.experiments.digits import (
    DigitsProfile,
    config_for,
    train_digits,
    train_full,
    train_letters,
)
from toolkit.experiments.digits_sweep import run_sweep
from toolkit.experiments.runs import run_folder
from toolkit.experiments.sweep_statistics import sweep_table


def config_from_args(args) -> DigitsProfile:
    """The named profile with the command line's overrides applied (each experiment's parser takes only its own)."""
    workers = getattr(args, "workers", None)
    if workers is not None and not 1 <= workers <= 64:
        raise ConvlensError(f"--workers must be between 1 and 64, not {workers}.")
    return config_for(
        args.profile,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=getattr(args, "seed", None),  # not for sweep: it runs its profile's seeds
        samples=getattr(args, "samples", None),  # digits only
        data=args.data,
    )


def train_from_cli(args, log: Log = print) -> int:
    """`convlens train letters|digits|sweep`."""
    profile = config_from_args(args)
    if args.experiment == names.LETTERS:
        folder = run_folder(args.experiment, args.out)
        with run_logs(folder):
            metrics = train_letters(profile.letters, folder, log=log)
        log(f"letters.val_accuracy = {metrics['val_accuracy']:.4f}; written to {folder}")
    elif args.experiment == names.DIGITS and getattr(args, "only_full", False):
        folder = run_folder(args.experiment, args.out)
        with run_logs(folder):
            metrics = train_full(profile.full, folder)
        log(f"full.test_accuracy = {metrics['test_accuracy']:.4f}; the demo's model is {folder / names.FULL_MODEL}")
    elif args.experiment == names.DIGITS:
        folder = run_folder(args.experiment, args.out)
        with run_logs(folder):
            train_digits(profile, folder, log=log)
        log(f"written to {folder}; the demo's model is {folder / names.FULL_MODEL}")
    elif args.experiment == names.SWEEP:
        folder = run_folder(names.SWEEP, args.out)
        summary = run_sweep(profile.sweep, folder, workers=getattr(args, "workers", None) or 1, log=log)
        log(sweep_table(summary).rstrip("\n"))
        log(f"written to {folder} (and nothing else)")
    else:
        raise ConvlensError(f"unknown digits experiment {args.experiment!r}: use letters, digits or sweep.")
    return 0
