"""`convlens teach DIR --out PATH`: the Teach tab's training from a folder with one subfolder of photos per class."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from toolkit.core.paths import exported_dir
from toolkit.teach.bundle import write_bundle_zip
from toolkit.teach.features import load_feature_base
from toolkit.teach.project import write_project
from toolkit.teach.taught_model import TeachSettings
from toolkit.teach.training import featurise, folder_sources, teach


def teach_from_cli(args) -> int:
    """Featurise the folder's photos, cross-validate and fit, write the zip (and the project file when asked)."""
    started = time.perf_counter()
    labels, sources = folder_sources(Path(args.folder))
    base = load_feature_base(root=Path(args.exported) if args.exported else exported_dir())
    settings = TeachSettings(seed=args.seed, background=args.background)

    def progress(share: float, what: str) -> None:
        print(f"\r[teach] {share:4.0%} {what}   ", end="", file=sys.stderr, flush=True)

    photos, skipped = featurise(base, sources, settings, progress)
    print(file=sys.stderr)
    for message in skipped:
        print(f"[teach] {message}", file=sys.stderr)
    model = teach(base, labels, photos, settings, progress=None, name=args.name)
    command = f"convlens teach {args.folder} --out {args.out} --seed {args.seed}"
    out = write_bundle_zip(model, Path(args.out), command)
    cv = model.validation
    print(
        f"Taught {', '.join(labels)} from {len(model.photo_names)} photos in {time.perf_counter() - started:.1f} s: "
        f"{cv.folds}-fold cross-validated accuracy {cv.accuracy:.1%} (L2 {cv.l2:g}), unknown below "
        f"{cv.threshold:.3f}. Wrote {out}"
    )
    for name, truth, said, p in model.wrong_photos():
        print(f"  held out, wrong: {name} ({truth}) -> {said} {p:.0%}")
    if args.project:
        write_project(Path(args.project), labels, settings, photos, base.base_sha256)
        print(f"Project file (labels, settings, cached features): {args.project}")
    return 0
