"""Set-up: the lock file pins every installed package, and `make install` is idempotent."""

import re
import shutil
import subprocess
from importlib import metadata

import pytest

from tests.conftest import REPO


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text()
    return {_norm(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", text, re.M)}


def test_every_installed_package_is_pinned_at_its_installed_version():
    pins = _pins()
    assert {"jax", "jaxlib", "optax", "keras", "dvc", "numpy", "pandas", "matplotlib", "pytest"} <= set(pins)
    unpinned, wrong = [], []
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        # `make cuda` adds JAX's CUDA plugin and NVIDIA's libraries on top of the lock.
        if name in ("nnreg", "pip") or name.startswith(("nvidia-", "jax-cuda")):
            continue
        if name not in pins:
            unpinned.append(name)
        elif pins[name] != dist.version:
            wrong.append(f"{name} {dist.version} (lock: {pins[name]})")
    assert not unpinned and not wrong, f"not in requirements.lock: {unpinned}; other versions: {wrong}"


def test_every_pin_has_hashes():
    text = (REPO / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 1)[1])
    for block in blocks:
        if "==" in block.split("\n", 1)[0]:
            assert "--hash=sha256:" in block, block.split("\n", 1)[0]


@pytest.mark.skipif(shutil.which("make") is None or not (REPO / ".venv/.installed").exists(),
                    reason="needs the .venv made by `make install`")
def test_make_install_is_up_to_date_after_make_test():
    """`make test` installed the venv; a second `make install` has nothing to do."""
    proc = subprocess.run(["make", "-q", "install"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, "make would reinstall: " + proc.stdout + proc.stderr
