"""Files in and out: atomic, deterministic writes and checked reads.

Every write goes to a temporary file in the same folder and is renamed into
place, so a reader never sees half a file. `.npz` files are written with fixed
zip timestamps so that the same arrays give the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from nnreg.core.data import Dataset
from nnreg.core.network import LayerParams
from nnreg.errors import NnregError

DATASET_KEYS = Dataset._fields


class DataFileError(NnregError):
    """A missing, unreadable or malformed data or model file; the message names it."""


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())}"


# What reading a bad file raises: the OS (missing, unreadable), a decoder (UnicodeDecodeError,
# json's JSONDecodeError and pandas' ParserError and EmptyDataError are ValueErrors), a zip
# reader (BadZipFile, EOFError). Anything else (MemoryError, a bug) is not the file's fault
# and propagates as it is.
_BAD_FILE = (OSError, ValueError, zipfile.BadZipFile, EOFError)


@contextlib.contextmanager
def _reading(path: Path, kind: str):
    """Turns a failure to read `path` as a `kind` file into a one-line DataFileError naming it."""
    try:
        yield
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found (run the stage that writes it: dvc repro)") from None
    except _BAD_FILE as e:
        raise DataFileError(f"{path}: not a valid {kind} file ({_one_line(e)})") from None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, then renames it into place. A failed
    write (disk full, no permission, a file where a folder should be) leaves no temporary
    file and raises a one-line DataFileError naming `path`."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise DataFileError(f"{path}: cannot write ({e.strerror or _one_line(e)})") from None
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=True) + "\n")


def read_json(path: str | Path) -> dict:
    """A JSON object (`nnreg.runtime.schemas.read` checks one against its schema)."""
    path = Path(path)
    with _reading(path, "JSON"):
        obj = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(obj, dict):
        raise DataFileError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes of an .npz holding `arrays`, the same for the same arrays (no timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arrays[name]), allow_pickle=False)
    return buf.getvalue()


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    atomic_write_bytes(path, npz_bytes(arrays))


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz; any failure is a DataFileError naming the file."""
    path = Path(path)
    with _reading(path, ".npz"), np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def write_dataset(path: str | Path, dataset: Dataset) -> None:
    write_npz(path, {k: np.asarray(v, dtype=np.float32) for k, v in dataset._asdict().items()})


def read_dataset(path: str | Path) -> Dataset:
    """Loads and checks a dataset: four float32 (n, 1) arrays of finite values."""
    arrays = read_npz(path)
    missing = [k for k in DATASET_KEYS if k not in arrays]
    if missing:
        raise DataFileError(f"{path}: missing arrays {', '.join(missing)}")
    for k in DATASET_KEYS:
        a = arrays[k]
        if a.ndim != 2 or a.shape[1] != 1 or a.shape[0] < 2:
            raise DataFileError(f"{path}: array {k} has shape {a.shape}, expected (n, 1) with n >= 2")
        if a.dtype != np.float32:
            raise DataFileError(f"{path}: array {k} has dtype {a.dtype}, expected float32")
        if not np.all(np.isfinite(a)):
            raise DataFileError(f"{path}: array {k} holds non-finite values")
    for x, y in (("x_train", "y_train"), ("x_validate", "y_validate")):
        if arrays[x].shape != arrays[y].shape:
            raise DataFileError(f"{path}: {x} {arrays[x].shape} and {y} {arrays[y].shape} differ in shape")
    return Dataset(*(arrays[k] for k in DATASET_KEYS))


def write_network(path: str | Path, params) -> None:
    """Saves a (W, b) layer list as W0, b0, W1, b1, ... in an .npz."""
    arrays = {}
    for i, layer in enumerate(params):
        arrays[f"W{i}"] = np.asarray(layer.W, dtype=np.float32)
        arrays[f"b{i}"] = np.asarray(layer.b, dtype=np.float32)
    write_npz(path, arrays)


