"""Files: atomic, deterministic writes; checked reads that name the file in one line."""

import os
import time

import jax
import numpy as np
import pytest

from nnreg.runtime.files import (DataFileError, npz_bytes, read_dataset, read_network, write_dataset, write_json,
                      write_network)
from nnreg.core.network import init_network

_real_localtime = time.localtime


def test_npz_bytes_are_deterministic_and_readable(tmp_path, tiny_dataset, monkeypatch):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    write_dataset(a, tiny_dataset)
    # Another day (np.savez would stamp each entry with it): the same bytes.
    monkeypatch.setattr(time, "time", lambda: 1e9)
    monkeypatch.setattr(time, "localtime", lambda *t: _real_localtime(1e9))
    write_dataset(b, tiny_dataset)
    assert a.read_bytes() == b.read_bytes()
    loaded = read_dataset(a)
    for u, v in zip(loaded, tiny_dataset, strict=True):
        np.testing.assert_array_equal(u, np.asarray(v))
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz"]  # no temporary files left


def test_network_round_trip(tmp_path):
    params = init_network(jax.random.PRNGKey(0), (1, 5, 1))
    write_network(tmp_path / "m.npz", params)
    for u, v in zip(jax.tree.leaves(read_network(tmp_path / "m.npz")), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(u, np.asarray(v))


def test_missing_and_corrupt_files_name_the_file(tmp_path, tiny_dataset):
    missing = tmp_path / "missing.npz"
    with pytest.raises(DataFileError, match="missing.npz: file not found"):
        read_dataset(missing)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00garbage bytes, not a zip file" * 10)
    with pytest.raises(DataFileError, match="garbage.npz: not a valid .npz"):
        read_dataset(garbage)
    good = tmp_path / "good.npz"
    write_dataset(good, tiny_dataset)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(DataFileError, match="truncated.npz"):
        read_dataset(truncated)


def test_wrong_shapes_are_refused(tmp_path, tiny_dataset):
    path = tmp_path / "d.npz"
    arrays = {k: np.asarray(v) for k, v in tiny_dataset._asdict().items()}
    arrays["x_train"] = arrays["x_train"].reshape(-1)
    path.write_bytes(npz_bytes(arrays))
    with pytest.raises(DataFileError, match=r"d.npz: array x_train has shape \(20,\)"):
        read_dataset(path)
    arrays["x_train"] = np.hstack([arrays["x_train"].reshape(-1, 1)] * 2)  # two features
    path.write_bytes(npz_bytes(arrays))
    with pytest.raises(DataFileError, match=r"d.npz: array x_train has shape \(20, 2\), expected \(n, 1\)"):
        read_dataset(path)
    arrays = {k: np.asarray(v) for k, v in tiny_dataset._asdict().items()}
    del arrays["y_validate"]
    path.write_bytes(npz_bytes(arrays))
    with pytest.raises(DataFileError, match="missing arrays y_validate"):
        read_dataset(path)
    with pytest.raises(DataFileError, match="expected arrays W0, b0"):
        read_network(tmp_path / "d.npz")


def test_json_write_is_atomic(tmp_path):
    write_json(tmp_path / "sub" / "m.json", {"a": 1})
    assert (tmp_path / "sub" / "m.json").read_text() == '{\n  "a": 1\n}\n'
    assert os.listdir(tmp_path / "sub") == ["m.json"]


def test_a_write_killed_before_the_rename_leaves_the_old_file(tmp_path):
    """SIGKILL in the middle of an atomic write: the path holds the old bytes, never half the new."""
    import signal
    import subprocess
    import sys

    target = tmp_path / "model.npz"
    target.write_bytes(b"old")
    child = (
        "import os, signal, sys\n"
        "from nnreg.runtime import files as io\n"
        "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die after writing the temp file\n"
        "io.atomic_write_bytes(sys.argv[1], b'new' * 100000)\n"
    )
    proc = subprocess.run([sys.executable, "-c", child, str(target)], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.npz"]
    assert all(name.startswith(".model.npz.") and name.endswith(".tmp") for name in leftovers)


def test_a_failed_write_leaves_no_trace_and_names_the_file(tmp_path, monkeypatch):
    import errno

    import nnreg.runtime.files as io

    def broken_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(io.os, "fsync", broken_fsync)
        with pytest.raises(DataFileError) as err:
            io.atomic_write_bytes(tmp_path / "m.json", b"{}")
    assert str(err.value) == f"{tmp_path / 'm.json'}: cannot write (No space left on device)"
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "metrics").write_text("a file where the folder should be")
    with pytest.raises(DataFileError, match=r"metrics/gd.json: cannot write \(File exists\)"):
        io.write_json(tmp_path / "metrics/gd.json", {})


def test_only_what_a_bad_file_raises_becomes_a_file_error(tmp_path, monkeypatch):
    """A bug or a MemoryError while reading is not the file's fault: it propagates as it is."""
    import nnreg.runtime.files as io

    path = tmp_path / "m.json"
    path.write_text("{}")
    for error in (MemoryError(), AssertionError("a bug")):
        def broken(*args, error=error, **kwargs):
            raise error

        with monkeypatch.context() as m:
            m.setattr(io.json, "loads", broken)
            with pytest.raises(type(error)):
                io.read_json(path)


def test_corrupt_csv_and_json_name_the_file_in_one_line(tmp_path):
    from nnreg.runtime.files import read_csv, read_history, read_json

    bad = tmp_path / "h.csv"
    bad.write_text('epoch,train_loss,validate_loss\n1,"unclosed\n2,0.1,0.2,9,9\n')
    for call in (lambda: read_history(bad), lambda: read_csv(bad, ["x", "y", "prediction"])):
        with pytest.raises(DataFileError) as err:
            call()
        assert "h.csv" in str(err.value) and "\n" not in str(err.value)
    bad.write_text("epoch,train_loss,validate_loss\n1,abc,0.2\n")
    with pytest.raises(DataFileError, match="not numbers"):
        read_history(bad)
    j = tmp_path / "m.json"
    j.write_text("[1, 2]")
    with pytest.raises(DataFileError, match="m.json: expected a JSON object"):
        read_json(j)
    j.write_text("{not json")
    with pytest.raises(DataFileError, match="m.json: not a valid JSON file"):
        read_json(j)


def test_the_pipeline_s_json_files_are_read_against_their_schema(tmp_path):
    """A metrics file of the wrong shape fails in one line naming the file and the field,
    not with a traceback in the report's formatting (or as "n/a" without a word)."""
    import json

    from nnreg.runtime import schemas
    from tests.conftest import REPO

    good = json.loads((REPO / "metrics/gd.json").read_text())
    path = tmp_path / "gd.json"
    for obj, message in [({**good, "train_mse": "0.04"}, 'train_mse: must be a number (got "0.04")'),
                         ({}, "n_parameters: missing field"), ({**good, "diverged": "no"}, "diverged: must be true or false"),
                         ({**good, "extra": 1}, "extra: unknown field (got 1)")]:
        path.write_text(json.dumps(obj))
        with pytest.raises(DataFileError) as err:
            schemas.read(path, schemas.MetricsFile)
        assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}"), err.value
    path.write_text(json.dumps({"gd": {**json.loads((REPO / "metrics/compare.json").read_text())["gd"],
                                       "verdict": "maybe"}}))
    with pytest.raises(DataFileError, match=r"c?gd.verdict: "):
        schemas.read(path, schemas.CompareFile)
    # Every committed file the report reads passes its schema (the batches' timing files it does not read).
    by_path = {"metrics/compare.json": schemas.CompareFile, "metrics/sweep.json": schemas.SweepFile,
               "metrics/search.json": schemas.SearchFile}
    for f in sorted((REPO / "metrics").rglob("*.json")):
        rel = str(f.relative_to(REPO))
        if rel.startswith(("metrics/timing/seeds/", "metrics/timing/sweep/", "metrics/timing/search")):
            continue
        schema = by_path.get(rel) or (schemas.TimingFile if "/timing/" in rel else schemas.SeedsFile if "/seeds/" in rel
                                      else schemas.MetricsFile)
        schemas.read(f, schema)


def test_csv_text_round_trips_float32_and_names_what_is_not_a_number():
    """The CSVs' bytes: a header, floats that read back as the same float32, NaN and infinities as
    words, strings quoted where a comma needs it, a missing string as nan."""
    from nnreg.runtime.files import csv_text

    columns = {"epoch": np.arange(1, 5), "loss": np.array([0.1, np.nan, np.inf, -np.inf], dtype=np.float32),
               "model": np.array(["gd", "a,b", None, "x"], dtype=object), "flag": np.array([True, False, True, False])}
    assert csv_text(columns) == 'epoch,loss,model,flag\n1,0.100000001,gd,True\n2,nan,"a,b",False\n3,inf,nan,True\n' \
                                '4,-inf,x,False\n'
    x = np.random.default_rng(0).normal(size=2000).astype(np.float32) * np.float32(10.0) ** np.arange(-20, 20, 0.02,
                                                                                                    dtype=np.float32)
    back = np.array(csv_text({"x": x}).split()[1:], dtype=np.float64).astype(np.float32)
    assert np.array_equal(back, x)
    with pytest.raises(ValueError, match="different lengths"):
        csv_text({"a": np.zeros(2), "b": np.zeros(3)})
