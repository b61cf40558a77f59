"""Crafted files a stranger may send, built byte by byte in the tests (nothing is downloaded).

Each is a small file that declares, or unpacks to, far more than it holds: the attacks of the
security review's second round (issue 23).
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

from PIL import Image


def bmp_rle8_delta(path: Path, width: int = 4_000_000, height: int = 4) -> Path:
    """A 1 kB RLE8 BMP whose one delta op asks the decoder to skip across the whole width x height."""
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    data = b"\x00\x02\xff\xff" + b"\x00\x01"  # delta (255 right, 255 down), end of bitmap
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    header = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    path.write_bytes(header + info + palette + data)
    return path


def chained_tiff(path: Path, pages: int = 40_000, side: int = 64) -> Path:
    """A TIFF of `pages` grey pages that all share one strip: a few MB, quadratic for Pillow to count."""
    entries = [  # tag, type (3 short, 4 long), value
        (256, 3, side),
        (257, 3, side),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),  # the strip, right after the header
        (278, 3, side),
        (279, 4, side * side),
    ]
    strip = bytes(side * side)
    first_ifd = 8 + len(strip)
    ifd_size = 2 + 12 * len(entries) + 4
    body = bytearray(b"II*\x00" + struct.pack("<I", first_ifd) + strip)
    for page in range(pages):
        body += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
            body += struct.pack("<HHI", tag, kind, 1) + packed
        following = first_ifd + (page + 1) * ifd_size if page + 1 < pages else 0
        body += struct.pack("<I", following)
    path.write_bytes(bytes(body))
    return path


def float_tiff(path: Path, side: int = 4000) -> Path:
    """A float32 TIFF of side x side pixels (16 MP, 64 MB decoded), deflated to about 100 kB."""
    Image.new("F", (side, side), 0.5).save(path, format="TIFF", compression="tiff_adobe_deflate")
    return path


def wide_jpeg(path: Path, width: int = 40_000, height: int = 1000) -> Path:
    """A 40000 x 1000 JPEG: a reduced-scale decode keyed on the short side would decode it whole."""
    Image.new("RGB", (width, height), (200, 40, 40)).save(path, format="JPEG", quality=50)
    return path


def truncated_jpeg(path: Path, width: int = 6000, height: int = 6600) -> Path:
    """A JPEG whose header declares width x height but that holds 16 x 16 pixels of data (and an end marker)."""
    small = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(small, format="JPEG", quality=90)
    data = bytearray(small.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


def big_gif(path: Path, side: int = 4100) -> Path:
    """A two-frame GIF of 17 MP (over the full-decode budget) that is a few kB."""
    frames = [Image.new("P", (side, side), 0), Image.new("P", (side, side), 1)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])
    return path


def big_webp(path: Path, side: int = 5000) -> Path:
    """A 25 MP lossless WebP (over the full-decode budget) that is a few kB."""
    Image.new("RGB", (side, side), (10, 200, 10)).save(path, format="WEBP", lossless=True)
    return path


def keras_with_duplicate_config(path: Path, first: dict, last: dict) -> Path:
    """A .keras zip holding two config.json entries: `first`, then `last` (which Keras reads)."""
    import json
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name, which is the point
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
            archive.writestr("config.json", json.dumps(first))
            archive.writestr("config.json", json.dumps(last))
    return path


def dense_config(units: int, inputs: int) -> dict:
    """A Keras 3 Sequential model description with one Dense layer of inputs x units weights."""
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, inputs], "dtype": "float32", "name": "input"},
                },
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "config": {"name": "dense", "units": units, "activation": "linear", "use_bias": True},
                    "build_config": {"input_shape": [None, inputs]},
                },
            ],
        },
        "build_config": {"input_shape": [None, inputs]},
    }


def lambda_config() -> dict:
    """A model description with a Lambda layer (stored bytecode)."""
    config = dense_config(4, 4)
    config["config"]["layers"].append(
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": "AAAA"}}},
        }
    )
    return config
