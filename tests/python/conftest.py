"""pytest configuration of the Python tests (run by tests/python/run_pytest.py)."""

import os
import sys

import pytest

# A standalone script with its own command line, run by its own ctest entry.
collect_ignore = ["test_export_safetensors.py", "run_pytest.py"]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def store(tmp_path):
    """A store directory that does not exist yet."""
    return str(tmp_path / "store")


@pytest.fixture(scope="session")
def example_path():
    return os.path.join(REPO, "examples", "pytorch_train.py")


@pytest.fixture
def python():
    return sys.executable


@pytest.fixture(scope="session")
def bin_dir():
    """Where the build puts ckptd and the ckpt tool: $CKPT_BIN_DIR (set by the
    python.pytest ctest entry), else build/bin of this checkout."""
    return os.environ.get("CKPT_BIN_DIR") or os.path.join(REPO, "build", "bin")
