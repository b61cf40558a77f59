"""The exported ImageNet MobileNet's pooled 1024-d features, through onnxruntime, and the cheap augmentation.

The features graph is made when an export is loaded, from the very bytes whose sha256 the manifest vouches
for: the exported graph up to its one GlobalAveragePool, flattened and named `features`. Made at load time
(not by the exporter) so every existing export teaches without a re-export and without TensorFlow; the
taught model's manifest entry records the base file's sha256 and the node it cut at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper
from PIL import Image, ImageOps

from toolkit.core.errors import ConvlensError
from toolkit.core.names import IMAGENET, ONNX_INPUT_NAME
from toolkit.core.preprocessing import photo_model_input
from toolkit.serving.contract import REEXPORT
from toolkit.serving.export_loader import LoadedExport, load_export, verified_bytes
from toolkit.serving.onnx_sessions import onnx_session

FEATURES_OUTPUT = "features"
MAP_OUTPUT = "feature_map"  # the pool's input, (N, 1024, 7, 7): crops are taken from it, not from the photo
POOL_OP = "GlobalAveragePool"
FEATURE_BATCH = 32  # images per onnxruntime call; fixed, so a photo's features never depend on its neighbours
CROP_CELLS = 6  # a crop view: the mean over a 6 x 6 window of the 7 x 7 feature map
# The views each training photo gives: itself and its mirror image (each through the network), and a crop of
# each taken on the feature map (a window of the map sees about a 6/7 crop of the photo). Crops on the map are
# free; each photo through the network costs about 40 ms on 2 cores, and 2 x 20 photos must train in 10 s.
VIEWS = ("whole", "mirror", "crop_top_left", "crop_mirror_bottom_right")


def features_graph(base: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """(the base graph cut after its one GlobalAveragePool, output `features` [N, 1024]; that node's name)."""
    pools = [node for node in base.graph.node if node.op_type == POOL_OP]
    if len(pools) != 1:
        raise ConvlensError(
            f"the ImageNet model has {len(pools)} {POOL_OP} nodes, not one: teaching needs the exported MobileNet; "
            f"{REEXPORT}."
        )
    pool = pools[0]
    graph = onnx.GraphProto()
    graph.CopyFrom(base.graph)
    graph.node.append(helper.make_node("Flatten", [pool.output[0]], [FEATURES_OUTPUT], axis=1, name="features"))
    graph.node.append(helper.make_node("Identity", [pool.input[0]], [MAP_OUTPUT], name="feature_map"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(FEATURES_OUTPUT, onnx.TensorProto.FLOAT, [None, None]))
    graph.output.append(helper.make_tensor_value_info(MAP_OUTPUT, onnx.TensorProto.FLOAT, [None, None, None, None]))
    prune(graph)
    model = helper.make_model(graph, opset_imports=base.opset_import, producer_name="convlens.teach")
    model.ir_version = base.ir_version
    return model, pool.name


def prune(graph: onnx.GraphProto) -> None:
    """Drop the nodes and initializers that no output needs (the graph's nodes are in topological order)."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    infos = [info for info in graph.value_info if info.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(infos)


@dataclass
class FeatureBase:
    """The ImageNet MobileNet of a verified export, as a features extractor: its ONNX bytes and sha256 (the
    taught model is joined onto them), the node cut at, and an onnxruntime session over the features graph."""

    export: LoadedExport
    base_bytes: bytes
    base_sha256: str
    pool_node: str
    preprocessing: dict
    session: object

    def features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pooled features (N, 1024), feature maps (N, 1024, 7, 7)) of images (N, 224, 224, 3), pixels 0..255."""
        batch = np.asarray(images, np.float32)
        pooled, maps = [], []
        for i in range(0, len(batch), FEATURE_BATCH):
            run = self.session.run  # type: ignore[attr-defined]
            features, feature_map = run([FEATURES_OUTPUT, MAP_OUTPUT], {ONNX_INPUT_NAME: batch[i : i + FEATURE_BATCH]})
            pooled.append(features)
            maps.append(feature_map)
        return np.concatenate(pooled), np.concatenate(maps)

    def view_features(self, photo_images: np.ndarray) -> np.ndarray:
        """Features (photos, len(VIEWS), 1024) from each photo's two images (photos, 2, 224, 224, 3): whole and
        mirror from the network's own pool, the crops from windows of their feature maps."""
        photos = len(photo_images)
        pooled, maps = self.features(np.asarray(photo_images).reshape(-1, *np.shape(photo_images)[2:]))
        pooled = pooled.reshape(photos, 2, -1)
        maps = maps.reshape(photos, 2, *maps.shape[1:])
        top_left = maps[:, 0, :, :CROP_CELLS, :CROP_CELLS].mean(axis=(2, 3))
        bottom_right = maps[:, 1, :, -CROP_CELLS:, -CROP_CELLS:].mean(axis=(2, 3))
        return np.stack([pooled[:, 0], pooled[:, 1], top_left, bottom_right], axis=1).astype(np.float32)


def load_feature_base(export: LoadedExport | None = None, root=None) -> FeatureBase:
    """The features extractor of an export (loaded and verified from `root` when `export` is None)."""
    if export is None:
        export = load_export(root, (IMAGENET,))
    model = export.models.get(IMAGENET)
    if model is None:
        raise ConvlensError(f"this export has no ImageNet model, which teaching needs: {REEXPORT}.")
    ref = model.entry.files["onnx"]
    content = verified_bytes(export.root, ref)
    graph, pool = features_graph(onnx.load_from_string(content))
    return FeatureBase(
        export, content, ref.sha256, pool, dict(model.preprocessing), onnx_session(graph.SerializeToString())
    )


def training_images(picture: Image.Image, preprocessing: dict) -> np.ndarray:
    """The two model inputs (2, 224, 224, 3) a training photo gives: the served view, then its mirror image."""
    return np.stack(
        [photo_model_input(picture, preprocessing), photo_model_input(ImageOps.mirror(picture), preprocessing)]
    )
