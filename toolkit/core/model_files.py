"""Opening Keras model files without running code stored in them.

A `.keras` or `.h5` file holds a JSON description of its model, and loading it turns every
object named there back into Python. Some of those can carry code: a Lambda layer's bytecode
(legacy tf_keras runs it during loading), a custom class or function imported by name. So
every model convlens loads comes through `load_keras_model` or `load_tf_keras_model`, which
first read the stored description as plain JSON (the zip's `config.json`, or the HDF5
`model_config` attribute), refuse anything that is not a built-in Keras object, and only then
load the file, in Keras' safe mode as a second line.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from toolkit.core.errors import ConvlensError

if TYPE_CHECKING:
    import keras
    import tf_keras

T = TypeVar("T")  # what a loader returns

KERAS_SUFFIXES = (".keras",)
H5_SUFFIXES = (".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_MODEL_BYTES = 1 << 30  # 1 GiB: ResNet50 is about 100 MB
MAX_CONFIG_BYTES = 64 << 20  # the JSON description; a large CNN's is well under 1 MB
MAX_UNPACKED_BYTES = 2 << 30  # all members of a .keras zip together, as they unpack
MAX_NESTING = 100  # a MobileNet's description nests about 12 levels
MAX_PARAMETERS = 150_000_000  # weights a description may declare (600 MB as float32); ResNet50 has 25 M
MAX_LAYER_WIDTH = 1 << 16  # units, filters or embedding rows of one layer
WIDTH_KEYS = ("units", "filters", "input_dim", "output_dim")

# Layers refused by class, whatever their configuration.
REFUSED_LAYERS = {
    "Lambda": "runs Python code stored in the file",
    "TFSMLayer": "loads another model from a path named in the file",
    "TorchModuleWrapper": "unpickles a PyTorch module stored in the file",
    "JaxLayer": "calls a JAX function named in the file",
    "FlaxLayer": "calls a Flax module named in the file",
}
# tf_keras records calls of TensorFlow functions as these layers; only plain tensor maths is let through.
OP_LAYERS = ("TFOpLambda", "SlicingOpLambda")
PLAIN_OP_NAMESPACES = ("__operators__", "math", "nn", "image", "linalg")
PLAIN_OPS = frozenset(
    {
        "reshape",
        "concat",
        "stack",
        "expand_dims",
        "squeeze",
        "transpose",
        "cast",
        "identity",
        "clip_by_value",
        "split",
        "tile",
        "pad",
        "gather",
        "where",
        "maximum",
        "minimum",
        "ones_like",
        "zeros_like",
        "shape",
        "one_hot",
        "argmax",
        "argmin",
        "broadcast_to",
    }
)
# Keras 3's markers for plain values (tuples, arrays, slices); "__lambda__" is bytecode and is refused.
VALUE_MARKERS = frozenset(
    {
        "__tuple__",
        "__bytes__",
        "__slice__",
        "__ellipsis__",
        "__keras_tensor__",
        "__numpy__",
        "__tensor__",
        "__typespec__",
    }
)
FILE_KEYS = ("filepath", "vocabulary")  # a string here names a file the layer would read while loading


# ---------------------------------------------------------------- the stored description


def stored_config(path: Path) -> dict:
    """The model description stored in a .keras or .h5 file, read as JSON (nothing is deserialised)."""
    path = Path(path)
    if not path.is_file():
        raise ConvlensError(f"{path} does not exist (or is not a file).")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ConvlensError(
            f"{path} is {size / 2**30:.1f} GiB; convlens loads model files up to {MAX_MODEL_BYTES / 2**30:.0f} GiB."
        )
    text: bytes | str
    if path.suffix in KERAS_SUFFIXES:
        text = _keras_zip_config(path)
    elif path.suffix in H5_SUFFIXES:
        text = _hdf5_config(path)
    else:
        raise ConvlensError(f"{path} is not a Keras model file: expected a .keras (Keras 3) or .h5 (Keras 2) file.")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise _unloadable(path, f"its model description is not valid JSON ({type(error).__name__})") from None
    if not isinstance(config, dict):
        raise _unloadable(path, "its model description is not a JSON object")
    return config


def _unloadable(path: Path, why: str) -> ConvlensError:
    return ConvlensError(f"{path} could not be loaded as a Keras model: {why}.")


def _keras_zip_config(path: Path) -> bytes:
    if not zipfile.is_zipfile(path):
        raise _unloadable(path, "a .keras file is a zip archive, and this one is not")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = [member.filename for member in members]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:  # Keras would read the last of each, a check the first: refuse rather than guess
                raise _unloadable(path, f"the archive holds more than one entry named {', '.join(duplicates)}")
            if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
                raise _unloadable(path, f"it unpacks to more than {MAX_UNPACKED_BYTES / 2**30:.0f} GiB")
            config = next((m for m in members if m.filename == "config.json"), None)
            if config is None:
                raise _unloadable(path, "the archive has no config.json")
            if config.file_size > MAX_CONFIG_BYTES:
                raise _unloadable(path, f"its config.json is over {MAX_CONFIG_BYTES >> 20} MB")
            with archive.open(config) as handle:
                return handle.read(MAX_CONFIG_BYTES + 1)[:MAX_CONFIG_BYTES]
    except (zipfile.BadZipFile, OSError) as error:
        raise _unloadable(path, f"the zip archive is damaged ({error})") from None


def _hdf5_config(path: Path) -> bytes | str:
    import h5py

    with open(path, "rb") as handle:
        if handle.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise _unloadable(path, "a .h5 file is an HDF5 file, and this one is not")
    try:
        with h5py.File(path, "r") as handle:
            config = handle.attrs.get("model_config")
    except OSError as error:
        raise _unloadable(path, f"the HDF5 file is damaged ({error})") from None
    if config is None:
        raise _unloadable(path, "it holds no model description (a weights-only file?); save the whole model")
    if len(config) > MAX_CONFIG_BYTES:
        raise _unloadable(path, f"its model description is over {MAX_CONFIG_BYTES >> 20} MB")
    return config


# ---------------------------------------------------------------- what the description may name


@lru_cache(maxsize=2)
def builtin_class_names(with_tf_keras: bool) -> frozenset[str]:
    """Names of the classes Keras (and tf_keras, for legacy .h5 files) exports as layers, models and their parts."""
    import keras

    libraries = [keras]
    if with_tf_keras:
        try:
            import tf_keras

            libraries.append(tf_keras)
        except ImportError:
            pass
    names = {"Functional", *OP_LAYERS}
    for library in libraries:
        for part in (
            "layers",
            "models",
            "initializers",
            "regularizers",
            "constraints",
            "optimizers",
            "losses",
            "metrics",
            "dtype_policies",
            "mixed_precision",
        ):
            namespace = getattr(library, part, None)
            names |= {name for name, value in vars(namespace or object).items() if isinstance(value, type)}
        names |= {name for name, value in vars(library).items() if isinstance(value, type)}
        names |= {
            name
            for name, value in vars(getattr(library.optimizers, "schedules", object)).items()
            if isinstance(value, type)
        }
    return frozenset(names - set(REFUSED_LAYERS))


def code_problems(config: dict, builtin: frozenset[str]) -> list[str]:
    """Each object in a model description that could run code or is not built into Keras, with the reason."""
    problems: list[str] = []
    _walk(config, "the model", builtin, problems, depth=0, is_layer=True)
    return problems


def _walk(node, where: str, builtin: frozenset[str], problems: list[str], depth: int, is_layer: bool) -> None:
    if depth > MAX_NESTING:
        problems.append(f"{where}: the description nests more than {MAX_NESTING} levels deep")
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, where, builtin, problems, depth + 1, is_layer)
        return
    if not isinstance(node, dict):
        return
    class_name = node.get("class_name")
    config = node.get("config")
    if isinstance(class_name, str) and is_layer:
        name = config.get("name") if isinstance(config, dict) else None
        where = f"layer {name!r} ({class_name})" if name else f"{where} ({class_name})"
    if isinstance(class_name, str):
        reason = _class_problem(node, class_name, builtin)
        if reason:
            problems.append(f"{where}: {reason}")
    if "lambda" in (node.get("function_type"), node.get("output_shape_type")):
        problems.append(f"{where}: it stores a Python lambda as bytecode")
    for key in FILE_KEYS:
        if isinstance(node.get(key), str) and node[key]:
            problems.append(f"{where}: it names a file to read while loading ({key} {node[key]!r})")
    for key, value in node.items():
        if isinstance(value, (dict, list)):
            inner = where if key in ("config", "layers") else f"{where}, in {key!r}"
            _walk(value, inner, builtin, problems, depth + 1, is_layer=key == "layers")


def _class_problem(node: dict, class_name: str, builtin: frozenset[str]) -> str | None:
    """Why this serialised object is refused, or None when it is a built-in Keras object."""
    module, registered = node.get("module"), node.get("registered_name")
    if class_name == "__lambda__":
        return "a Python lambda stored as bytecode"
    if class_name in VALUE_MARKERS:
        return None
    if class_name == "function":
        return f"a Python function stored by name ({module}.{node.get('config')}), not a built-in Keras object"
    if module is not None and not (module == "keras" or str(module).startswith("keras.")):
        return f"a class from the Python module {module!r}, not from Keras"
    if registered not in (None, class_name):
        return f"a custom object (registered as {registered!r}), not a built-in Keras class"
    if class_name in REFUSED_LAYERS:
        return f"a {class_name} layer {REFUSED_LAYERS[class_name]}"
    if class_name in OP_LAYERS:
        function = (node.get("config") or {}).get("function") if isinstance(node.get("config"), dict) else None
        if not _plain_op(function):
            return f"it calls the TensorFlow function tf.{function}, which is not plain tensor maths"
        return None
    if class_name not in builtin:
        return "not a built-in Keras class (a custom layer or object)"
    return None


def _plain_op(function) -> bool:
    if not isinstance(function, str):
        return False
    namespace, _, rest = function.partition(".")
    return (namespace in PLAIN_OP_NAMESPACES and rest.isidentifier()) or function in PLAIN_OPS


def check_model_file(path: Path) -> dict:
    """The file's stored description, after refusing it when anything in it could run code; see the module doc."""
    path = Path(path)
    config = stored_config(path)
    problems = code_problems(config, builtin_class_names(with_tf_keras=path.suffix in H5_SUFFIXES))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConvlensError(
            f"{path} was refused: " + "; ".join(problems[:3]) + f"{more}. convlens never runs "
            f"code stored in a model file: rebuild the model from built-in Keras layers (no Lambda "
            f"or custom layers), save it again, and use that file."
        )
    too_large = size_problems(config)
    if too_large:
        raise ConvlensError(
            f"{path} was refused before building it: " + "; ".join(too_large[:3]) + ". Use a smaller model."
        )
    return config


