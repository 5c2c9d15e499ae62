"""Set-up: the lock file pins every installed package, and `make install` is idempotent."""

import os
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


def test_make_help_lists_every_target():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # `make test` runs us
    out = subprocess.run(["make", "--no-print-directory", "-s", "help"], cwd=REPO, capture_output=True, text=True,
                         check=True, env=env).stdout
    targets = re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), flags=re.M)
    listed = re.findall(r"^  make (\S+)", out, flags=re.M)
    assert listed == targets and len(targets) >= 10, out


def _other_python():
    """A Python the Makefile does not support, if this machine has one (3.10 or older)."""
    import glob

    for candidate in sorted(glob.glob("/root/.pyenv/versions/3.[0-9].*/bin/python3")
                            + glob.glob("/root/.pyenv/versions/3.10.*/bin/python3")
                            + [shutil.which(f"python3.{m}") or "" for m in range(6, 11)]):
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.parametrize("python", ["unsupported", "missing"])
def test_make_stops_in_one_line_on_a_python_it_does_not_support(tmp_path, python):
    for name in ("Makefile", "requirements.lock", "pyproject.toml", "tools/check_python.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tmp_path / name)
    exe = _other_python() if python == "unsupported" else str(tmp_path / "no-such-python")
    if exe is None:
        pytest.skip("no Python older than 3.11 on this machine")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # `make test` runs us
    proc = subprocess.run(["make", "--no-print-directory", "repro", f"PYTHON={exe}"], cwd=tmp_path, capture_output=True,
                          text=True, env=env)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, lines
    assert ("nnreg supports Python 3.11, 3.12, 3.13" if python == "unsupported" else "does not run") in lines[0]
    assert not (tmp_path / ".venv").exists()
