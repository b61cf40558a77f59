"""`convlens export` and `convlens verify`."""

from __future__ import annotations

import sys
from pathlib import Path

from toolkit.core.errors import ConvlensError
from toolkit.core.names import CATSDOGS, DIGITS, IMAGENET, MANIFEST_NAME
from toolkit.core.paths import exported_dir
from toolkit.export.own_model import user_model_spec
from toolkit.export.publish import export_models
from toolkit.export.specs import catsdogs_spec, digits_spec, imagenet_spec
from toolkit.export.verify import verify_export
from toolkit.serving.contract import read_manifest


def export_from_cli(args) -> int:
    """`convlens export`: the project's models, or `--model PATH` of your own."""
    out = Path(args.out) if args.out else None
    if args.model:
        try:
            shape = tuple(int(v) for v in args.input_shape.split(",")) if args.input_shape else None
        except ValueError:
            raise ConvlensError(
                f"--input-shape {args.input_shape!r}: give three integers H,W,C, e.g. 28,28,1."
            ) from None
        labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
        specs = [user_model_spec(Path(args.model), args.name, shape, labels)]
    else:
        builders = {
            CATSDOGS: lambda: catsdogs_spec(getattr(args, "catsdogs_run", None)),
            DIGITS: lambda: digits_spec(getattr(args, "digits_run", None)),
            IMAGENET: lambda: imagenet_spec(getattr(args, "catsdogs_run", None)),
        }
        specs = [builders[name]() for name in (args.only or list(builders))]
    export_models(specs, out)
    print(f'Export written to {out or exported_dir()} ({MANIFEST_NAME}); check it any time with "convlens verify".')
    return 0


def verify_from_cli(args) -> int:
    """`convlens verify`: exit 1 with each problem named, 0 when every file matches and runs."""
    out = Path(args.out) if args.out else exported_dir()
    problems = verify_export(out)
    if problems:
        print(
            "convlens verify: the export does not match its manifest:\n  - "
            + "\n  - ".join(problems)
            + '\nRun "make export" to rebuild it.',
            file=sys.stderr,
        )
        return 1
    manifest = read_manifest(out)
    print(f"convlens verify: {len(manifest.models)} model(s) in {out} match their manifest and run in onnxruntime.")
    return 0
