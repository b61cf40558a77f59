"""`convlens visualize`: renders the gallery panels with a progress bar over steps."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.ascent import fair_check, gallery, subjects
from toolkit.core.errors import ConvlensError
from toolkit.core.names import GALLERY_INDEX

if TYPE_CHECKING:
    from tqdm import tqdm

KINDS = ("all", "filters", "filter", "class", "digits", "digit-filters", "catsdogs", "robustness")
# (folder, progress) -> the entry it wrote; "..." as the lambdas bind their loop variables as defaults
Panel = Callable[..., gallery.Entry]


class StepBar:
    """A tqdm bar over optimisation steps, fed by the render loop's progress callback."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.description, unit="step", leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _methods(choice: str) -> list[str]:
    return ["naive", "robust"] if choice == "both" else [choice]


def _panels(what: str, args, options: gallery.Options) -> list[tuple[str, Panel]]:
    """(description, function(folder, progress) -> Entry) for each panel asked for."""
    layers = [args.layer] if args.layer else list(gallery.BACKBONE_LAYERS[options.backbone])
    methods = _methods(args.method)
    panels: list[tuple[str, Panel]] = []
    if what in ("all", "filters"):
        panels += [
            (f"filters {layer} {m}", lambda f, p, layer=layer, m=m: gallery.filters_panel(f, layer, m, options, p))
            for layer in layers
            for m in methods
        ]
    if what in ("all", "filter"):
        layer = args.layer or gallery.BACKBONE_LAYERS[options.backbone][-1]
        panels += [
            (
                f"filter {layer}:{args.filter} {m}",
                lambda f, p, m=m: gallery.filter_panel(f, layer, args.filter, m, options, p),
            )
            for m in methods
        ]
    if what in ("all", "class"):
        panels += [
            (f"class {args.class_name} {m}", lambda f, p, m=m: gallery.class_panel(f, args.class_name, m, options, p))
            for m in methods
        ]
    for kind, path, panel in (
        ("digits", options.digits_path(), gallery.digits_panel),
        ("digit-filters", options.digits_path(), gallery.digit_filters_panel),
        ("catsdogs", options.catsdogs_path(), gallery.catsdogs_panel),
    ):
        if what not in ("all", kind):
            continue
        if what == "all" and not path.is_file():
            print(
                f"skipping {kind}: no trained model at {path} (run `convlens train "
                f"{'digits' if 'digit' in kind else 'catsdogs'}` first)"
            )
            continue
        panels += [(f"{kind} {m}", lambda f, p, m=m, panel=panel: panel(f, m, options, p)) for m in methods]
    return panels


def _fair_subjects(what: str, args, options: gallery.Options) -> list[Callable[[], subjects.ClassSubject]]:
    """The class subjects the fair robustness check renders: the ImageNet class, and the digits and cats vs dogs
    where their trained models are (`all` has already said which are skipped)."""
    found: list[Callable[[], subjects.ClassSubject]] = [partial(subjects.imagenet_class, options, args.class_name)]
    for kind, path, subject in (
        ("digits", options.digits_path(), subjects.mnist_digits),
        ("catsdogs", options.catsdogs_path(), subjects.cats_dogs),
    ):
        if path.is_file():
            found.append(partial(subject, options))
        elif what == "robustness":
            print(f"skipping {kind}: no trained model at {path} (run `convlens train {kind}` first)")
    return found


class StepBars:
    """One StepBar per render of the fair check, each closed when the next one starts."""

    def __init__(self) -> None:
        self.bar: StepBar | None = None

    def __call__(self, description: str) -> StepBar:
        self.close()
        self.bar = StepBar(description)
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_fair_record(kind: str, record: dict) -> None:
    print(f"robustness {kind} ({record['title']}): mean log-odds (mean p) of the target")
    for method, budgets in record["results"].items():
        for steps, result in budgets.items():
            figures = ", ".join(
                f"{name} {f['mean_log_odds']:.1f} ({f['mean_p']:.2f})" for name, f in result["families"].items()
            )
            print(f"  {method} {steps} steps ({result['seconds']:.1f} s): {figures}")


def _robustness(
    found: list[Callable[[], subjects.ClassSubject]], folder: Path, options: gallery.Options, args
) -> dict[str, dict]:
    """Runs the fair robustness check on each subject and merges its records into the folder's index.json."""
    if not found:
        return {}
    budgets = tuple(getattr(args, "budgets", None) or fair_check.BUDGETS)
    draws = getattr(args, "draws", None) or fair_check.DRAWS
    records, bars = {}, StepBars()
    try:
        for make_subject in found:
            subject = make_subject()
            started = time.perf_counter()
            records[subject.kind] = fair_check.fair_check(subject, budgets, options.seed, draws, progress=bars)
            records[subject.kind]["check_seconds"] = round(time.perf_counter() - started, 1)
            bars.close()
            _print_fair_record(subject.kind, records[subject.kind])
    finally:
        bars.close()
    gallery.merge_fair_robustness(folder, records)
    return records


