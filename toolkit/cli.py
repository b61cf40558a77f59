"""The `convlens` command line (also `python -m toolkit`)."""

from __future__ import annotations

import argparse
import sys

from toolkit.errors import ConvlensError


def _assets(args: argparse.Namespace) -> None:
    from toolkit.assets import ensure_assets

    ensure_assets(args.only or None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convlens", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    assets = commands.add_parser("assets", help="fetch, verify and convert the offline data and weights")
    assets.add_argument("--only", nargs="*", help="only these assets (mnist, cats_dogs, imagenet_classes, mobilenet_v1)")
    assets.set_defaults(run=_assets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ConvlensError as error:
        print(f"convlens: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convlens: interrupted; nothing half-written was kept.", file=sys.stderr)
        return 130
    return 0
