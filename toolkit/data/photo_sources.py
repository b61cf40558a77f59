"""The pinned sources of the real-photo evaluation set: which package, which files, what each shows.

Every photo was checked by eye. `split` is written here, not computed at run time, so that the dev/test
split never changes silently: it was made with `photos.assign_splits` (stratified by label, whole groups:
the tiles of a collage, or a package's series of photos, never straddle dev and test). A new photo gets
its split here by hand, on the side that keeps the counts even. Sizes are the archives' bytes.
"""

from __future__ import annotations

from toolkit.data.photo_pinning import BUNDLE_SEPARATOR, PhotoSource, PinnedPhoto, photos_under  # noqa: F401
from toolkit.data.photo_sources_debian import DEBIAN_SOURCES

PYTHON_SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource(
        "scikit-image",
        "pip",
        "scikit-image==0.26.0",
        "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
        13_711_217,
        "data images: chelsea, coffee CC0; astronaut, rocket public domain; others per skimage/data/README.txt",
        photos=(
            PinnedPhoto(
                "chelsea",
                "cat",
                "test",
                "tabby cat Chelsea",
                "skimage/data/chelsea.png",
                sha256="596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
            ),
            PinnedPhoto(
                "astronaut",
                "other",
                "dev",
                "astronaut portrait (Eileen Collins)",
                "skimage/data/astronaut.png",
                sha256="88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
            ),
            PinnedPhoto(
                "coffee",
                "other",
                "test",
                "cup of coffee",
                "skimage/data/coffee.png",
                sha256="cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
            ),
            PinnedPhoto(
                "rocket",
                "other",
                "dev",
                "rocket on launch pad at night",
                "skimage/data/rocket.jpg",
                sha256="c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
            ),
            PinnedPhoto(
                "motorcycle-left",
                "other",
                "dev",
                "motorcycle in garage",
                "skimage/data/motorcycle_left.png",
                sha256="db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
            ),
            PinnedPhoto(
                "camera",
                "other",
                "test",
                "cameraman (greyscale)",
                "skimage/data/camera.png",
                sha256="b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
            ),
            PinnedPhoto(
                "hubble-deep-field",
                "other",
                "dev",
                "Hubble deep field (space)",
                "skimage/data/hubble_deep_field.jpg",
                sha256="3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
            ),
        ),
        installed="skimage",
    ),
    PhotoSource(
        "imgaug",
        "pip",
        "imgaug==0.4.0",
        "imgaug-0.4.0-py2.py3-none-any.whl",
        "ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9",
        948_018,
        "MIT (quokka.jpg CC0)",
        photos=(
            *photos_under(
                "imgaug/",
                ("quokka", "other", "dev", "quokka", "quokka.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "ultralytics",
        "pip",
        "ultralytics==8.4.190",
        "ultralytics-8.4.190-py3-none-any.whl",
        "bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8",
        1_433_396,
        "AGPL-3.0",
        photos=(
            *photos_under(
                "ultralytics/assets/",
                ("bus", "other", "dev", "bus and pedestrians", "bus.jpg"),
                ("zidane", "other", "dev", "two men in suits", "zidane.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "catsordogs",
        "pip",
        "catsordogs==0.0.9",
        "catsordogs-0.0.9-py3-none-any.whl",
        "5d27eb63683312ad17fb9b211459a581c3aeeb6d0cb635844432d6c4afc29a5e",
        32_186_603,
        "MIT (package metadata; the photos' origin is not stated)",
        photos=(
            *photos_under(
                "catsordogs/",
                ("kitten", "cat", "dev", "cream kitten", "test1.jpeg"),
                ("beagle-mix", "dog", "test", "beagle-mix running on grass", "test2.jpeg"),
            ),
        ),
    ),
)
PHOTO_SOURCES: tuple[PhotoSource, ...] = (*DEBIAN_SOURCES, *PYTHON_SOURCES)
