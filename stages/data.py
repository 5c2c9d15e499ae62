"""Stage data: the lecture's seeded training and validation sets -> data/dataset.npz."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg.runtime import machine

machine.setup()  # before JAX starts: the CPU target every machine compiles for, the compilation cache

from nnreg.core.data import make_dataset  # noqa: E402
from nnreg.params.load import load_params  # noqa: E402
from nnreg.runtime.files import write_dataset  # noqa: E402
from nnreg.runtime.paths import DATASET, PARAMS  # noqa: E402
from nnreg.runtime.progress import log  # noqa: E402
from nnreg.runtime.stage import run_stage  # noqa: E402


def main(argv):
    p = load_params(PARAMS).data
    dataset = make_dataset(p)
    write_dataset(DATASET, dataset)
    log(f"data: {p.n_points} training and {p.n_points} validation points (seed {p.seed}) -> {DATASET}")


if __name__ == "__main__":
    run_stage(main)
