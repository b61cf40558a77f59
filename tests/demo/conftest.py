"""Fixtures the demo's tests share: MNIST's test digits and a hand-made export (no TensorFlow needed)."""

from pathlib import Path

import demo_support as support
import pytest

from demo import classify
from toolkit.data.datasets import load_mnist


@pytest.fixture(scope="session")
def mnist_test(real_home):
    return load_mnist()[1]


@pytest.fixture(scope="session")
def fake_export(tmp_path_factory, mnist_test) -> Path:
    """The hand-made export of demo_support: red means dog, blue cat, green an elephant; mean-digit digits."""
    return support.build_fake_export(tmp_path_factory.mktemp("export"), mnist_test)


@pytest.fixture(scope="module")
def models(fake_export):
    return classify.load_models(fake_export)
