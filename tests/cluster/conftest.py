"""Ray for the `serve` tests: only inside a network namespace where loopback is the one interface up.

Ray rewrites 127.0.0.1 to the machine's external address, so outside such a namespace its traffic would
leave the machine: these tests skip there (`make test-serve` runs them inside one).
"""

from __future__ import annotations

import os
import socket

import pytest


def loopback_only() -> bool:
    """Whether loopback is this network namespace's only interface (a fresh `unshare -n` with lo up)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def ray_allowed() -> None:
    pytest.importorskip("ray", reason="the serve extra is not installed: make test-serve installs it")
    if not loopback_only():
        pytest.skip("Ray here only in a loopback-only network namespace: run `make test-serve`")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
