"""The export as one replica or actor opens it: onnxruntime's threads matched to the CPUs Ray gave it.

onnxruntime sizes its thread pool by the machine's cores, not by what Ray reserved: two single-CPU replicas
on two cores would each start two threads and fight. Here each session is reopened with the serving layer's
own options (copied from the session) and `intra_op_num_threads` set to the replica's CPUs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnxruntime as ort

from toolkit.serving.export_loader import LoadedExport, load_served_export, verified_bytes


def export_with_threads(root: Path, threads: int) -> LoadedExport:
    """The served export, verified, with every session running `threads` intra-op threads."""
    export = load_served_export(Path(root))
    for model in export.models.values():
        files = model.entry.variant_files()
        for variant, session in list(model.sessions.items()):
            options = session.get_session_options()
            options.intra_op_num_threads = max(1, int(threads))
            options.inter_op_num_threads = 1
            model.sessions[variant] = ort.InferenceSession(
                verified_bytes(export.root, files[variant]), options, providers=["CPUExecutionProvider"]
            )
    return export


def ray_cpus(default: int = 1) -> int:
    """The CPUs Ray reserved for the calling actor (whole CPUs, at least 1), or `default` outside Ray."""
    try:
        import ray

        if not ray.is_initialized():
            return default
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", default)
    except ImportError:
        return default
    return max(1, int(round(cpus)))


def ray_node() -> str:
    """The Ray node this process runs on ("" outside Ray): which machine answered, for the tests and the bench."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except ImportError:
        return ""


def start_local_ray(num_cpus: int | None = None, address: str | None = None) -> None:
    """A private local Ray (no dashboard, no usage stats), or the cluster at `address`."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