# ---------------------------------------------------------------- what the description would allocate


def declared_parameters(config: dict) -> int:
    """The weights the layers of a description declare (Dense, convolutions, embeddings, recurrent, norms),
    from each layer's configuration and recorded input shape, before anything is built."""
    total = 0
    for layer in _layers(config, depth=0):
        total += _layer_parameters(layer)
    return total


def _layers(node, depth: int) -> Iterator[dict]:
    if depth > MAX_NESTING:
        return
    if isinstance(node, list):
        for item in node:
            yield from _layers(item, depth + 1)
    elif isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict):
            yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _layers(value, depth + 1)


def _int(value, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _input_channels(layer: dict) -> int:
    """The last (or, channels first, the second) dimension of the layer's recorded input shape; 1 when unknown."""
    config = layer["config"]
    shape = (layer.get("build_config") or {}).get("input_shape") or config.get("batch_input_shape")
    if not isinstance(shape, list) or len(shape) < 2:
        return 1
    return _int(shape[1] if config.get("data_format") == "channels_first" else shape[-1], 1)


def _layer_parameters(layer: dict) -> int:
    kind, config = layer["class_name"], layer["config"]
    kernel = config.get("kernel_size")
    window = 1
    for side in kernel if isinstance(kernel, list) else [kernel] if kernel is not None else []:
        window *= _int(side, 1)
    inputs = _input_channels(layer)
    if kind in ("Dense", "EinsumDense"):
        return inputs * _int(config.get("units")) + _int(config.get("units"))
    if kind in ("Embedding",):
        return _int(config.get("input_dim")) * _int(config.get("output_dim"))
    bias = config.get("use_bias", True) is not False
    if kind.startswith(("Conv", "Convolution")):
        return (window * inputs + bias) * _int(config.get("filters"))
    if kind.startswith("Depthwise"):
        return (window + bias) * inputs * _int(config.get("depth_multiplier"), 1)
    if kind.startswith("Separable"):
        multiplier = _int(config.get("depth_multiplier"), 1)
        filters = _int(config.get("filters"))
        return window * inputs * multiplier + (inputs * multiplier + bias) * filters
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        units = _int(config.get("units"))
        return {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind] * units * (inputs + units + 1)
    if kind in ("BatchNormalization", "LayerNormalization"):
        return 4 * inputs
    return 0


def size_problems(config: dict) -> list[str]:
    """Why building this description would allocate more than convlens allows (empty when it would not)."""
    problems = []
    for layer in _layers(config, depth=0):
        for key in WIDTH_KEYS:
            width = layer["config"].get(key)
            if isinstance(width, int) and width > MAX_LAYER_WIDTH:
                name = layer["config"].get("name")
                problems.append(
                    f"layer {name!r} ({layer['class_name']}) declares {key} {width:,} (at most {MAX_LAYER_WIDTH:,})"
                )
    parameters = declared_parameters(config)
    if parameters > MAX_PARAMETERS:
        problems.append(
            f"the model declares {parameters:,} weights ({parameters * 4 / 2**30:.1f} GiB as float32); "
            f"convlens builds models up to {MAX_PARAMETERS:,}"
        )
    return problems


# ---------------------------------------------------------------- loading


def load_keras_model(path: Path, compile: bool = False) -> keras.Model:
    """A checked model file (.keras, or legacy .h5) loaded with Keras 3 in safe mode."""
    import keras

    path = Path(path)
    check_model_file(path)
    return _loaded(path, lambda: keras.saving.load_model(path, compile=compile, safe_mode=True))


def load_tf_keras_model(path: Path) -> tf_keras.Model:
    """A checked legacy Keras 2 file loaded with tf_keras, in its safe-mode scope (which its .h5 loader
    does not set by itself)."""
    import tf_keras

    path = Path(path)
    check_model_file(path)
    try:
        from tf_keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # a tf_keras without it: the check above is the only line
        SafeModeScope = lambda _: nullcontext()  # noqa: E731
    with SafeModeScope(True):
        return _loaded(path, lambda: tf_keras.models.load_model(path, compile=False, safe_mode=True))


def load_user_model(path: Path) -> keras.Model | tf_keras.Model:
    """A user's model: a Keras 3 `.keras` file, or a legacy Keras 2 `.h5` file loaded with tf_keras."""
    path = Path(path)
    if path.suffix in KERAS_SUFFIXES:
        return load_keras_model(path)
    if path.suffix in H5_SUFFIXES:
        return load_tf_keras_model(path)
    raise ConvlensError(f"{path} is not a Keras model file: expected a .keras (Keras 3) or .h5 (Keras 2) file.")


def _loaded(path: Path, load: Callable[[], T]) -> T:
    try:
        return load()
    except Exception as error:  # Keras raises many types; the user needs one plain sentence
        raise _unloadable(path, f"{type(error).__name__}: {error}") from None