def read_network(path: str | Path):
    """Loads and checks a network saved by `write_network`: chained (in, out), (1, out) layers of size 1 -> 1."""
    arrays = read_npz(path)
    n = len(arrays) // 2
    expected = {f"{p}{i}" for i in range(n) for p in "Wb"}
    if n == 0 or set(arrays) != expected:
        raise DataFileError(f"{path}: expected arrays W0, b0, W1, b1, ... (got {', '.join(sorted(arrays))})")
    params, width = [], 1
    for i in range(n):
        W, b = arrays[f"W{i}"], arrays[f"b{i}"]
        if W.ndim != 2 or W.shape[0] != width or b.shape != (1, W.shape[1]):
            raise DataFileError(f"{path}: layer {i} has shapes W {W.shape}, b {b.shape}; expected ({width}, k), (1, k)")
        if W.dtype != np.float32 or b.dtype != np.float32:
            raise DataFileError(f"{path}: layer {i} is not float32")
        params.append(LayerParams(W, b))
        width = W.shape[1]
    if width != 1:
        raise DataFileError(f"{path}: the last layer has {width} outputs, expected 1")
    return params


def csv_text(columns: Mapping[str, np.ndarray]) -> str:
    """Columns of equal length as CSV text with a header, by pandas' `to_csv`: floats as '%.9g'
    (which round-trips float32 exactly), NaN as nan, infinities as inf and -inf, ints, booleans
    and strings as they are, quoted where needed."""
    import pandas as pd

    arrays = {k: np.asarray(v).reshape(-1) for k, v in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    return pd.DataFrame(arrays).to_csv(index=False, float_format="%.9g", na_rep="nan", lineterminator="\n")


def write_csv(path: str | Path, columns: Mapping[str, np.ndarray]) -> None:
    """A CSV with a header (`csv_text`), written atomically."""
    atomic_write_text(path, csv_text(columns))


def write_rows(path: str | Path, rows: list[dict], columns: list[str]) -> None:
    """Rows of dicts as a CSV of `columns`; None (a statistic that does not exist) is written as nan."""
    write_csv(path, {k: np.array([np.nan if r[k] is None else r[k] for r in rows],
                                 dtype=object if any(isinstance(r[k], str) for r in rows) else float)
                     for k in columns})


def read_csv(path: str | Path, columns: list[str]) -> dict[str, np.ndarray]:
    """A CSV written by `write_csv` with exactly `columns`, all numeric, as float64 arrays."""
    import pandas as pd

    path = Path(path)
    with _reading(path, "CSV"):
        df = pd.read_csv(path)
    if list(df.columns) != columns or len(df) == 0:
        raise DataFileError(f"{path}: expected columns {','.join(columns)} and at least one row")
    try:
        return {k: df[k].to_numpy(dtype=np.float64) for k in columns}
    except (ValueError, TypeError):
        raise DataFileError(f"{path}: holds values that are not numbers") from None


def write_history(path: str | Path, history) -> None:
    """Per-epoch losses as epoch,train_loss,validate_loss (epochs counted from 1)."""
    n = len(history.train_loss)
    write_csv(path, {"epoch": np.arange(1, n + 1), "train_loss": history.train_loss,
                     "validate_loss": history.validate_loss})


SEED_COLUMNS = ["replicate", "validate_mse", "true_mse", "diverged"]
SWEEP_COLUMNS = ["learning_rate", "validate_mse_mean", "ci_low", "ci_high", "diverged_fraction"]


def read_seeds(path: str | Path, n_replicates: int) -> dict[str, np.ndarray]:
    """A seeds@ CSV: replicates 0..n-1 in order (so models pair up), diverged as booleans, MSEs
    as the float32 values that were written."""
    out = read_csv(path, SEED_COLUMNS)
    if not np.array_equal(out["replicate"], np.arange(n_replicates)):
        raise DataFileError(f"{path}: expected replicates 0 to {n_replicates - 1} in order "
                            f"(got {len(out['replicate'])} rows; rerun: dvc repro)")
    if not np.all(np.isin(out["diverged"], (0, 1))):
        raise DataFileError(f"{path}: column diverged must hold 0 or 1")
    out["diverged"] = out["diverged"].astype(bool)
    for k in ("validate_mse", "true_mse"):  # the float32 values the stage wrote, exactly (not their decimals)
        out[k] = out[k].astype(np.float32).astype(np.float64)
    return out


def read_sweep(path: str | Path) -> list[dict]:
    """A sweep@ CSV as rows, with None where a value is missing (every replicate diverged)."""
    cols = read_csv(path, SWEEP_COLUMNS)
    return [{k: (float(cols[k][i]) if np.isfinite(cols[k][i]) else None) for k in SWEEP_COLUMNS}
            for i in range(len(cols["learning_rate"]))]


def read_history(path: str | Path) -> dict[str, np.ndarray]:
    """A history CSV as float arrays: epoch, train_loss, validate_loss."""
    return read_csv(path, ["epoch", "train_loss", "validate_loss"])
