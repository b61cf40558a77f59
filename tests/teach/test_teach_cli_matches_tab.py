"""`convlens teach DIR` and the Teach tab's training give the same model from the same photos and seed."""

import zipfile

import numpy as np
import onnx
from onnx import numpy_helper

from demo.teach_sessions import TeachSession
from demo.teach_tab import train_session
from toolkit.cli import main
from toolkit.serving.onnx_sessions import onnx_session
from toolkit.serving.photo_input import open_photo
from toolkit.teach.features import training_images


def test_convlens_teach_on_a_folder_gives_the_tabs_model(feature_base, photo_folder, tmp_path, teach_export):
    out = tmp_path / "cli.zip"
    assert main(["teach", str(photo_folder), "--out", str(out), "--seed", "0", "--exported", str(teach_export)]) == 0
    with zipfile.ZipFile(out) as archive:
        cli_bytes = archive.read("taught/model.onnx")
    cli_weights = {
        init.name: numpy_helper.to_array(init)
        for init in onnx.load_from_string(cli_bytes).graph.initializer
        if init.name.startswith("teach_head")
    }

    # the tab gets the same photos as uploads, in another order, under the names the browser gives
    classes = [
        (kind, [(path, path.name) for path in sorted((photo_folder / kind).iterdir(), reverse=True)])
        for kind in ("discs", "stripes")
    ]
    session = TeachSession()
    try:
        tab_model, skipped = train_session(session, feature_base, classes + [("", [])] * 3, False, None)
    finally:
        session.close()
    assert len(skipped) == 1 and "notes.jpg" in skipped[0]
    assert np.array_equal(cli_weights["teach_head_weights"], tab_model.head.weights)
    assert np.array_equal(cli_weights["teach_head_bias"], tab_model.head.bias)
    assert tab_model.threshold == float(onnx_metadata(cli_bytes)["convlens.unknown_threshold"])

    photos = sorted(photo_folder.glob("*/*.png"))
    images = np.concatenate(
        [training_images(open_photo(path)[0], feature_base.preprocessing)[:1] for path in photos]
    ).astype(np.float32)
    cli_probabilities = onnx_session(cli_bytes).run(None, {"image": images})[0]
    assert np.abs(cli_probabilities - tab_model.predict_images(images)).max() == 0.0


def onnx_metadata(content: bytes) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load_from_string(content).metadata_props}