def _run(
    panels: list[tuple[str, Panel]], folder: Path, on_entry: Callable[[list[gallery.Entry]], object] | None = None
) -> list[gallery.Entry]:
    """Renders each panel into `folder`; `on_entry` is called with the entries so far after each image."""
    entries: list[gallery.Entry] = []
    for description, panel in panels:
        bar = StepBar(description)
        try:
            entry = panel(folder, bar)
        finally:
            bar.close()
        note = ""
        if entry.probabilities:
            note = "  p as rendered " + ", ".join(f"{k} {v:.2f}" for k, v in entry.probabilities["as_rendered"].items())
            note += "; under transformations " + ", ".join(
                f"{k} {v:.2f}" for k, v in entry.probabilities["under_transforms"].items()
            )
        print(f"{description}: {entry.steps} steps, {entry.seconds:.1f} s -> {entry.file}{note}")
        entries.append(entry)
        if on_entry is not None:
            on_entry(entries)
    return entries


def visualize_from_cli(args) -> int:
    what = args.what
    if what not in KINDS:
        raise ConvlensError(f"unknown visualisation {what!r}: use one of {', '.join(KINDS)}.")
    if args.backbone == "resnet50v2" and not args.weights:
        raise ConvlensError(
            "--backbone resnet50v2 needs its ImageNet weights: --weights PATH (a Keras ResNet50V2 "
            "weights file) or --weights imagenet (downloads; needs internet)."
        )
    if args.steps is not None and args.steps < 1:
        raise ConvlensError(f"--steps must be at least 1, not {args.steps}.")
    if what == "robustness" and args.steps is not None:
        raise ConvlensError("robustness compares step budgets: give them with --budgets N [N ...], not --steps.")
    budgets, draws = getattr(args, "budgets", None) or (), getattr(args, "draws", None)
    if (budgets or draws is not None) and what not in ("robustness", "all"):
        raise ConvlensError(f"--budgets and --draws belong to the robustness check, not to `visualize {what}`.")
    if getattr(args, "skip_robustness", False) and what != "all":
        raise ConvlensError("--skip-robustness only applies to `visualize all`.")
    if any(b < 1 for b in budgets) or (draws is not None and draws < 1):
        raise ConvlensError(f"--budgets and --draws must be at least 1, not {list(budgets)} and {draws}.")
    if args.size is not None and not 32 <= args.size <= 512:
        raise ConvlensError(f"--size must be between 32 and 512 pixels, not {args.size}.")
    own_model = getattr(args, "model", None)
    options = gallery.Options(
        args.backbone,
        args.weights,
        args.steps,
        args.size,
        args.seed,
        digits_model=own_model if what in ("digits", "digit-filters") else None,
        catsdogs_model=own_model if what == "catsdogs" else None,
    )
    out = gallery.gallery_dir(args.out)
    panels = _panels(what, args, options)
    with_robustness = what == "robustness" or (what == "all" and not getattr(args, "skip_robustness", False))
    fair = _fair_subjects(what, args, options) if with_robustness else []
    started = time.perf_counter()
    if what == "robustness":
        _robustness(fair, out, options, args)
        print(f"fair robustness check written into {out / GALLERY_INDEX} in {time.perf_counter() - started:.0f} s")
        return 0
    if what != "all":
        out.mkdir(parents=True, exist_ok=True)
        entries = _run(panels, out)
        gallery.merge_into(out, entries)
    elif getattr(args, "progressive", False):
        # straight into the folder, the index rewritten after each image: the demo shows them as they land
        out.mkdir(parents=True, exist_ok=True)
        gallery.write_index(out, [], total=len(panels), keep_records=False)  # records of earlier models go
        entries = _run(panels, out, lambda done: gallery.write_index(out, done, total=len(panels)))
        _robustness(fair, out, options, args)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        building.chmod(0o755)  # mkdtemp makes it private; the renamed gallery must stay readable
        try:
            entries = _run(panels, building)
            gallery.write_index(building, entries)
            _robustness(fair, building, options, args)
            gallery.replace_folder(building, out)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    print(f"{len(entries)} images and {out / GALLERY_INDEX} written in {time.perf_counter() - started:.0f} s")
    return 0
