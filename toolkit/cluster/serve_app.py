"""`convlens serve`: the serving layer's pipelines as Ray Serve deployments, one per pipeline.

Each deployment is a thin host around `photo_api` (Ray Serve's own example shape: __init__ loads, __call__
predicts): the photo verdict, the digit reader, and each raw ONNX model. A replica's onnxruntime threads are
the CPUs Ray reserved for it (`ray_actor_options.num_cpus`), so changing one changes both. The application
builders (`photo_app`, `digit_app`, `model_app`) are what deploy/serve_config.yaml names for `serve deploy`.
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ray import serve
from ray.serve import Deployment
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from toolkit.cluster.photo_api import (
    DIGIT_ROUTE,
    MODELS_ROUTE,
    NPY_TYPE,
    PHOTO_ROUTE,
    array_from_npy,
    digit_answer,
    model_batch,
    model_info,
    npy_bytes,
    photo_answer,
    refusal,
)
from toolkit.cluster.replica_export import export_with_threads, ray_cpus, ray_node, start_local_ray
from toolkit.core.errors import ConvlensError
from toolkit.core.names import EXPORTED_MODELS
from toolkit.core.paths import exported_dir
from toolkit.serving.contract import read_manifest

QUIET = {"enable_access_log": False, "log_level": "WARNING"}  # no log line per request
MAX_ONGOING = 4  # requests a replica holds at once; beyond it Serve queues them at the proxy
BATCH_WAIT_S = 0.005  # how long a batching replica waits to fill a batch


def _export_root(exported: str | None) -> Path:
    return Path(exported) if exported else exported_dir()


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


class PhotoHost:
    """POST /photo: the photo verdict with the ImageNet view and, with ?map=1, the map."""

    def __init__(self, exported: str | None = None) -> None:
        self.export = export_with_threads(_export_root(exported), ray_cpus())
        self.where = {"x-convlens-replica": str(os.getpid()), "x-convlens-node": ray_node()}

    async def __call__(self, request: Request) -> Response:
        body = await request.body()
        query = request.query_params
        status, answer = photo_answer(
            self.export, body, query.get("name"), query.get("variant", "fp32"), _flag(request, "map")
        )
        return JSONResponse(answer, status_code=status, headers=self.where)


class DigitHost:
    """POST /digit: a 28 x 28 MNIST-like drawing read by the digits model."""

    def __init__(self, exported: str | None = None) -> None:
        self.export = export_with_threads(_export_root(exported), ray_cpus())

    async def __call__(self, request: Request) -> Response:
        status, answer = digit_answer(self.export, await request.body(), request.query_params.get("variant", "fp32"))
        return JSONResponse(answer, status_code=status)


class OnnxModelHost:
    """POST /models/<name>: one exported ONNX model over a .npy batch; GET: its files' sha256 and input shape.

    With `batch_size` > 1, concurrent requests are run as one onnxruntime batch (`@serve.batch`); off by
    default, because on single-threaded conv models it did not pay (see `convlens bench --serve`).
    """

    def __init__(self, model: str, exported: str | None = None, batch_size: int = 0) -> None:
        self.export = export_with_threads(_export_root(exported), ray_cpus())
        self.model = self.export.model(model)
        self.batching = batch_size > 1
        if self.batching:
            self._predict_together.set_max_batch_size(batch_size)  # type: ignore[attr-defined]

    async def __call__(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(model_info(self.model))
        variant = request.query_params.get("variant", "fp32")
        try:
            batch = model_batch(self.model.input_shape, array_from_npy(await request.body()), self.model.name)
            self.model.session(variant)  # an unknown variant is refused before it joins a batch
            if self.batching:
                output = await self._predict_together((batch, variant))
            else:
                output = self.model.predict(batch, variant)
        except ConvlensError as error:
            status, answer = refusal(error)
            return JSONResponse(answer, status_code=status)
        return Response(npy_bytes(output), media_type=NPY_TYPE)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=BATCH_WAIT_S)
    async def _predict_together(self, requests: list[tuple[np.ndarray, str]]) -> list[np.ndarray]:
        answers: list[np.ndarray] = [np.empty(0)] * len(requests)
        for variant in {variant for _, variant in requests}:
            chosen = [i for i, (_, v) in enumerate(requests) if v == variant]
            outputs = self.model.predict(np.concatenate([requests[i][0] for i in chosen]), variant)
            start = 0
            for i in chosen:
                count = len(requests[i][0])
                answers[i] = outputs[start : start + count]
                start += count
        return answers


def _deployment(host: type, name: str) -> Deployment:
    """A Serve deployment of `host`: one CPU a replica by default, no access log, bounded requests in flight."""
    options = {"num_cpus": 1}
    host_of = serve.deployment(
        name=name, ray_actor_options=options, max_ongoing_requests=MAX_ONGOING, logging_config=QUIET
    )
    return host_of(host)


PhotoVerdicts = _deployment(PhotoHost, "PhotoVerdicts")
DigitReader = _deployment(DigitHost, "DigitReader")
OnnxModel = _deployment(OnnxModelHost, "OnnxModel")


# ---------------------------------------------------------------- application builders (serve deploy / serve run)


def photo_app(args: dict) -> serve.Application:
    return PhotoVerdicts.bind(args.get("exported"))


def digit_app(args: dict) -> serve.Application:
    return DigitReader.bind(args.get("exported"))


def model_app(args: dict) -> serve.Application:
    return OnnxModel.bind(args["model"], args.get("exported"), int(args.get("batch_size", 0)))


@dataclass(frozen=True)
class ServedApp:
    name: str
    route: str
    app: serve.Application


DIGIT_CPUS = 0.25  # the digits CNN is tiny: a share of a CPU (one onnxruntime thread)
APPS = ("photo", "digit", "models")


def applications(
    exported: Path | None = None,
    photo_replicas: int = 1,
    cpus_per_replica: float = 1,
    model_replicas: int = 1,
    batch_size: int = 0,
    apps: tuple[str, ...] = APPS,
    models: tuple[str, ...] | None = None,
) -> list[ServedApp]:
    """The chosen convlens applications (photo verdict, digit reader, each raw model), each with its route.

    `models` defaults to every project model the export holds."""
    root = str(exported) if exported else None
    if models is None:
        held = read_manifest(_export_root(root)).models
        models = tuple(name for name in EXPORTED_MODELS if name in held)
    actor = {"num_cpus": cpus_per_replica}
    served = []
    if "photo" in apps:
        photo = PhotoVerdicts.options(num_replicas=photo_replicas, ray_actor_options=actor).bind(root)
        served.append(ServedApp("photo", PHOTO_ROUTE, photo))
    if "digit" in apps:
        digit = DigitReader.options(num_replicas=1, ray_actor_options={"num_cpus": DIGIT_CPUS}).bind(root)
        served.append(ServedApp("digit", DIGIT_ROUTE, digit))
    for name in models if "models" in apps else ():
        model = OnnxModel.options(
            num_replicas=model_replicas, ray_actor_options=actor, max_ongoing_requests=max(MAX_ONGOING, batch_size)
        ).bind(name, root, batch_size)
        served.append(ServedApp(f"model-{name}", f"{MODELS_ROUTE}/{name}", model))
    return served


def cpus_needed(served: list[ServedApp]) -> float:
    """The CPUs Ray must offer to place every replica of `served`."""
    total = 0.0
    for each in served:
        deployment = each.app._bound_deployment  # the options given to .options() above
        total += deployment.num_replicas * (deployment.ray_actor_options or {}).get("num_cpus", 1)
    return total


def run_applications(served: list[ServedApp]) -> None:
    """Deploy each application under its route and wait until all answer."""
    for each in served:
        serve.run(each.app, name=each.name, route_prefix=each.route, blocking=False)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def serve_from_cli(args) -> int:
    """`convlens serve`: start (or join) Ray, deploy every application, answer on host:port until Ctrl+C."""
    exported = Path(args.exported) if args.exported else exported_dir()
    if not (exported / "manifest.json").is_file():
        raise ConvlensError(f'{exported} holds no export: run "make export" first.')
    served = applications(
        exported.resolve(), args.replicas, args.cpus_per_replica, args.model_replicas, args.batch, tuple(args.apps)
    )
    # Ray schedules by logical CPUs: offer what the replicas reserve, even beyond the cores (the light
    # deployments then share them; onnxruntime threads still follow each replica's reservation)
    start_local_ray(args.cpus or max(os.cpu_count() or 1, math.ceil(cpus_needed(served))), args.address)
    serve.start(http_options={"host": args.host, "port": args.port}, logging_config=QUIET)
    started = time.perf_counter()
    run_applications(served)
    url = f"http://{args.host}:{args.port}"
    print(
        f"convlens serve: {len(served)} applications up in {time.perf_counter() - started:.1f} s on "
        f"{url} ({PHOTO_ROUTE}, {DIGIT_ROUTE}, {MODELS_ROUTE}/<name>); Ctrl+C to stop",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped service shuts Serve down as Ctrl+C does
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
    return 0
