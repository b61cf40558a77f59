"""`convlens classify PATH...`: the photo verdict for every file of files and folders, to CSV or JSONL.

One row per file (path, verdict, the three probabilities, the ImageNet network's top 1, error). A file that
cannot be classified gets its refusal in `error` and the run goes on. Locally the serving layer runs in this
process; with --ray the same `classify_file` runs in Ray Data actors (`map_batches`), so a cluster shares
the work, and the rows come back in the same order: the two CSVs are the same file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from toolkit.core.errors import ConvlensError
from toolkit.core.names import PHOTO_VERDICTS
from toolkit.core.paths import exported_dir
from toolkit.serving.export_loader import LoadedExport, load_served_export
from toolkit.serving.photo_pipeline import judge_photo

PROBABILITY_COLUMNS = tuple(f"p_{label}" for label in PHOTO_VERDICTS)
COLUMNS = ("path", "verdict", *PROBABILITY_COLUMNS, "top1", "top1_probability", "error")
DIGITS = 6  # decimals written: the same figures from any host, whatever its thread count
ACTOR_BATCH = 8  # files an actor classifies per call
OUTPUT_KINDS = (".csv", ".jsonl")


def photo_files(paths: Iterable[Path | str]) -> list[Path]:
    """The files named and every file under the folders named (hidden ones left out), in a stable order."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.exists():
            found.append(path)
        else:
            raise ConvlensError(f"{path} does not exist: name image files or folders of them.")
    return found


def classify_file(export: LoadedExport, path: str) -> dict:
    """One output row: the verdict for the file, or its refusal in `error` (never raises for a bad file)."""
    row: dict = dict.fromkeys(COLUMNS)  # None: an empty CSV cell, null in JSONL
    row["path"], row["error"] = path, ""
    try:
        judged = judge_photo(export, path)
    except ConvlensError as error:
        row["error"] = str(error)
        return row
    row["verdict"] = judged.verdict.label
    for label, column in zip(PHOTO_VERDICTS, PROBABILITY_COLUMNS):
        row[column] = round(float(judged.verdict.probabilities[label]), DIGITS)
    row["top1"], top1_probability = judged.top5[0]
    row["top1_probability"] = round(float(top1_probability), DIGITS)
    return row


class Progress:
    """A one-line progress bar on stderr: done/total, rate, and the files refused so far."""

    def __init__(self, total: int, label: str, stream=None) -> None:
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.done, self.bad, self.started, self.shown = 0, 0, time.perf_counter(), 0.0

    def update(self, row: dict) -> None:
        self.done += 1
        self.bad += bool(row["error"])
        now = time.perf_counter()
        if now - self.shown >= 0.2 or self.done == self.total:
            self.shown = now
            width = 30
            filled = width * self.done // max(1, self.total)
            rate = self.done / max(now - self.started, 1e-9)
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{rate:.1f} images/s, {self.bad} refused"
            )
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def classify_locally(files: list[Path], exported: Path) -> Iterator[dict]:
    export = load_served_export(exported)
    for path in files:
        yield classify_file(export, str(path))


class PhotoClassifier:
    """A Ray Data actor: the export opened once, then `classify_file` over each batch of paths."""

    def __init__(self, exported: str) -> None:
        from toolkit.cluster.replica_export import export_with_threads, ray_cpus

        self.export = export_with_threads(Path(exported), ray_cpus())

    def __call__(self, batch: dict) -> dict:
        rows = [classify_file(self.export, str(path)) for path in batch["path"]]
        answer: dict = {column: [row[column] for row in rows] for column in COLUMNS}
        answer["index"] = list(batch["index"])
        return answer


def classify_on_ray(files: list[Path], exported: Path, address: str | None, actors: int | None) -> Iterator[dict]:
    """The rows, in the files' order, computed by Ray Data actors (on the cluster at `address`, else a local Ray)."""
    import ray

    from toolkit.cluster.replica_export import start_local_ray

    start_local_ray(None, address)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # our own bar counts files; Ray's would count blocks
    context.print_on_execution_start = False
    actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    items = [{"index": i, "path": str(path.resolve())} for i, path in enumerate(files)]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // ACTOR_BATCH)).map_batches(
        PhotoClassifier,
        fn_constructor_kwargs={"exported": str(exported.resolve())},
        batch_size=ACTOR_BATCH,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
        batch_format="numpy",
    )
    names = [str(path) for path in files]  # report each file as it was named, not resolved
    waiting: dict[int, dict] = {}
    following = 0
    for row in dataset.iter_rows():
        index = int(row["index"])
        waiting[index] = {column: _plain(row[column]) for column in COLUMNS} | {"path": names[index]}
        while following in waiting:
            yield waiting.pop(following)
            following += 1


def _plain(value: object) -> object:
    """A numpy scalar from Ray Data as the plain Python value the local path writes."""
    return value.item() if hasattr(value, "item") else value


def write_rows(rows: Iterable[dict], out: io.TextIOBase, kind: str) -> None:
    if kind == ".jsonl":
        for row in rows:
            out.write(json.dumps(row) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)


def classify(
    paths: list[str],
    out: Path | None = None,
    exported: Path | None = None,
    ray_address: str | None = None,
    use_ray: bool = False,
    actors: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> dict:
    """Classify every file under `paths` into `out` (.csv or .jsonl; CSV on stdout without one); returns counts.

    `progress` makes the progress display for a number of files (default: the bar on stderr)."""
    exported = Path(exported or exported_dir())
    kind = out.suffix.lower() if out else ".csv"
    if kind not in OUTPUT_KINDS:
        raise ConvlensError(f"--out must end in .csv or .jsonl, not {out}.")
    files = photo_files(paths)
    if not files:
        raise ConvlensError(f"no files under {' '.join(paths)}: name image files or folders of them.")
    bar = (progress or (lambda total: Progress(total, "classify")))(len(files))
    rows = classify_on_ray(files, exported, ray_address, actors) if use_ray else classify_locally(files, exported)
    started = time.perf_counter()

    def counted() -> Iterator[dict]:
        for row in rows:
            bar.update(row)
            yield row

    if out is None:
        write_rows(counted(), sys.stdout, kind)  # type: ignore[arg-type]
    else:
        partial = out.with_name(out.name + ".partial")
        with open(partial, "w", newline="") as handle:
            write_rows(counted(), handle, kind)
        os.replace(partial, out)  # an interrupted run leaves no half-written table under the real name
    seconds = time.perf_counter() - started
    return {"files": bar.done, "refused": bar.bad, "seconds": seconds, "images_per_s": bar.done / max(seconds, 1e-9)}


def classify_from_cli(args) -> int:
    out = Path(args.out) if args.out else None
    counts = classify(
        args.paths,
        out,
        Path(args.exported) if args.exported else None,
        args.ray or None,
        args.ray is not None,
        args.actors,
    )
    where = f" into {out}" if out else ""
    print(
        f"convlens classify: {counts['files']} files{where} in {counts['seconds']:.1f} s "
        f"({counts['images_per_s']:.1f} images/s); {counts['refused']} refused (see the error column)",
        file=sys.stderr,
    )
    return 0
