"""A taught model: the labels, the head, what cross-validation chose, and the one ONNX graph joining the
exported MobileNet and the head (input and metadata exactly like the exported models)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import onnx
from onnx import helper, numpy_helper
from PIL import Image

from toolkit.core.names import ONNX_INPUT_NAME, ONNX_OUTPUT_NAMES
from toolkit.core.occlusion import map_from_scores, occlusion_batch, overlay
from toolkit.core.preprocessing import photo_model_input
from toolkit.serving.onnx_sessions import onnx_session
from toolkit.teach.features import FEATURES_OUTPUT, VIEWS, FeatureBase, features_graph, prune
from toolkit.teach.head import CrossValidation, Head

UNKNOWN = "unknown"  # the answer below the threshold, or for the background class
OUTPUT = ONNX_OUTPUT_NAMES["multiclass"]
DEFAULT_NAME = "taught"
IMAGE_METADATA = {  # the ONNX-standard keys the exported models carry
    "Image.BitmapPixelFormat": "Rgb8",
    "Image.ColorSpaceGamma": "SRGB",
    "Image.NominalPixelRange": "NominalRange_0_255",
}


@dataclass(frozen=True)
class TeachSettings:
    """What a training run is told: the seed (of the folds) and the optional background class."""

    seed: int = 0
    background: str | None = None  # a class of "anything else": answering it means "unknown"

    def to_dict(self) -> dict:
        return {"seed": self.seed, "background": self.background, "views": list(VIEWS)}

    @classmethod
    def from_dict(cls, record: dict) -> TeachSettings:
        if list(record.get("views", VIEWS)) != list(VIEWS):
            raise ValueError(f"its features hold views {record.get('views')}, this version makes {list(VIEWS)}")
        background = record.get("background")
        return cls(int(record.get("seed", 0)), None if background is None else str(background))


@dataclass(frozen=True)
class Answer:
    """The taught model's answer for one photo."""

    label: str  # one of the labels, or UNKNOWN
    probabilities: dict[str, float]
    map_image: np.ndarray  # the photo with the occlusion map: orange pushed toward `top`, blue away from it
    top: str  # the most probable label, whatever the threshold says
    notes: list[str] = field(default_factory=list)


