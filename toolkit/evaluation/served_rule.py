"""`convlens export` as users run it: the export, then the photo verdict's rule chosen on dev data for the very
models it ships (`convlens eval photos`), so a fresh export never serves thresholds tuned on another model."""

from __future__ import annotations

from pathlib import Path

from toolkit.core.errors import ConvlensError
from toolkit.core.names import CATSDOGS, IMAGENET
from toolkit.core.paths import exported_dir
from toolkit.evaluation.photos import evaluate_photos
from toolkit.export.export_commands import export_from_cli
from toolkit.serving.contract import read_manifest


def export_then_choose_from_cli(args) -> int:
    """Export; then, unless --no-photo-rule or only other models were exported, choose the photo rule."""
    code = export_from_cli(args)
    exported_photo_models = not args.model and (not args.only or {CATSDOGS, IMAGENET} & set(args.only))
    if code != 0 or args.no_photo_rule or not exported_photo_models:
        return code
    out = Path(args.out) if args.out else exported_dir()
    if not {CATSDOGS, IMAGENET} <= set(read_manifest(out).models):
        return code
    print("Choosing the photo verdict's rule for these models on the dev photos (convlens eval photos) ...")
    try:
        evaluate_photos(out)
    except (ConvlensError, OSError) as error:
        print(
            f"The photo rule was not chosen ({error}). The demo serves the default rule until "
            f'"convlens eval photos" runs.'
        )
    return code
