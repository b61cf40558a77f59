"""Every artefact name convlens shares between modules, spelled once: files, folders, JSON keys, labels.

Train writes these, export reads them, the demo serves them; a name changed here changes everywhere.
"""

# ---- experiments and the run folders they write under runs/
CATSDOGS = "catsdogs"
LETTERS = "letters"
DIGITS = "digits"
IMAGENET = "imagenet"  # the exported 1000-class ImageNet MobileNet the cats-vs-dogs model was built on
SWEEP = "sweep"
ZERO_SHOT = "zero_shot"  # the ImageNet zero-shot reference (`convlens eval zero-shot`)
BENCH = "bench"
# `convlens train letters` trains the letters CNN the digits experiment transfers from, so both
# write into the digits run folder: there is no runs/letters/.
RUN_FOLDER = {CATSDOGS: CATSDOGS, LETTERS: DIGITS, DIGITS: DIGITS, SWEEP: SWEEP, BENCH: BENCH, ZERO_SHOT: ZERO_SHOT}
TRAINING_RUN_FOLDERS = (CATSDOGS, DIGITS, SWEEP)  # the folders holding training curves (*.png)

# ---- files of a run folder
TRANSFER_MODEL = "transfer.keras"  # catsdogs: the exported model; digits: frozen letter features + new head
SCRATCH_MODEL = "scratch.keras"
FULL_MODEL = "full.keras"  # digits: the CNN trained on all of MNIST (the exported model)
LETTERS_MODEL = "letters.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
LOGS_FOLDER = "logs"  # <run>/logs/<phase>/: Keras' CSV log and TensorBoard events
TRAINING_LOG_CSV = "training.csv"
RESULTS_FILE = "results.json"  # sweep and bench results
RESULTS_MARKDOWN = "results.md"  # the same as tables, beside it
SWEEP_PLOT = "sweep.png"  # the sweep's accuracies and paired intervals

# ---- JSON keys shared between training (config.json, metrics.json) and export
TEST_ACCURACY = "test_accuracy"
VAL_ACCURACY = "val_accuracy"
INPUT_SIZE = "input_size"
PREPROCESSING = "preprocessing"

# ---- the asset cache ($CONVLENS_HOME): converted files
MNIST_FILE = "mnist.npz"
CATS_DOGS_FILE = "cats_dogs_32x32.npz"
MOBILENET_TOP_FILE = "mobilenet_v1_1.0_imagenet.weights.h5"
MOBILENET_NOTOP_FILE = "mobilenet_v1_1.0_imagenet_notop.weights.h5"

# ---- the export folder (exported/)
MANIFEST_NAME = "manifest.json"
ONNX_FILE = "model.onnx"  # in each model's folder of an export
ONNX_INT8_FILE = "model.int8.onnx"
SAVED_MODEL_FOLDER = "saved_model"
GALLERY_FOLDER = "gallery"  # exported/gallery/: what `convlens visualize` renders
GALLERY_INDEX = "index.json"  # exported/gallery/index.json: what the gallery holds
FAIR_ROBUSTNESS = "fair_robustness"  # its key for `convlens visualize robustness`: both methods, unseen transforms
GALLERY_RENDER_LOG = "gallery_render.log"  # runs/gallery_render.log: the demo's background gallery render
EXAMPLES_FOLDER = "examples"  # exported/examples/: example photos the demo offers
IMAGENET_CLASSES_FILE = "imagenet_classes.json"  # exported/ and the asset cache: class index -> name
EXPORTED_MODELS = (CATSDOGS, DIGITS, IMAGENET)  # the project's exported models, by name
MODEL_CARD_FILE = "README.md"  # exported/<model>/README.md: the model card beside the model files

# ---- labels
CATS_DOGS_LABELS = ("cat", "dog")  # label 0 = cat, 1 = dog (the sigmoid says "dog")
DIGIT_LABELS = tuple(str(d) for d in range(10))

# ---- the photo verdict (toolkit.serving.verdict): ImageNet class indices, and the three answers
IMAGENET_DOMESTIC_CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
IMAGENET_WILD_CAT_CLASSES = range(286, 294)  # cougar .. cheetah: cats, but nobody's pet
IMAGENET_DOG_CLASSES = range(151, 269)  # Chihuahua .. Mexican hairless: every dog breed
IMAGENET_ANIMAL_CLASSES = range(0, 398)  # tench .. puffer: every animal ImageNet knows, cats and dogs among them
PHOTO_VERDICTS = ("cat", "dog", "neither")
PHOTO_DECISION = "photo_decision"  # manifest key: the verdict's rule, chosen on dev data
PHOTO_EVALUATION = "photo_evaluation"  # manifest key: the real-photo figures (`convlens eval photos`)

# ---- the real-photo evaluation set (`convlens assets --only photos`)
PHOTOS = "photos"  # the optional asset group, and its folder in the asset cache
PHOTOS_RECORD = "photos.json"  # in that folder: each photo's file, sha256 and how it was made
PHOTO_LABELS = ("cat", "dog", "other")
PHOTO_SPLITS = ("dev", "test")  # dev for choices (thresholds), test for the figures
IMAGENET_CAT_CLASSES = range(281, 294)  # domestic and wild cats: 281 tabby .. 293 cheetah

# ---- the ONNX files' output, named by task (the input is always `image`)
ONNX_INPUT_NAME = "image"
ONNX_OUTPUT_NAMES = {"binary": "probability", "multiclass": "probabilities"}