@dataclass
class TaughtModel:
    """The labels, the head and its cross-validation, joined onto the base it was taught on."""

    labels: tuple[str, ...]
    head: Head
    validation: CrossValidation
    settings: TeachSettings
    base: FeatureBase = field(repr=False)
    photo_names: list[str] = field(default_factory=list)  # training photos in training order
    photo_labels: list[int] = field(default_factory=list)
    name: str = DEFAULT_NAME

    @property
    def threshold(self) -> float:
        return self.validation.threshold

    @cached_property
    def onnx_bytes(self) -> bytes:
        return joined_model(self).SerializeToString()

    @cached_property
    def session(self):  # noqa: ANN201 (onnxruntime.InferenceSession)
        return onnx_session(self.onnx_bytes)

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) of model inputs (N, 224, 224, 3), by the joined ONNX graph itself."""
        return self.session.run([OUTPUT], {ONNX_INPUT_NAME: np.asarray(images, np.float32)})[0]

    def wrong_photos(self) -> list[tuple[str, str, str, float]]:
        """(photo name, its class, what held-out cross-validation said, with what probability) of each miss."""
        held_out = self.validation.held_out
        return [
            (name, self.labels[label], self.labels[int(p.argmax())], float(p.max()))
            for name, label, p in zip(self.photo_names, self.photo_labels, held_out)
            if int(p.argmax()) != label
        ]

    def answer(self, picture: Image.Image, threshold: float | None = None) -> Answer:
        """Probabilities, the answer (unknown below `threshold`, default the cross-validated one) and the map."""
        limit = self.threshold if threshold is None else threshold
        return answer_photo(
            self.predict_images, self.labels, self.base.preprocessing, picture, limit, self.settings.background
        )

    def metadata(self) -> dict:
        """The `metadata.json` of a download: labels, input, every preprocessing step spelled out, the threshold."""
        side = int(self.base.preprocessing["resize_steps"][-1][0])
        return {
            "name": self.name,
            "labels": list(self.labels),
            "input": {
                "name": ONNX_INPUT_NAME,
                "shape": [None, side, side, 3],
                "dtype": "float32",
                "layout": "NHWC",
                "range": [0, 255],
                "channels": "RGB",
            },
            "output": {"name": OUTPUT, "activation": "softmax", "order": list(self.labels)},
            "preprocessing": {
                "decode": "EXIF orientation applied; converted to 8-bit RGB (transparent areas white); JPEGs "
                "decoded by Pillow's draft mode at the smallest scale still at least 512 px",
                "crop": "the centred square of the photo (side = the shorter side)",
                "resize": {"height": side, "width": side, "method": "bilinear (Pillow)"},
                "normalisation": "none outside the model: it takes pixels 0..255; inside, MobileNet's x / 127.5 - 1",
                "manifest_record": self.base.preprocessing,
            },
            "unknown": {
                "rule": "answer 'unknown' when the highest probability is below the threshold"
                + (
                    f", or when it is the background class {self.settings.background!r}"
                    if self.settings.background
                    else ""
                ),
                "threshold": self.threshold,
                "chosen_by": f"{self.validation.folds}-fold cross-validation: the highest threshold that still "
                "answers 95% of the held-out photos it classifies correctly",
                "background_class": self.settings.background,
            },
            "cross_validation": self.validation.to_dict(),
            "settings": self.settings.to_dict(),
            "base": {"model": "imagenet", "sha256": self.base.base_sha256, "cut_after": self.base.pool_node},
        }


def joined_model(model: TaughtModel) -> onnx.ModelProto:
    """The exported MobileNet up to its pooled features, then the head's MatMul, Add and Softmax: one graph."""
    base = onnx.load_from_string(model.base.base_bytes)
    graph_model, _ = features_graph(base)
    graph = graph_model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(model.head.weights.astype(np.float32), "teach_head_weights"),
            numpy_helper.from_array(model.head.bias.astype(np.float32), "teach_head_bias"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node(
                "MatMul", [FEATURES_OUTPUT, "teach_head_weights"], ["teach_logits_raw"], name="head_matmul"
            ),
            helper.make_node("Add", ["teach_logits_raw", "teach_head_bias"], ["teach_logits"], name="head_bias"),
            helper.make_node("Softmax", ["teach_logits"], [OUTPUT], axis=-1, name="head_softmax"),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, [None, len(model.labels)]))
    prune(graph)
    joined = helper.make_model(graph, opset_imports=base.opset_import, producer_name="convlens.teach")
    joined.ir_version = base.ir_version
    side = int(model.base.preprocessing["resize_steps"][-1][0])
    values = {
        "convlens.name": model.name,
        "convlens.task": "multiclass",
        "convlens.variant": "fp32",
        "convlens.labels": json.dumps(list(model.labels)),
        "convlens.preprocessing": json.dumps(model.base.preprocessing),
        "convlens.input": "float32 NHWC pixels 0..255, named image, dynamic batch",
        "convlens.unknown_threshold": repr(model.threshold),
        "convlens.base_sha256": model.base.base_sha256,
        **IMAGE_METADATA,
    }
    for key, value in values.items():
        entry = joined.metadata_props.add()
        entry.key, entry.value = key, value
    joined.graph.name = f"convlens_{model.name}"
    what = (
        f"{', '.join(model.labels)}: taught by convlens from {len(model.photo_names)} photos on the exported ImageNet "
        f"MobileNet (pooled 1024-d features) with a softmax regression head"
    )
    joined.graph.doc_string = f"convlens {model.name} (fp32): {what}"
    joined.doc_string = (
        f"{what}.\n"
        f"Input `{ONNX_INPUT_NAME}`: float32 NHWC [batch, {side}, {side}, 3], pixel values 0..255 (RGB); "
        f"normalisation happens inside the model.\n"
        f"Output `{OUTPUT}`: softmax over {len(model.labels)} labels ({', '.join(model.labels)}).\n"
        f"Preprocessing before the model: metadata key convlens.preprocessing.\n"
        f"Made: fp32, the exported ImageNet MobileNet (sha256 {model.base.base_sha256[:12]}) cut after its global "
        f"average pool, joined with a head trained in numpy (L2 {model.validation.l2:g}, chosen by "
        f"{model.validation.folds}-fold cross-validation); 'unknown' below max-probability {model.threshold:.3f}."
    )
    joined.model_version = 1
    onnx.checker.check_model(joined)
    return joined


def answer_photo(
    predict,
    labels: tuple[str, ...],
    preprocessing: dict,
    picture: Image.Image,
    threshold: float,
    background: str | None,
) -> Answer:
    """A taught model's answer for a photo: one onnxruntime call for it and its 9 masked copies (the occlusion map,
    as the photo tab draws it, of the top label's log-odds); unknown below `threshold` or on the background class."""
    seen = photo_model_input(picture, preprocessing)
    probabilities = np.asarray(predict(occlusion_batch(seen)), np.float64)
    first = probabilities[0]
    top = int(first.argmax())
    p_top = np.clip(probabilities[:, top], 1e-7, 1 - 1e-7)
    sensitivity, _ = map_from_scores(np.log(p_top / (1 - p_top)))
    label = labels[top]
    if first[top] < float(threshold) or label == background:
        label = UNKNOWN
    shown = overlay(seen, sensitivity)
    return Answer(label, {name: float(p) for name, p in zip(labels, first)}, shown, labels[top])
