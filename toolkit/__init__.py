"""convlens toolkit: assets, data, models, training, export and gradient ascent.

Importing this package is cheap: nothing here imports TensorFlow at module level, so the
demo can use `toolkit.core.paths` and `toolkit.core.errors` without paying for it.

"The practical", in comments and docstrings, is the original transfer-learning exercise convlens
reproduces: MobileNet on cats vs dogs, and a letters CNN reused for digits.
"""

import os

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter hides our own progress lines; a user can still raise it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
